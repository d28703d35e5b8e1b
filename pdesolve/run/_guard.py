"""The divergence guard on the host: verified points of the loop, blow-ups that stay finite, and
rollbacks to a verified point with lower learning rates."""

import dataclasses
import math

import jax
from jaxtyping import Array, PyTree

from ..config import SolverConfig, TrainConfig
from ..solvers import AbstractSolver, solver_spec
from ._step import fresh_flag
from ._stopping import StopReason

#: A blow-up that stays finite (issue 14: a huge learning rate gave a huge but finite rel_l2 and a
#: finite loss) is treated like a non-finite value. A logged loss is a blow-up when it is more than
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
            return f"the loss {loss:.3g} is over {BLOWUP_LOSS_FACTOR:g} times its best logged value {self.loss:.3g}"
        if error > BLOWUP_ERROR_FACTOR * self.error and error > BLOWUP_ERROR_FLOOR:
            return (
                f"the validation rel_l2 {error:.3g} is over {BLOWUP_ERROR_FACTOR:g} times its best value "
                f"{self.error:.3g}"
            )
        return None

    def update(self, loss: float, error: float) -> None:
        if math.isfinite(loss):
            self.first_loss = loss if self.first_loss == math.inf else self.first_loss
            self.loss = min(self.loss, loss)
        if math.isfinite(error):
            self.error = min(self.error, error)


def has_learning_rate(solver: SolverConfig) -> bool:
    """Whether a rollback can lower the solver's learning rates (its spec names some)."""
    return bool(solver_spec(solver.name).learning_rates)


def rescaled_solver(solver: SolverConfig, steps: int, scale: float) -> AbstractSolver | None:
    """The solver rebuilt with its spec's ``learning_rates`` times ``scale`` (None: it has none).

    The rebuilt solver's state has the same structure, so the state of the old one carries over.
    """
    spec = solver_spec(solver.name)
    if not spec.learning_rates:
        return None
    return spec.build(spec.rescaled(solver.settings, scale), steps)


def divergence_reason(
    blowup: str | None,
    bad: int,
    kept: int,
    rollbacks: int,
    train: TrainConfig,
    has_learning_rate: bool,
    remedy: str = "lower solver.learning_rate",
) -> str:
    """The stop reason of a diverged run, with the fix that applies: the solver's own ``remedy``
    (``AbstractSolverSpec.divergence_remedy``), and a rollback only if not tried and possible."""
    what = f"{blowup} at step {bad}" if blowup else f"non-finite loss or parameters at step {bad}"
    if rollbacks:
        fix = (
            f"still diverging after {rollbacks} rollback{'s' * (rollbacks > 1)}: {remedy}, "
            "or train.rollback_factor, or raise train.max_rollbacks"
        )
    elif not has_learning_rate:
        fix = f"the solver has no learning rate to lower: {remedy}"
    elif train.on_divergence == "rollback":
        fix = f"{remedy}, or raise train.max_rollbacks"
    else:
        fix = f"{remedy}, or set train.on_divergence=rollback"
    return f"{StopReason.DIVERGED.value}: {what}; kept step {kept}, the last good one ({fix})"


@dataclasses.dataclass
class Point:
    """A verified point of the loop: every step up to it had a finite loss and parameters."""

    params: PyTree
    state: PyTree
    key: Array
    done: int
    loss_evals: int
    sampler: dict
    batch_origin: dict | None  # the sampler's state before the batch in use was drawn
    rows: int  # history rows logged up to it


class Guard:
    """The divergence guard on the host: the device flag ``(ok, n_ok)`` of ``make_guarded_step``,
    the blow-up watch, the last two verified points and the rollbacks made so far.

    ``good`` is the last verified point; ``safe`` the one before, whose parameters also gave a
    finite loss at the next step (the loss of good's parameters may be the first non-finite one).
    """

    watch: BlowupWatch  # watch, good and safe: set by ``start``
    good: Point
    safe: Point

    def __init__(self, train: TrainConfig, solver: SolverConfig):
        self.train, self.solver = train, solver
        self.rollbacks, self.lr_scale = 0, 1.0
        self.flag = fresh_flag()

    def start(self, watch: BlowupWatch, point: Point) -> None:
        """Starts watching from ``point``, the first verified one (initial or resumed)."""
        self.watch, self.good, self.safe = watch, point, point

    def read_flag(self) -> tuple[bool, int]:
        """(whether every step since the last read was finite, how many were); resets the flag."""
        ok, n_ok = jax.device_get(self.flag)
        self.flag = fresh_flag()
        return bool(ok), int(n_ok)

    def verified(self, point: Point) -> None:
        """Records ``point`` as the last verified one."""
        self.safe, self.good = self.good, point

    def fall_back(self) -> tuple[Point, bool]:
        """After a divergence: (the point to return to, whether to retry from it). A retry (rollback,
        while allowed) goes back one point further and scales the learning rates once more."""
        retry = (
            self.train.on_divergence == "rollback"
            and self.rollbacks < self.train.max_rollbacks
            and has_learning_rate(self.solver)
        )
        if retry:
            self.good = self.safe
            self.rollbacks, self.lr_scale = self.rollbacks + 1, self.lr_scale * self.train.rollback_factor
        return self.good, retry

    def reason(self, blowup: str | None, bad: int) -> str:
        """The stop reason of a run that diverged at step ``bad`` and stopped at ``good``."""
        remedy = solver_spec(self.solver.name).divergence_remedy
        return divergence_reason(
            blowup, bad, self.good.done, self.rollbacks, self.train, has_learning_rate(self.solver), remedy
        )

    def summary(self) -> str:
        """What the rollbacks did, for the stop reason ('' when there were none)."""
        if not self.rollbacks:
            return ""
        return f" ({self.rollbacks} rollback{'s' * (self.rollbacks > 1)}: learning rate x{self.lr_scale:g})"
