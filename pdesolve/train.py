"""The training loop: sampling, solver steps, validation logging, progress bar, stopping rules,
divergence guard, checkpoints and resume."""

import dataclasses
import math
import time
import warnings
from collections.abc import Callable

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
from jax.sharding import Mesh, NamedSharding, PartitionSpec
from jaxtyping import Array, Bool, Int, PyTree
from tqdm.auto import tqdm

from .checkpoint import RunCheckpoints
from .config import RunConfig, SolverConfig, TrainConfig
from .errors import ConfigError
from .loss import PinnLoss
from .metrics import error_metrics
from .models import Solution
from .operators import AbstractOperatorEngine
from .problem import CompiledProblem
from .sampling import PointSampler
from .solvers import AbstractSolver, SolverContext, solver_spec

HISTORY_FIELDS = ("step", "loss", "rel_l2", "mse", "wall_time", "train_time", "loss_evals", "network_evals")


@dataclasses.dataclass
class TrainResult:
    """What training produced: the trained solution, the logged history and why it stopped."""

    solution: Solution
    history: dict[str, np.ndarray]  # HISTORY_FIELDS -> (n_logs,)
    wall_time_s: float
    steps_done: int
    stop_reason: str


#: Network rows (points x stencil nodes) evaluated per prediction call: bounds its memory.
PREDICTION_ROWS = 2**18


