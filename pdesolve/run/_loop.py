"""The training loop: guarded solver steps on fresh batches; at each log or checkpoint step the
divergence check (stop, or roll back), the history row, the checkpoint and the stopping rules."""

import math
import time
import warnings
from collections.abc import Callable

import equinox as eqx
import jax

from ..solvers import AbstractSolver, SolverContext
from ._build import Assembled
from ._checkpoint import RunCheckpoints
from ._guard import BlowupWatch, Guard, Point, rescaled_solver
from ._history import History
from ._interrupt import Interrupt, TrainingInterrupted
from ._inverse import unknown_columns
from ._predict import make_predictor
from ._progress import Progress
from ._sharding import point_sharding
from ._step import make_guarded_step
from ._stopping import StopReason, TrainClock, stop_reason
from ._trained import TrainResult
from ._validation import UNKNOWN, Validation


def network_evals_per_loss(pieces: Assembled) -> int:
    """Network evaluations of one loss evaluation: the batch's stencils, and the soft conditions' points."""
    compiled, engine, train = pieces.compiled, pieces.engine, pieces.config.train
    dim = compiled.problem.dimension
    evals = train.batch_size * engine.evals_per_point(compiled.needs, dim)
    if pieces.soft_kinds:
        evals += len(pieces.soft_kinds) * train.boundary_batch_size * engine.evals_per_point(frozenset({"u"}), dim)
    return evals


