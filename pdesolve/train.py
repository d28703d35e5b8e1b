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
from jaxtyping import Array, Bool, PyTree
from tqdm.auto import tqdm

from .checkpoint import RunCheckpoints
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

    @eqx.filter_jit
    def both(params, x, t):
        u = eqx.combine(params, static)
        return engine.solution(u)(x, t), u(x, t)

    def predict(params, x, t):
        parts = [both(params, x[i:i + chunk], t[i:i + chunk]) for i in range(0, len(x), chunk)]
        return tuple(np.concatenate([np.asarray(p[k]) for p in parts]) for k in range(2))

    return predict


def point_sharding(train_config: dict) -> tuple[NamedSharding, NamedSharding] | None:
    """Shardings over a 1-d mesh of devices: (points split, replicated), or None for one device.

    One host: the first ``train.devices`` local devices (default all). Several hosts (after
    ``jax.distributed.initialize``): every device of every process.
    """
    if jax.process_count() > 1:
        available = jax.devices()
        if train_config["devices"] not in (None, len(available)):
            raise ConfigError("train.devices", f"with several hosts all {len(available)} devices are used; "
                              "leave train.devices unset")
    else:
        available = jax.local_devices()
    count = train_config["devices"] or len(available)
    if count < 1 or count > len(available):
        raise ConfigError("train.devices", f"{count} requested but {len(available)} local devices exist")
    if count == 1:
        return None
    for key in ("batch_size", "boundary_batch_size"):
        if train_config[key] % count:
            raise ConfigError(f"train.{key}", f"{train_config[key]} does not split over {count} devices; "
                              f"use a multiple of {count}")
    mesh = Mesh(np.array(available[:count]), ("points",))
    return NamedSharding(mesh, PartitionSpec("points")), NamedSharding(mesh, PartitionSpec())


