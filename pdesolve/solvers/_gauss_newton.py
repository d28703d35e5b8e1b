"""Gauss-Newton / Levenberg-Marquardt training on the stacked residual vector of a batch.

Each step linearises the residual r(theta) of the batch (m rows) over all P parameters,
r(theta + delta) ~ r + J delta, and takes a damped step

    (J^T J + lam D) delta = -J^T r        (normal form, m >= P), or
    delta = -J^T (J J^T + lam I)^-1 r     (kernel/Woodbury form, m < P, same step for D = I).

The step is composed of parts, each a small module that checks its own settings when built:
the Jacobian source (``_gn_jacobian``: finite differences of forward queries, BP-free, forward-mode
tangents, or reverse-mode autodiff, the reference), the damped system (``_gn_system``: the column
scaling D, and ``accumulate = k > 1`` summing the normal equations of k chunks of the batch, more
rows per step at the memory of one chunk plus P x P) and the step-length rule (``_gn_steps``:
Nielsen's gain-ratio loop, or a grid line search on the batch or on held-out points, either with
geodesic acceleration).
"""

import equinox as eqx
import jax
import jax.numpy as jnp
from jax.flatten_util import ravel_pytree
from jaxtyping import Array, Float

from ..errors import ConfigError
from ..fields import NUMBER, OPTIONAL_INT, OPTIONAL_NUMBER, schema_of
from ..loss import AbstractResidualLoss
from ._base import AbstractSolver
from ._gn_jacobian import SOURCES, JacobianSource
from ._gn_steps import Direction, StepRule, step_rule
from ._gn_system import SCALINGS, Assembly
from ._spec import AbstractSolverSpec, solver_setting

#: The memory model of a step (``pdesolve.resources``), rounded up from the peak memory of measured
#: steps (benchmarks/results/reliability_memory/, training_memory.csv): copies of the Jacobian
#: (rows x parameters: the source's table, its reordering and the system's product), of the damped
#: system (its matrix and its factor), and, for ``layerwise``, of the hidden units at every stencil
#: node (the recorded activities and deltas, counted as the step's perturbations).
JACOBIAN_COPIES = 3
SYSTEM_COPIES = 2
LAYERWISE_RECORDS = 3


class GaussNewtonState(eqx.Module):
    """The damping ``lam`` (NaN until the first Jacobian sets it) and Nielsen's growth factor ``nu``."""

    damping: Float[Array, ""]
    growth: Float[Array, ""]