class TrainLoop:
    """One training run of the pieces of :func:`pdesolve.run.build`: its parts are the batches
    (``BatchMaker``), the divergence guard (``Guard``), the history (``History``), the validation
    set, the checkpoints, the stopping rules (``TrainClock``, ``stop_reason``) and the progress bar."""

    def __init__(
        self, pieces: Assembled, checkpoints: RunCheckpoints | None = None, on_log: Callable[[dict], None] | None = None
    ):
        self.config, self.train, self.checkpoints = pieces.config, pieces.config.train, checkpoints
        self.on_log = on_log  # called with each logged history row (see train)
        self.name, self.steps = pieces.compiled.problem.name, self.train.steps
        self.problem = pieces.compiled.problem
        self.params, self.static = eqx.partition(pieces.solution, eqx.is_inexact_array)
        sharding = point_sharding(self.train)
        if sharding is not None:  # points split over devices, parameters replicated
            self.params = jax.device_put(self.params, sharding[1])
        self.loss = pieces.loss(self.static)
        # for solvers that need more than the loss
        self.context = SolverContext(
            self.static, pieces.engine, pieces.compiled, pieces.soft_kinds, self.train.condition_weight
        )
        self.solver = pieces.solver
        self.state = self.solver.bind(self.context).init(self.loss, self.params)
        predict = make_predictor(pieces.engine, self.static, pieces.compiled.problem.dimension)
        self.make_batch = pieces.batch_maker(sharding and sharding[0], self.loss)
        self.validation = Validation(pieces.compiled, predict, self.train.validation_points, pieces.dtype)
        self.net_evals_per_loss = network_evals_per_loss(pieces)
        self.history, self.guard = History(), Guard(self.train, self.config.solver)
        self.key = jax.random.PRNGKey(self.config.seed)
        self.done, self.loss_evals, self.elapsed = 0, 0, 0.0
        self.pending: list = []  # loss-evaluation counts (device scalars) since the last verified point
        self.saved: int | None = None  # the step of the last checkpoint written
        self.clock = TrainClock(self.train.time_budget)

    def resume(self) -> None:
        """Continues from the last checkpoint: arrays, history, counters, sampler, clock and learning rates."""
        assert self.checkpoints is not None  # a resumed run has its run folder
        (self.params, self.state, self.key), meta = self.checkpoints.load((self.params, self.state, self.key))
        self.history = History(meta["history"])
        self.done, self.loss_evals, self.elapsed = meta["step"], meta["loss_evals"], meta["elapsed"]
        self.saved = self.done
        self.guard.lr_scale, self.guard.rollbacks = meta["lr_scale"], meta["rollbacks"]
        self.make_batch.restore(meta["sampler"], meta.get("batch_origin"), self.done)
        self.clock = TrainClock(self.train.time_budget, meta.get("train_time", 0.0))
        if self.guard.lr_scale != 1.0:
            self.solver = self._rescaled()

    def run(self) -> TrainResult:
        """Trains until a stopping rule holds; the result is at the last verified step. Ctrl-C stops
        at the end of the step, after a checkpoint (with a run folder): ``TrainingInterrupted``."""
        self._use_solver(self.solver)
        self.guard.start(
            BlowupWatch(self.history.columns, self.validation.metrics(self.params)["rel_l2"]), self._point()
        )
        reason = StopReason.STEP_BUDGET.value
        self.start = time.perf_counter() - self.elapsed
        self.progress = Progress(
            self.steps, self.done, self.train.progress, self.name, self.train.time_budget, self.clock.seconds
        )
        with warnings.catch_warnings(), Interrupt().watch() as interrupt:
            warnings.filterwarnings("ignore", message=".*balance properties of Sobol.*")
            while self.done < self.steps:
                stats = self._step()
                log, save = self._log_due(), self._save_due()
                stop = self._verify(stats, log, save) if log or save else None
                if interrupt.requested:
                    self._interrupted(stats, save)
                if stop:
                    reason = stop
                    break
        self.progress.close()
        wall = time.perf_counter() - self.start
        return TrainResult(
            eqx.combine(self.params, self.static), self.history.arrays(), wall, self.done, reason + self.guard.summary()
        )

    def _interrupted(self, stats: dict, saved: bool) -> None:
        """Ctrl-C: a checkpoint at this step (with a run folder and ``train.checkpoint_every`` > 0),
        then ``TrainingInterrupted``."""
        if not saved and self.checkpoints is not None and self.train.checkpoint_every:
            self._verify(stats, False, True)
        self.progress.close()
        raise TrainingInterrupted(self.done, self.saved)

    def _use_solver(self, solver: AbstractSolver) -> None:
        """Steps with ``solver`` from now on (the given one, or one with scaled learning rates)."""
        self.solver = solver
        self.step = make_guarded_step(solver.bind(self.context), self.loss)

    def _step(self) -> dict:
        """One guarded solver step on a new batch; returns its stats (device arrays)."""
        self.key, subkey = jax.random.split(self.key)
        started = time.perf_counter()  # the clock counts drawing the batch: adaptive resampling costs residuals
        batch = self.make_batch(self.done, self.params)
        self.params, self.state, self.guard.flag, stats = self.step(
            self.params, self.state, self.guard.flag, batch, subkey
        )
        self.clock.tick(started, self.params)
        self.pending.append(stats["loss_evals"])
        self.done += 1
        self.progress.advance(self.clock.seconds)
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
        value, metrics, blowup = math.nan, UNKNOWN, None
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
        return stop_reason(self.train.target_rel_l2, metrics["rel_l2"], self.clock)

    def _diverged(self, blowup: str | None, bad: int) -> str | None:
        """Returns to a verified point: the stop reason, or None after a rollback (lower learning rates)."""
        point, retry = self.guard.fall_back()
        self._restore(point)
        if not retry:
            return self.guard.reason(blowup, bad)
        self._use_solver(self._rescaled())
        return None

    def _rescaled(self) -> AbstractSolver:
        """The solver with its learning rates scaled by the guard's ``lr_scale``."""
        solver = rescaled_solver(self.config.solver, self.steps, self.guard.lr_scale)
        assert solver is not None  # lr_scale moves only for solvers with learning rates (Guard.fall_back)
        return solver

    def _log(self, value: float, metrics: dict[str, float], stats: dict) -> None:
        """Appends the history row, tells the solver (validation-driven schedules), shows progress and
        passes the row to ``on_log``."""
        self.guard.watch.update(value, metrics["rel_l2"])
        self.history.append(
            {
                "step": self.done,
                "loss": value,
                "rel_l2": metrics["rel_l2"],
                "mse": metrics["mse"],
                "wall_time": time.perf_counter() - self.start,
                "train_time": self.clock.seconds,
                "loss_evals": self.loss_evals,
                "network_evals": self.loss_evals * self.net_evals_per_loss,
            },
            stats | unknown_columns(self.problem, self.params),
        )
        self.state = self.solver.observe(self.state, metrics["rel_l2"] if self.validation.known else value)
        self.state = self.solver.observe_time(self.state, self.clock.seconds)  # stages with time budgets
        self.progress.show(value, metrics["rel_l2"])
        if self.on_log is not None:
            self.on_log(self.history.last_row())

    def _save(self) -> None:
        """Checkpoints the last verified point with the counters that resume needs."""
        meta = {
            "step": self.done,
            "loss_evals": self.loss_evals,
            "lr_scale": self.guard.lr_scale,
            "rollbacks": self.guard.rollbacks,
            "elapsed": time.perf_counter() - self.start,
            "train_time": self.clock.seconds,
            "sampler": self.guard.good.sampler,
            "batch_origin": self.guard.good.batch_origin,
        }
        assert self.checkpoints is not None  # _save_due: with a run folder only
        self.checkpoints.save((self.params, self.state, self.key), meta, self.history.columns)
        self.saved = self.done

    def _point(self) -> Point:
        """The loop's current position, to return to after a divergence."""
        return Point(
            self.params,
            self.state,
            self.key,
            self.done,
            self.loss_evals,
            self.make_batch.sampler.state(),
            self.make_batch.origin,
            len(self.history),
        )

    def _restore(self, point: Point) -> None:
        """Returns the loop to ``point``: arrays, counters, sampler, history rows and progress."""
        self.params, self.state, self.key = point.params, point.state, point.key
        self.done, self.loss_evals = point.done, point.loss_evals
        self.make_batch.restore(point.sampler, point.batch_origin, self.done)
        self.history.truncate(point.rows)
        self.pending = []
        self.progress.rewind(self.done)


def train(
    pieces: Assembled,
    *,
    checkpoints: RunCheckpoints | None = None,
    resume: bool = False,
    on_log: Callable[[dict], None] | None = None,
) -> TrainResult:
    """Trains the solution of ``pieces`` (from :func:`pdesolve.run.build`) with its solver.

    With ``checkpoints``, the state is saved every ``train.checkpoint_every`` steps; with
    ``resume``, training continues from the last checkpoint (bit-identical on CPU to a run that
    was never interrupted). A non-finite loss or parameter stops the run at the last verified
    step, or (``train.on_divergence: rollback``) returns there and retries with the learning
    rates scaled by ``train.rollback_factor``, at most ``train.max_rollbacks`` times.

    ``on_log(row)`` is called with each logged history row (``HISTORY_FIELDS`` -> number); an
    exception it raises ends training and propagates (``pdesolve tune`` prunes trials so).
    """
    loop = TrainLoop(pieces, checkpoints, on_log)
    if resume:
        loop.resume()
    return loop.run()