class _BatchMaker:
    """Draws a training batch and evaluates the source and soft-condition data on it."""

    def __init__(self, compiled: CompiledProblem, sampler: PointSampler, soft_kinds, train_config, dtype,
                 sharding: NamedSharding | None = None):
        self.compiled, self.sampler, self.soft_kinds = compiled, sampler, soft_kinds
        self.n, self.n_cond = train_config["batch_size"], train_config["boundary_batch_size"]
        self.dtype = dtype
        if sharding is None:
            self.put = lambda a: jnp.asarray(a, dtype)
        else:  # every process draws the same batch and places the rows its devices hold
            self.put = lambda a: jax.make_array_from_callback(
                a.shape, sharding, lambda index: np.asarray(a[index], dtype))
        zero = lambda x, t: jnp.zeros_like(t)  # noqa: E731
        self.source = jax.jit(compiled.source or zero)
        self.conditions = {k: jax.jit(compiled.conditions[k]) for k in soft_kinds}

    def __call__(self) -> dict:
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
    """

    def step(params, state, guard, batch, key):
        ok, n_ok = guard
        new_params, new_state, stats = solver.step(loss, params, state, batch, key)
        ok = ok & jnp.isfinite(stats["loss"]) & all_finite(new_params)
        guard = (ok, n_ok + ok.astype(n_ok.dtype))
        return _select(ok, new_params, params), _select(ok, new_state, state), guard, stats

    return eqx.filter_jit(step)


def _has_learning_rate(solver_config: dict) -> bool:
    return bool(solver_spec(solver_config["name"]).learning_rates)


def rescaled_solver(solver_config: dict, steps: int, scale: float) -> AbstractSolver | None:
    """The solver rebuilt with its spec's ``learning_rates`` times ``scale`` (None: it has none).

    The rebuilt solver's state has the same structure, so the state of the old one carries over.
    """
    spec = solver_spec(solver_config["name"])
    if not spec.learning_rates:
        return None
    return spec.build(spec.rescaled(solver_config, scale), steps)


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


def _divergence_reason(blowup: str | None, bad: int, kept: int, rollbacks: int, train_config: dict,
                       has_learning_rate: bool) -> str:
    """The stop reason of a diverged run, with the fix that applies (rollback only if not tried)."""
    what = f"{blowup} at step {bad}" if blowup else f"non-finite loss or parameters at step {bad}"
    if rollbacks:
        fix = (f"still diverging after {rollbacks} rollback{'s' * (rollbacks > 1)}: lower solver.learning_rate, "
               "or train.rollback_factor, or raise train.max_rollbacks")
    elif train_config["on_divergence"] == "rollback" and not has_learning_rate:
        fix = "the solver has no learning rate to lower: change its settings"
    elif train_config["on_divergence"] == "rollback":
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
    rows: int  # history rows logged up to it


def train(
    compiled: CompiledProblem,
    solution: Solution,
    engine: AbstractOperatorEngine,
    solver: AbstractSolver,
    config: dict,
    soft_kinds: tuple[str, ...] = (),
    checkpoints: RunCheckpoints | None = None,
    resume: bool = False,
    on_log: Callable[[dict], None] | None = None,
) -> TrainResult:
    """Trains ``solution`` on ``compiled`` with ``solver``; ``config`` is the resolved run config.

    With ``checkpoints``, the state is saved every ``train.checkpoint_every`` steps; with
    ``resume``, training continues from the last checkpoint (bit-identical on CPU to a run that
    was never interrupted). A non-finite loss or parameter stops the run at the last verified
    step, or (``train.on_divergence: rollback``) returns there and retries with the learning
    rates scaled by ``train.rollback_factor``, at most ``train.max_rollbacks`` times.

    ``on_log(row)`` is called with each logged history row (``HISTORY_FIELDS`` -> number); an
    exception it raises ends training and propagates (``pdesolve tune`` prunes trials so).
    """
    problem, train_config = compiled.problem, config["train"]
    dtype = jnp.float64 if config["precision"] == "float64" else jnp.float32
    params, static = eqx.partition(solution, eqx.is_inexact_array)
    sharding = point_sharding(train_config)
    if sharding is not None:  # points split over devices, parameters replicated
        params = jax.device_put(params, sharding[1])
    loss = PinnLoss(compiled, engine, static, soft_kinds, train_config["condition_weight"])
    context = SolverContext(static, engine, compiled, soft_kinds, config)  # for solvers that need more than the loss
    state = solver.bind(context).init(loss, params)
    predict = make_predictor(engine, static, problem.dimension)

    sampler = PointSampler(problem.domain, problem.time, train_config["sampler"], seed=config["seed"])
    make_batch = _BatchMaker(compiled, sampler, soft_kinds, train_config, dtype, sharding and sharding[0])
    validation = PointSampler(problem.domain, problem.time, "uniform", seed=problem.evaluation["seed"] + 1)
    x_val, t_val = (np.asarray(a, dtype) for a in validation.interior(train_config["validation_points"]))
    u_val = None if compiled.exact is None else np.asarray(compiled.exact(jnp.asarray(x_val), jnp.asarray(t_val)))

    evals_per_point = engine.evals_per_point(compiled.needs, problem.dimension)
    net_evals_per_loss = train_config["batch_size"] * evals_per_point
    if soft_kinds:
        net_evals_per_loss += len(soft_kinds) * train_config["boundary_batch_size"] * engine.evals_per_point(frozenset({"u"}), problem.dimension)

    history = {name: [] for name in HISTORY_FIELDS}
    key = jax.random.PRNGKey(config["seed"])
    steps, log_every, target = train_config["steps"], train_config["log_every"], train_config["target_rel_l2"]
    every = train_config["checkpoint_every"] if checkpoints is not None else 0
    done, loss_evals, lr_scale, rollbacks, elapsed = 0, 0, 1.0, 0, 0.0
    if resume:
        (params, state, key), meta = checkpoints.load((params, state, key))
        history = {name: list(values) for name, values in meta["history"].items()}
        done, loss_evals, lr_scale, rollbacks, elapsed = (meta[k] for k in (
            "step", "loss_evals", "lr_scale", "rollbacks", "elapsed"))
        sampler.restore(meta["sampler"])
        if lr_scale != 1.0:
            solver = rescaled_solver(config["solver"], steps, lr_scale)
    step = make_guarded_step(solver.bind(context), loss)
    # good: the last verified point; safe: the one before, whose parameters also gave a finite
    # loss at the next step (the loss of good's parameters may be the first non-finite one)
    good = safe = _Point(params, state, key, done, loss_evals, sampler.state(), len(history["step"]))
    watch = BlowupWatch(history, math.nan if u_val is None else error_metrics(predict(params, x_val, t_val)[0],
                                                                              u_val)["rel_l2"])
    fresh_guard = lambda: (jnp.asarray(True), jnp.asarray(0, jnp.int32))  # noqa: E731
    guard, pending = fresh_guard(), []  # pending: loss-evaluation counts not yet read back
    stop_reason = "step budget reached"
    start = time.perf_counter() - elapsed
    clock = TrainClock(train_config["time_budget"], meta.get("train_time", 0.0) if resume else 0.0)
    bar = tqdm(total=steps, initial=done, disable=not train_config["progress"], desc=problem.name, unit="step",
               leave=False)
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*balance properties of Sobol.*")
        while done < steps:
            key, subkey = jax.random.split(key)
            batch, started = make_batch(), time.perf_counter()
            params, state, guard, stats = step(params, state, guard, batch, subkey)
            clock.tick(started, params)
            pending.append(stats["loss_evals"])
            done += 1
            bar.update(1)
            log = done % log_every == 0 or done == steps or clock.exhausted
            save = every and done % every == 0
            if not (log or save):
                continue
            ok, n_ok = jax.device_get(guard)
            guard = fresh_guard()
            metrics, blowup = {"rel_l2": math.nan, "mse": math.nan}, None
            if ok and log:  # finite: the loss or the validation error may still have blown up
                value = float(stats["loss"])
                if u_val is not None:
                    metrics = error_metrics(predict(params, x_val, t_val)[0], u_val)
                blowup = watch.check(value, metrics["rel_l2"])
            if not ok or blowup:  # diverged since the last verified point: stop there, or roll back before it
                bad = good.done + int(n_ok) + 1 if not ok else done
                retry = (train_config["on_divergence"] == "rollback" and rollbacks < train_config["max_rollbacks"]
                         and _has_learning_rate(config["solver"]))
                good = safe if retry else good
                params, state, key, done, loss_evals = good.params, good.state, good.key, good.done, good.loss_evals
                sampler.restore(good.sampler)
                history = {name: values[:good.rows] for name, values in history.items()}
                pending = []
                bar.n = done
                bar.refresh()
                if not retry:
                    stop_reason = _divergence_reason(blowup, bad, done, rollbacks, train_config,
                                                     _has_learning_rate(config["solver"]))
                    break
                rollbacks, lr_scale = rollbacks + 1, lr_scale * train_config["rollback_factor"]
                solver = rescaled_solver(config["solver"], steps, lr_scale)
                step = make_guarded_step(solver.bind(context), loss)
                continue
            loss_evals += sum(int(n) for n in jax.device_get(pending))
            pending = []
            if log:  # value and metrics: computed above, with the blow-up check
                watch.update(value, metrics["rel_l2"])
                history["step"].append(done)
                history["loss"].append(value)
                history["rel_l2"].append(metrics["rel_l2"])
                history["mse"].append(metrics["mse"])
                history["wall_time"].append(time.perf_counter() - start)
                history["train_time"].append(clock.seconds)
                history["loss_evals"].append(loss_evals)
                history["network_evals"].append(loss_evals * net_evals_per_loss)
                for name in stats.keys() - {"loss", "loss_evals"}:  # solver-specific, e.g. the hybrid stage
                    history.setdefault(name, []).append(float(stats[name]))
                state = solver.observe(state, metrics["rel_l2"] if u_val is not None else value)
                bar.set_postfix(loss=f"{value:.3e}", rel_l2=f"{metrics['rel_l2']:.3e}")
                if on_log is not None:
                    on_log({name: history[name][-1] for name in HISTORY_FIELDS})
            safe, good = good, _Point(params, state, key, done, loss_evals, sampler.state(), len(history["step"]))
            if save:
                meta = {"step": done, "loss_evals": loss_evals, "lr_scale": lr_scale, "rollbacks": rollbacks,
                        "elapsed": time.perf_counter() - start, "train_time": clock.seconds, "sampler": good.sampler}
                checkpoints.save((params, state, key), meta, history)
            if target is not None and metrics["rel_l2"] <= target:
                stop_reason = f"target rel_l2 {target:g} reached"
                break
            if clock.exhausted:
                stop_reason = f"time budget {clock.budget:g} s reached"
                break
    bar.close()
    if rollbacks:
        stop_reason += f" ({rollbacks} rollback{'s' * (rollbacks > 1)}: learning rate x{lr_scale:g})"
    wall = time.perf_counter() - start
    return TrainResult(eqx.combine(params, static), {k: np.asarray(v) for k, v in history.items()},
                       wall, done, stop_reason)