class GaussNewton(AbstractSolver):
    """Levenberg-Marquardt over all parameters on ``loss.residuals`` (see the module docstring).

    The settings are the config keys; ``source``, ``assembly`` and ``rule`` are the parts they
    compose, built (and so checked) at construction.

    ``jacobian``: layerwise | forward_difference | central_difference (BP-free) | jvp | ad;
    ``layerwise`` needs an MLP with dense layers after the first (see ``_layerwise``).
    ``initial_damping``: lam at the first step relative to trace(J^T J) / P.
    ``min_damping``: the same, a floor that keeps the damped system well conditioned.
    ``difference_step``: finite-difference step (None: by precision), relative to the parameters
    (``forward_difference``, ``central_difference``), on the pre-activations (``layerwise``).
    ``chunk_size``: Jacobian columns per vectorised call (None: all at once; a chunk keeps the
    columns' intermediates in cache: benchmarks/results/gauss_newton_options/).
    ``line_search``: 0 (the gain-ratio loop) or the number n of step lengths 2^0 .. 2^-(n-1) tried
    along one solve at the damping floor (n residual evaluations per step; ``GridLineSearch``).
    ``geodesic``: geodesic acceleration of every solve (one residual evaluation each; ``Direction``).
    ``holdout``: the fraction of the batch's points kept out of the Jacobian, on which the line search
    chooses the step length (``split_batch``; needs ``line_search``).
    ``accumulate``: the number k of chunks whose normal equations are summed into one step
    (``chunk_batch``): m rows at the memory of m / k rows plus P x P, always in the normal form.
    """

    jacobian: str = solver_setting((str,), "forward_difference", choices=SOURCES)
    # first lambda / (trace(J^T J) / P)
    initial_damping: float = solver_setting(NUMBER, 1e-3, bounds=(0.0, None, ">= 0"))
    min_damping: float = solver_setting(NUMBER, 1e-12, bounds=(0.0, None, ">= 0"))  # lambda floor, same scale
    scaling: str = solver_setting((str,), "identity", choices=SCALINGS)
    max_trials: int = solver_setting((int,), 8, bounds=(1, None, ">= 1"))  # damped solves per step with one Jacobian
    difference_step: float | None = solver_setting(  # relative FD step (None: by precision)
        OPTIONAL_NUMBER, None, bounds=(1e-15, 1.0, "between 1e-15 and 1, or unset (by precision)")
    )
    # Jacobian columns per call
    chunk_size: int | None = solver_setting(OPTIONAL_INT, 64, bounds=(1, None, ">= 1, or unset"))
    # step lengths 2^0 .. 2^-(n-1)
    line_search: int = solver_setting((int,), 0, bounds=(0, 60, "between 0 (off) and 60"))
    geodesic: bool = solver_setting((bool,), False)  # geodesic acceleration: one more residual evaluation per solve
    # batch fraction judging the line search
    holdout: float = solver_setting(NUMBER, 0.0, bounds=(0.0, 0.9, "between 0 (off) and 0.9"))
    # chunks of the batch summed into the normal equations
    accumulate: int = solver_setting((int,), 1, bounds=(1, None, ">= 1"))

    def __check_init__(self):
        _ = (self.source, self.assembly, self.rule)  # each part checks its settings when built

    @property
    def source(self) -> JacobianSource:
        return JacobianSource(self.jacobian, self.difference_step, self.chunk_size)

    @property
    def assembly(self) -> Assembly:
        return Assembly(self.scaling, self.accumulate)

    @property
    def rule(self) -> StepRule:
        direction = Direction(self.geodesic, self.accumulate)
        return step_rule(direction, self.line_search, self.holdout, self.max_trials, self.initial_damping)

    def init(self, loss, params) -> GaussNewtonState:
        self.source.check(loss, params)
        dtype = ravel_pytree(params)[0].dtype
        return GaussNewtonState(jnp.asarray(jnp.nan, dtype), jnp.asarray(2.0, dtype))

    def step(self, loss, params, state: GaussNewtonState, batch, key):
        rule = self.rule
        batch, held = rule.split(batch)
        # parameter-independent stencil data, once for all residuals of the step
        reusable = isinstance(loss, AbstractResidualLoss)
        prepare = (lambda b: loss.prepare(b, key)) if reusable else (lambda b: b)
        theta, unravel = ravel_pytree(params)
        fn, system, scale, jac_evals = self._linearise(loss, params, prepare, theta, unravel, batch, key)
        judge = fn
        if held is not None:
            held = prepare(held)
            judge = lambda th: loss.residuals(unravel(th), held, key)  # noqa: E731
        floor = self.min_damping * system.mean_diagonal
        lam = jnp.where(jnp.isnan(state.damping), rule.first_damping(system, floor), state.damping)
        theta, lam, nu, evals, accepted = rule(fn, judge, theta, scale, system, lam, state.growth, floor)
        stats = {
            "loss": system.loss,
            "loss_evals": jnp.asarray(1 + jac_evals) + evals,
            "damping": lam / system.mean_diagonal,
            "accepted": accepted,
        }
        return unravel(theta), GaussNewtonState(lam, nu), stats

    def _linearise(self, loss, params, prepare, theta, unravel, batch, key):
        """``(fn, system, S, cost)``: the batch's residual function of the flat parameters, the
        damped system at theta with its column scaling, and the Jacobian's residual-evaluation
        equivalents (the whole batch's Jacobian, or the normal equations summed over chunks)."""
        source, assembly = self.source, self.assembly
        if self.accumulate > 1:
            chunks = jax.lax.map(prepare, chunk_batch(batch, self.accumulate))

            def fn(th):  # the whole batch's residual, chunk by chunk
                rows = jax.lax.map(lambda chunk: loss.residuals(unravel(th), chunk, key), chunks)
                return rows.reshape(-1) / jnp.sqrt(float(self.accumulate))

            def chunk_jacobian(chunk):
                return source(loss, params, lambda th: loss.residuals(unravel(th), chunk, key), theta, chunk, key)

            system, scale, jac_evals = assembly.summed(chunk_jacobian, theta, chunks)
            return fn, system, scale, jac_evals
        batch = prepare(batch)
        fn = lambda th: loss.residuals(unravel(th), batch, key)  # noqa: E731 (same batch, same key)
        r, jac, jac_evals = source(loss, params, fn, theta, batch, key)
        system, scale = assembly.whole(r, jac)
        return fn, system, scale, jac_evals

    @property
    def name(self) -> str:
        return "gauss_newton"

    @property
    def uses_backprop(self) -> bool:
        return self.source.uses_backprop