def make_predictor(engine: AbstractOperatorEngine, static, dim: int):
    """``predict(params, x, t) -> (smoothed or raw u (n,), raw network u (n,))``, in chunks of
    points sized so that points x smoothing nodes stay within ``PREDICTION_ROWS``."""
    chunk = max(1, PREDICTION_ROWS // engine.evals_per_point(frozenset({"u"}), dim))

    @jax.jit  # not eqx.filter_jit: see make_guarded_step
    def both(params, x, t):
        u = eqx.combine(params, static)
        return engine.solution(u)(x, t), u(x, t)

    def predict(params, x, t):
        parts = [both(params, x[i:i + chunk], t[i:i + chunk]) for i in range(0, len(x), chunk)]
        return tuple(np.concatenate([np.asarray(p[k]) for p in parts]) for k in range(2))

    return predict


def point_sharding(train: TrainConfig) -> tuple[NamedSharding, NamedSharding] | None:
    """Shardings over a 1-d mesh of devices: (points split, replicated), or None for one device.

    One host: the first ``train.devices`` local devices (default all). Several hosts (after
    ``jax.distributed.initialize``): every device of every process.
    """
    if jax.process_count() > 1:
        available = jax.devices()
        if train.devices not in (None, len(available)):
            raise ConfigError("train.devices", f"with several hosts all {len(available)} devices are used; "
                              "leave train.devices unset")
    else:
        available = jax.local_devices()
    count = train.devices or len(available)
    if count < 1 or count > len(available):
        raise ConfigError("train.devices", f"{count} requested but {len(available)} local devices exist")
    if count == 1:
        return None
    for key in ("batch_size", "boundary_batch_size"):
        if getattr(train, key) % count:
            raise ConfigError(f"train.{key}", f"{getattr(train, key)} does not split over {count} devices; "
                              f"use a multiple of {count}")
    mesh = Mesh(np.array(available[:count]), ("points",))
    return NamedSharding(mesh, PartitionSpec("points")), NamedSharding(mesh, PartitionSpec())


class _BatchMaker:
    """Draws the training batches and evaluates the source and soft-condition data on them: a new
    batch every ``train.resample_every`` steps, the same one in between."""

    def __init__(self, compiled: CompiledProblem, sampler: PointSampler, soft_kinds, train: TrainConfig, dtype,
                 sharding: NamedSharding | None = None):
        self.compiled, self.sampler, self.soft_kinds = compiled, sampler, soft_kinds
        self.n, self.n_cond = train.batch_size, train.boundary_batch_size
        self.every = train.resample_every
        self.dtype = dtype
        if sharding is None:
            self.put = lambda a: jnp.asarray(a, dtype)
        else:  # every process draws the same batch and places the rows its devices hold
            self.put = lambda a: jax.make_array_from_callback(
                a.shape, sharding, lambda index: np.asarray(a[index], dtype))
        zero = lambda x, t: jnp.zeros_like(t)  # noqa: E731
        self.source = jax.jit(compiled.source or zero)
        self.conditions = {k: jax.jit(compiled.conditions[k]) for k in soft_kinds}
        self.current: dict | None = None
        self.origin: dict | None = None  # the sampler's state before ``current`` was drawn

    def __call__(self, step: int) -> dict:
        """The batch of step ``step`` (counted from 0)."""
        if self.current is None or step % self.every == 0:
            self.origin = self.sampler.state()
            self.current = self._draw()
        return self.current

    def restore(self, sampler_state: dict, origin: dict | None, step: int) -> None:
        """Returns to the stream position ``sampler_state`` reached after ``step`` steps; a batch in use
        at that point (drawn from ``origin``) is drawn again, so that the next steps reuse it."""
        self.current = None
        if self.every > 1 and step % self.every != 0 and origin is not None:
            self.sampler.restore(origin)
            self.origin, self.current = origin, self._draw()
        self.sampler.restore(sampler_state)

    def _draw(self) -> dict:
        problem = self.compiled.problem
        x, t = (self.put(a) for a in self.sampler.interior(self.n))
        batch = {"x": x, "t": t, "f": self.source(x, t), "conditions": {}}
        for kind in self.soft_kinds:
            if kind in ("boundary", "neumann", "robin"):
                xc, tc = self.sampler.boundary(self.n_cond)
            else:
                xc, tc = self.sampler.at_time(self.n_cond, problem.time[0 if kind == "initial" else 1])
            xc, tc = self.put(xc), self.put(tc)
            batch["conditions"][kind] = (xc, tc, self.conditions[kind](xc, tc))
        return batch


def all_finite(tree: PyTree) -> Bool[Array, ""]:
    """Whether every floating-point leaf of ``tree`` is finite."""
    leaves = [jnp.all(jnp.isfinite(a)) for a in jax.tree.leaves(eqx.filter(tree, eqx.is_inexact_array))]
    return jnp.all(jnp.stack(leaves)) if leaves else jnp.asarray(True)


def _select(ok: Bool[Array, ""], new: PyTree, old: PyTree) -> PyTree:
    """``new`` where ``ok``, else ``old``, over the array leaves (other leaves from ``new``)."""
    new_arrays, static = eqx.partition(new, eqx.is_array)
    old_arrays = eqx.filter(old, eqx.is_array)
    return eqx.combine(jax.tree.map(lambda a, b: jnp.where(ok, a, b), new_arrays, old_arrays), static)


def make_guarded_step(solver: AbstractSolver, loss):
    """``step(params, state, guard, batch, key) -> (params, state, guard, stats)``, jitted.

    One solver step that also checks, on the device, that the loss and the new parameters are
    finite. ``guard = (ok, n_ok)``: ``ok`` (scalar bool) turns False at the first non-finite step
    and stays False, and from then on the parameters and state no longer change; ``n_ok`` counts
    the finite steps. The host reads the guard only when it logs or checkpoints, so the check
    costs no host sync per step.

    Jitted with ``jax.jit``, whose compiled code is freed with the closure at the end of the run
    (issue 14). ``eqx.filter_jit`` of a closure never frees it: JAX's caches, weakly keyed on
    Equinox's wrapper, hold the closure (a static argument of the wrapper), and Equinox's cache,
    weakly keyed on the closure, holds the wrapper; every solve's executables stayed in memory.
    The step's arguments and results are arrays (None where a parameter is not one).
    """

    def step(params, state, guard, batch, key):
        ok, n_ok = guard
        new_params, new_state, stats = solver.step(loss, params, state, batch, key)
        ok = ok & jnp.isfinite(stats["loss"]) & all_finite(new_params)
        guard = (ok, n_ok + ok.astype(n_ok.dtype))
        return _select(ok, new_params, params), _select(ok, new_state, state), guard, stats

    return jax.jit(step)


def _has_learning_rate(solver: SolverConfig) -> bool:
    return bool(solver_spec(solver.name).learning_rates)


def rescaled_solver(solver: SolverConfig, steps: int, scale: float) -> AbstractSolver | None:
    """The solver rebuilt with its spec's ``learning_rates`` times ``scale`` (None: it has none).

    The rebuilt solver's state has the same structure, so the state of the old one carries over.
    """
    spec = solver_spec(solver.name)
    if not spec.learning_rates:
        return None
    return spec.build(spec.rescaled(solver.settings, scale), steps)


class TrainClock:
    """Seconds spent in solver steps, excluding the first step of a process (it compiles) and
    everything between steps (validation, logging, checkpoints). ``tick`` waits for the step's
    results, so the time is the device's, not the dispatch's."""

    def __init__(self, budget: float | None, seconds: float = 0.0):
        self.budget, self.seconds, self.compiled = budget, seconds, False

    def tick(self, started: float, result: PyTree) -> None:
        jax.block_until_ready(result)
        if self.compiled:
            self.seconds += time.perf_counter() - started
        self.compiled = True

    @property
    def exhausted(self) -> bool:
        return self.budget is not None and self.seconds >= self.budget


#: A blow-up that stays finite (issue 14: a learning rate of 1e30 gives rel_l2 1e28 and a finite
#: loss) is treated like a non-finite value. A logged loss is a blow-up when it is more than
#: ``BLOWUP_LOSS_FACTOR`` times the best logged loss and above the first logged loss; a validation
#: error when it is more than ``BLOWUP_ERROR_FACTOR`` times the best so far (the initial
#: network's included) and above ``BLOWUP_ERROR_FLOOR`` (the zero function's error: worse than
#: predicting nothing).
BLOWUP_LOSS_FACTOR = 1e6
BLOWUP_ERROR_FACTOR = 1e2
BLOWUP_ERROR_FLOOR = 1.0


class BlowupWatch:
    """The best logged loss and validation error so far; :meth:`check` names a blow-up."""

    def __init__(self, history: dict, initial_error: float = math.nan):
        losses = [v for v in history["loss"] if math.isfinite(v)]
        errors = [v for v in [*history["rel_l2"], initial_error] if math.isfinite(v)]
        self.first_loss = losses[0] if losses else math.inf
        self.loss, self.error = min(losses, default=math.inf), min(errors, default=math.inf)

    def check(self, loss: float, error: float) -> str | None:
        """Why ``loss`` / ``error`` (NaN: not known) is a blow-up, or None."""
        if loss > BLOWUP_LOSS_FACTOR * self.loss and loss > self.first_loss:
            return (f"the loss {loss:.3g} is over {BLOWUP_LOSS_FACTOR:g} times its best logged value "
                    f"{self.loss:.3g}")
        if error > BLOWUP_ERROR_FACTOR * self.error and error > BLOWUP_ERROR_FLOOR:
            return (f"the validation rel_l2 {error:.3g} is over {BLOWUP_ERROR_FACTOR:g} times its best value "
                    f"{self.error:.3g}")
        return None

    def update(self, loss: float, error: float) -> None:
        if math.isfinite(loss):
            self.first_loss = loss if self.first_loss == math.inf else self.first_loss
            self.loss = min(self.loss, loss)
        if math.isfinite(error):
            self.error = min(self.error, error)


def _divergence_reason(blowup: str | None, bad: int, kept: int, rollbacks: int, train: TrainConfig,
                       has_learning_rate: bool) -> str:
    """The stop reason of a diverged run, with the fix that applies (rollback only if not tried)."""
    what = f"{blowup} at step {bad}" if blowup else f"non-finite loss or parameters at step {bad}"
    if rollbacks:
        fix = (f"still diverging after {rollbacks} rollback{'s' * (rollbacks > 1)}: lower solver.learning_rate, "
               "or train.rollback_factor, or raise train.max_rollbacks")
    elif train.on_divergence == "rollback" and not has_learning_rate:
        fix = "the solver has no learning rate to lower: change its settings"
    elif train.on_divergence == "rollback":
        fix = "lower solver.learning_rate, or raise train.max_rollbacks"
    else:
        fix = "lower solver.learning_rate, or set train.on_divergence=rollback"
    return f"diverged: {what}; kept step {kept}, the last good one ({fix})"


@dataclasses.dataclass
class _Point:
    """A verified point of the loop: every step up to it had a finite loss and parameters."""

    params: PyTree
    state: PyTree
    key: Array
    done: int
    loss_evals: int
    sampler: dict
    batch_origin: dict | None  # the sampler's state before the batch in use was drawn
    rows: int  # history rows logged up to it


def _fresh_flag() -> tuple[Bool[Array, ""], Int[Array, ""]]:
    """The device flag of a verified point: every step finite so far, none counted yet."""
    return jnp.asarray(True), jnp.asarray(0, jnp.int32)


class _Guard:
    """The divergence guard on the host: the device flag ``(ok, n_ok)`` of :func:`make_guarded_step`,
    the blow-up watch, the last two verified points and the rollbacks made so far.

    ``good`` is the last verified point; ``safe`` the one before, whose parameters also gave a
    finite loss at the next step (the loss of good's parameters may be the first non-finite one).
    """

    def __init__(self, train: TrainConfig, solver: SolverConfig):
        self.train, self.solver = train, solver
        self.rollbacks, self.lr_scale = 0, 1.0
        self.flag = _fresh_flag()
        self.watch = self.good = self.safe = None

    def start(self, watch: BlowupWatch, point: _Point) -> None:
        """Starts watching from ``point``, the first verified one (initial or resumed)."""
        self.watch, self.good, self.safe = watch, point, point

    def read_flag(self) -> tuple[bool, int]:
        """(whether every step since the last read was finite, how many were); resets the flag."""
        ok, n_ok = jax.device_get(self.flag)
        self.flag = _fresh_flag()
        return bool(ok), int(n_ok)

    def verified(self, point: _Point) -> None:
        """Records ``point`` as the last verified one."""
        self.safe, self.good = self.good, point

    def fall_back(self) -> tuple[_Point, bool]:
        """After a divergence: (the point to return to, whether to retry from it). A retry (rollback,
        while allowed) goes back one point further and scales the learning rates once more."""
        retry = (self.train.on_divergence == "rollback"
                 and self.rollbacks < self.train.max_rollbacks and _has_learning_rate(self.solver))
        if retry:
            self.good = self.safe
            self.rollbacks, self.lr_scale = self.rollbacks + 1, self.lr_scale * self.train.rollback_factor
        return self.good, retry

    def reason(self, blowup: str | None, bad: int) -> str:
        """The stop reason of a run that diverged at step ``bad`` and stopped at ``good``."""
        return _divergence_reason(blowup, bad, self.good.done, self.rollbacks, self.train,
                                  _has_learning_rate(self.solver))

    def summary(self) -> str:
        """What the rollbacks did, for the stop reason ('' when there were none)."""
        if not self.rollbacks:
            return ""
        return f" ({self.rollbacks} rollback{'s' * (self.rollbacks > 1)}: learning rate x{self.lr_scale:g})"


class _History:
    """The logged rows: one list per column, ``HISTORY_FIELDS`` then solver-specific stats."""

    def __init__(self, columns: dict[str, list] | None = None):
        columns = columns if columns is not None else {name: [] for name in HISTORY_FIELDS}
        self.columns = {name: list(values) for name, values in columns.items()}

    def __len__(self) -> int:
        return len(self.columns["step"])

    def append(self, row: dict[str, float], stats: dict) -> None:
        """Appends ``row`` (HISTORY_FIELDS -> value) and the solver's extra ``stats`` (e.g. the hybrid stage)."""
        for name, value in row.items():
            self.columns[name].append(value)
        for name in stats.keys() - {"loss", "loss_evals"}:
            self.columns.setdefault(name, []).append(float(stats[name]))

    def truncate(self, rows: int) -> None:
        """Keeps the first ``rows`` rows."""
        self.columns = {name: values[:rows] for name, values in self.columns.items()}

    def arrays(self) -> dict[str, np.ndarray]:
        """Column name -> (n_logs,) array."""
        return {name: np.asarray(values) for name, values in self.columns.items()}


#: Validation metrics when they are not computed (no log here, or no exact solution).
_UNKNOWN = {"rel_l2": math.nan, "mse": math.nan}


class _Validation:
    """A fixed uniform validation set (``train.validation_points``) and its exact values, if known."""

    def __init__(self, compiled: CompiledProblem, predict, points: int, dtype):
        problem = compiled.problem
        sampler = PointSampler(problem.domain, problem.time, "uniform", seed=problem.evaluation["seed"] + 1)
        self.x, self.t = (np.asarray(a, dtype) for a in sampler.interior(points))  # (n, d), (n,)
        self.u = None if compiled.exact is None else np.asarray(compiled.exact(jnp.asarray(self.x),
                                                                                jnp.asarray(self.t)))
        self.predict = predict

    @property
    def known(self) -> bool:
        """Whether the exact solution is known (else the metrics are NaN)."""
        return self.u is not None

    def metrics(self, params: PyTree) -> dict[str, float]:
        """``rel_l2`` and ``mse`` of the network ``params`` on the validation set (NaN if unknown)."""
        return _UNKNOWN if self.u is None else error_metrics(self.predict(params, self.x, self.t)[0], self.u)


class _Progress:
    """The progress bar: steps done, and the loss and validation error of the last log."""

    def __init__(self, total: int, initial: int, enabled: bool, name: str):
        self.bar = tqdm(total=total, initial=initial, disable=not enabled, desc=name, unit="step", leave=False)

    def advance(self) -> None:
        """One step more."""
        self.bar.update(1)

    def rewind(self, done: int) -> None:
        """Back to step ``done`` (a divergence)."""
        self.bar.n = done
        self.bar.refresh()

    def show(self, loss: float, rel_l2: float) -> None:
        """The values of the last log."""
        self.bar.set_postfix(loss=f"{loss:.3e}", rel_l2=f"{rel_l2:.3e}")

    def close(self) -> None:
        self.bar.close()


def _network_evals_per_loss(compiled: CompiledProblem, engine: AbstractOperatorEngine, soft_kinds,
                            train: TrainConfig) -> int:
    """Network evaluations of one loss evaluation: the batch's stencils, and the soft conditions' points."""
    dim = compiled.problem.dimension
    evals = train.batch_size * engine.evals_per_point(compiled.needs, dim)
    if soft_kinds:
        evals += len(soft_kinds) * train.boundary_batch_size * engine.evals_per_point(frozenset({"u"}), dim)
    return evals


def _stop_reason(target: float | None, rel_l2: float, clock: TrainClock) -> str | None:
    """Why training stops at a verified point (the target error, the time budget), or None."""
    if target is not None and rel_l2 <= target:
        return f"target rel_l2 {target:g} reached"
    if clock.exhausted:
        return f"time budget {clock.budget:g} s reached"
    return None


class _TrainLoop:
    """One training run: guarded solver steps; at each log or checkpoint step a check for divergence
    (stop, or roll back), the history row, the checkpoint and the stopping rules."""

    def __init__(self, compiled: CompiledProblem, solution: Solution, engine: AbstractOperatorEngine,
                 solver: AbstractSolver, config: RunConfig, soft_kinds: tuple[str, ...], checkpoints: RunCheckpoints | None,
                 on_log: Callable[[dict], None] | None = None):
        self.config, self.train, self.checkpoints = config, config.train, checkpoints
        self.on_log = on_log  # called with each logged history row (see train)
        self.name, self.steps = compiled.problem.name, config.train.steps
        dtype = jnp.float64 if config.precision == "float64" else jnp.float32
        self.params, self.static = eqx.partition(solution, eqx.is_inexact_array)
        sharding = point_sharding(self.train)
        if sharding is not None:  # points split over devices, parameters replicated
            self.params = jax.device_put(self.params, sharding[1])
        self.loss = PinnLoss(compiled, engine, self.static, soft_kinds, self.train.condition_weight)
        # for solvers that need more than the loss
        self.context = SolverContext(self.static, engine, compiled, soft_kinds, config)
        self.solver = solver
        self.state = solver.bind(self.context).init(self.loss, self.params)
        problem = compiled.problem
        predict = make_predictor(engine, self.static, problem.dimension)
        self.sampler = PointSampler(problem.domain, problem.time, self.train.sampler, seed=config.seed)
        self.make_batch = _BatchMaker(compiled, self.sampler, soft_kinds, self.train, dtype,
                                      sharding and sharding[0])
        self.validation = _Validation(compiled, predict, self.train.validation_points, dtype)
        self.net_evals_per_loss = _network_evals_per_loss(compiled, engine, soft_kinds, self.train)
        self.history, self.guard = _History(), _Guard(self.train, config.solver)
        self.key = jax.random.PRNGKey(config.seed)
        self.done, self.loss_evals, self.elapsed, self.pending = 0, 0, 0.0, []  # pending: loss-evaluation counts
        self.clock = TrainClock(self.train.time_budget)

    def resume(self) -> None:
        """Continues from the last checkpoint: arrays, history, counters, sampler, clock and learning rates."""
        (self.params, self.state, self.key), meta = self.checkpoints.load((self.params, self.state, self.key))
        self.history = _History(meta["history"])
        self.done, self.loss_evals, self.elapsed = meta["step"], meta["loss_evals"], meta["elapsed"]
        self.guard.lr_scale, self.guard.rollbacks = meta["lr_scale"], meta["rollbacks"]
        self.make_batch.restore(meta["sampler"], meta.get("batch_origin"), self.done)
        self.clock = TrainClock(self.train.time_budget, meta.get("train_time", 0.0))
        if self.guard.lr_scale != 1.0:
            self.solver = rescaled_solver(self.config.solver, self.steps, self.guard.lr_scale)

    def run(self) -> TrainResult:
        """Trains until a stopping rule holds; the result is at the last verified step."""
        self._use_solver(self.solver)
        self.guard.start(BlowupWatch(self.history.columns, self.validation.metrics(self.params)["rel_l2"]),
                         self._point())
        stop_reason = "step budget reached"
        self.start = time.perf_counter() - self.elapsed
        self.progress = _Progress(self.steps, self.done, self.train.progress, self.name)
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", message=".*balance properties of Sobol.*")
            while self.done < self.steps:
                stats = self._step()
                log, save = self._log_due(), self._save_due()
                if (log or save) and (reason := self._verify(stats, log, save)):
                    stop_reason = reason
                    break
        self.progress.close()
        wall = time.perf_counter() - self.start
        return TrainResult(eqx.combine(self.params, self.static), self.history.arrays(), wall, self.done,
                           stop_reason + self.guard.summary())

    def _use_solver(self, solver: AbstractSolver) -> None:
        """Steps with ``solver`` from now on (the given one, or one with scaled learning rates)."""
        self.solver = solver
        self.step = make_guarded_step(solver.bind(self.context), self.loss)

    def _step(self) -> dict:
        """One guarded solver step on a new batch; returns its stats (device arrays)."""
        self.key, subkey = jax.random.split(self.key)
        batch, started = self.make_batch(self.done), time.perf_counter()
        self.params, self.state, self.guard.flag, stats = self.step(self.params, self.state, self.guard.flag,
                                                                    batch, subkey)
        self.clock.tick(started, self.params)
        self.pending.append(stats["loss_evals"])
        self.done += 1
        self.progress.advance()
        return stats

    def _log_due(self) -> bool:
        """Whether this step is logged: every ``train.log_every`` steps, the last one, the time budget's."""
        return self.done % self.train.log_every == 0 or self.done == self.steps or self.clock.exhausted

    def _save_due(self) -> bool:
        """Whether this step is checkpointed: every ``train.checkpoint_every`` steps, with a run folder."""
        every = self.train.checkpoint_every if self.checkpoints is not None else 0
        return bool(every) and self.done % every == 0

    def _verify(self, stats: dict, log: bool, save: bool) -> str | None:
        """Checks the steps since the last verified point; then rolls back, or logs and saves.
        Returns a stop reason (divergence, target, time budget) or None to go on."""
        ok, n_ok = self.guard.read_flag()
        value, metrics, blowup = math.nan, _UNKNOWN, None
        if ok and log:  # finite: the loss or the validation error may still have blown up
            value = float(stats["loss"])
            metrics = self.validation.metrics(self.params)
            blowup = self.guard.watch.check(value, metrics["rel_l2"])
        if not ok or blowup:  # diverged since the last verified point
            return self._diverged(blowup, bad=self.guard.good.done + n_ok + 1 if not ok else self.done)
        self.loss_evals += sum(int(n) for n in jax.device_get(self.pending))
        self.pending = []
        if log:
            self._log(value, metrics, stats)
        self.guard.verified(self._point())
        if save:
            self._save()
        return _stop_reason(self.train.target_rel_l2, metrics["rel_l2"], self.clock)

    def _diverged(self, blowup: str | None, bad: int) -> str | None:
        """Returns to a verified point: the stop reason, or None after a rollback (lower learning rates)."""
        point, retry = self.guard.fall_back()
        self._restore(point)
        if not retry:
            return self.guard.reason(blowup, bad)
        self._use_solver(rescaled_solver(self.config.solver, self.steps, self.guard.lr_scale))
        return None

    def _log(self, value: float, metrics: dict[str, float], stats: dict) -> None:
        """Appends the history row, tells the solver (validation-driven schedules), shows progress and
        passes the row to ``on_log``."""
        self.guard.watch.update(value, metrics["rel_l2"])
        self.history.append({"step": self.done, "loss": value, "rel_l2": metrics["rel_l2"], "mse": metrics["mse"],
                             "wall_time": time.perf_counter() - self.start, "train_time": self.clock.seconds,
                             "loss_evals": self.loss_evals,
                             "network_evals": self.loss_evals * self.net_evals_per_loss}, stats)
        self.state = self.solver.observe(self.state, metrics["rel_l2"] if self.validation.known else value)
        self.progress.show(value, metrics["rel_l2"])
        if self.on_log is not None:
            self.on_log({name: self.history.columns[name][-1] for name in HISTORY_FIELDS})

    def _save(self) -> None:
        """Checkpoints the last verified point with the counters that resume needs."""
        meta = {"step": self.done, "loss_evals": self.loss_evals, "lr_scale": self.guard.lr_scale,
                "rollbacks": self.guard.rollbacks, "elapsed": time.perf_counter() - self.start,
                "train_time": self.clock.seconds, "sampler": self.guard.good.sampler, "batch_origin": self.guard.good.batch_origin}
        self.checkpoints.save((self.params, self.state, self.key), meta, self.history.columns)

    def _point(self) -> _Point:
        """The loop's current position, to return to after a divergence."""
        return _Point(self.params, self.state, self.key, self.done, self.loss_evals, self.sampler.state(),
                      self.make_batch.origin, len(self.history))

    def _restore(self, point: _Point) -> None:
        """Returns the loop to ``point``: arrays, counters, sampler, history rows and progress."""
        self.params, self.state, self.key = point.params, point.state, point.key
        self.done, self.loss_evals = point.done, point.loss_evals
        self.make_batch.restore(point.sampler, point.batch_origin, self.done)
        self.history.truncate(point.rows)
        self.pending = []
        self.progress.rewind(self.done)


def train(
    compiled: CompiledProblem,
    solution: Solution,
    engine: AbstractOperatorEngine,
    solver: AbstractSolver,
    config: RunConfig,
    soft_kinds: tuple[str, ...] = (),
    checkpoints: RunCheckpoints | None = None,
    resume: bool = False,
    on_log: Callable[[dict], None] | None = None,
) -> TrainResult:
    """Trains ``solution`` on ``compiled`` with ``solver``; ``config`` is the validated run config.

    With ``checkpoints``, the state is saved every ``train.checkpoint_every`` steps; with
    ``resume``, training continues from the last checkpoint (bit-identical on CPU to a run that
    was never interrupted). A non-finite loss or parameter stops the run at the last verified
    step, or (``train.on_divergence: rollback``) returns there and retries with the learning
    rates scaled by ``train.rollback_factor``, at most ``train.max_rollbacks`` times.

    ``on_log(row)`` is called with each logged history row (``HISTORY_FIELDS`` -> number); an
    exception it raises ends training and propagates (``pdesolve tune`` prunes trials so).
    """
    loop = _TrainLoop(compiled, solution, engine, solver, config, soft_kinds, checkpoints, on_log)
    if resume:
        loop.resume()
    return loop.run()