def chunk_batch(batch: dict, chunks: int) -> dict:
    """The batch's points (interior, and each soft condition's) as ``chunks`` equal consecutive
    chunks: every (n, ...) array becomes (chunks, n // chunks, ...), the last n mod chunks dropped."""

    def chunked(a):
        size = a.shape[0] // chunks
        if size < 1:
            raise ConfigError(
                "solver.accumulate",
                f"{chunks} chunks of {a.shape[0]} points leaves them empty; "
                "raise train.batch_size (and train.boundary_batch_size) or lower solver.accumulate",
            )
        return a[: chunks * size].reshape(chunks, size, *a.shape[1:])

    return jax.tree.map(chunked, batch)


class GaussNewtonSpec(AbstractSolverSpec):
    """``gauss_newton``: Levenberg-Marquardt on the residual vector; no learning rate."""

    name = "gauss_newton"
    fields = schema_of(GaussNewton)
    learning_rates = ()

    @property
    def divergence_remedy(self) -> str:
        return "raise solver.initial_damping or solver.min_damping, or set solver.line_search (e.g. 20)"

    def build(self, settings, steps):
        """The solver from the validated settings; its parts refuse settings that do not fit together."""
        return GaussNewton(
            settings.jacobian,
            settings.initial_damping,
            settings.min_damping,
            settings.scaling,
            settings.max_trials,
            settings.difference_step,
            settings.chunk_size,
            settings.line_search,
            settings.geodesic,
            settings.holdout,
            settings.accumulate,
        )

    def perturbations(self, settings, n_params):
        """The Jacobian's columns (2 residuals each for central differences); ``layerwise`` records
        ``LAYERWISE_RECORDS`` copies of the hidden units at each node in one pass, whatever its
        ``chunk_size`` (which chunks only the columns of a first layer without per-unit weights)."""
        if settings.jacobian == "layerwise":
            return LAYERWISE_RECORDS
        return n_params * (2 if settings.jacobian == "central_difference" else 1)

    def chunks_perturbations(self, settings):
        return settings.jacobian != "layerwise"

    def tangent_columns(self, settings, first_params):
        """``layerwise``: a ``chunk_size`` of first-layer columns at once (``_jacobian.columns``),
        or all of them without one or where one chunk covers more than half of them: the single
        chunk and the remainder that ``jax.lax.map`` evaluates beside it are then scheduled together
        (benchmarks/results/reliability_memory/)."""
        if settings.jacobian != "layerwise":
            return 0
        chunk = settings.chunk_size
        return first_params if chunk is None or 2 * chunk > first_params else chunk

    def held_numbers(self, settings, n_params, rows):
        """The Jacobian of the rows it linearises (those not held out, one of ``accumulate``
        chunks) and the damped system: P x P in the normal form (always when accumulating), else
        the kernel form's rows x rows."""
        kept = -(-int(rows * (1 - settings.holdout)) // settings.accumulate)
        side = n_params if settings.accumulate > 1 else min(kept, n_params)
        return JACOBIAN_COPIES * kept * n_params + SYSTEM_COPIES * side * side

    def evaluations_per_step(self, settings, n_params, hidden_units, rows):
        """The residual, the Jacobian (layerwise: one partial pass per hidden unit, counted as
        whole; ad: one pullback per row; otherwise one or two evaluations per column) and the
        line search's lengths (or at least one damped trial), with the held-out points' residual
        before the step (held-out evaluations counted as whole)."""
        jacobian = {"layerwise": hidden_units, "ad": rows, "central_difference": 2 * n_params}
        return 1 + jacobian.get(settings.jacobian, n_params) + max(settings.line_search, 1) + int(settings.holdout > 0)
