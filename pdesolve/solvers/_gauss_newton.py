"""Gauss-Newton / Levenberg-Marquardt training on the stacked residual vector of a batch.

Each step linearises the residual r(theta) of the batch (m rows) over all P parameters,
r(theta + delta) ~ r + J delta, with J from finite differences of forward queries (BP-free),
forward-mode tangents, or reverse-mode autodiff (the reference), and takes the damped step

    (J^T J + lam D) delta = -J^T r        (normal form, m >= P), or
    delta = -J^T (J J^T + lam I)^-1 r     (kernel/Woodbury form, m < P, same step for D = I),

with D = I or Marquardt's diag(J^T J) (applied as the column scaling J -> J S^-1). The damping
adapts by the gain ratio rho = actual / predicted reduction of |r|^2 (Nielsen's rule): a step with
rho > 0 is taken and lam *= max(1/3, 1 - (2 rho - 1)^3); otherwise lam *= nu, nu *= 2, and the
step is retried with the same Jacobian (at most ``max_trials`` solves per step).

Three options change how far the step goes. ``line_search = n > 0`` replaces the gain-ratio loop by
the energy-natural-gradient recipe (Mueller & Zeinhofer, 2023): one solve at the damping floor
(``min_damping``), then |r|^2 at the step lengths 1, 1/2, ..., 2^-(n-1) along it on the same batch
(n forward evaluations, no derivative), the best taken if it lowers |r|^2. ``holdout = f > 0``
keeps the last fraction f of the batch's points out of the Jacobian and judges the line search on
them instead: with about as many rows as parameters, the full step fits the batch's own points
(their residual drops far more than a fresh batch's), and held-out points pick the length that
generalises (benchmarks/results/gauss_newton_options/). ``geodesic`` adds
Transtrum & Sethna's geodesic acceleration to every solve: the second directional derivative of the
residual along the step v by a finite difference of residuals (one more evaluation, the same
factorisation), and the step v + a / 2. ``accumulate = k > 1`` sums the normal equations of k
chunks of the batch (``chunk_batch``): more rows per step at the memory of one chunk plus P x P.
"""

import equinox as eqx
import jax
import jax.numpy as jnp
import jax.scipy.linalg as jsl
from jax.flatten_util import ravel_pytree
from jaxtyping import Array, Float

from ..errors import ConfigError
from ..fields import NUMBER, OPTIONAL_INT, OPTIONAL_NUMBER, schema_of
from ..loss import AbstractResidualLoss, PinnLoss
from ._base import AbstractSolver
from ._jacobian import JACOBIANS
from ._jacobian import jacobian as compute_jacobian
from ._layerwise import supports
from ._spec import AbstractSolverSpec, solver_setting
from ._unknown_columns import layerwise_with_unknowns

SCALINGS = ("identity", "marquardt")
#: Geodesic acceleration (Transtrum & Sethna, 2012): the finite-difference step along the damped
#: step v for the residual's second directional derivative, and the largest accepted 2|a| / |v|.
GEODESIC_STEP = 0.1
GEODESIC_RATIO = 0.75


class GaussNewtonState(eqx.Module):
    """The damping ``lam`` (NaN until the first Jacobian sets it) and Nielsen's growth factor ``nu``."""

    damping: Float[Array, ""]
    growth: Float[Array, ""]


class _DampedSystem(eqx.Module):
    """Solves ``(G + lam I) y = -g`` for ``G = A^T A``, ``g = A^T r`` of an (m, P) matrix A and residual r.

    ``build`` keeps A and works in the smaller of the two forms (kernel m x m when m < P);
    ``from_normal`` takes G, g and |r|^2 summed over chunks of rows (normal form, A not kept).
    """

    gram: Float[Array, "k k"]  # A^T A (k = P) or A A^T (k = m)
    gradient: Float[Array, " p"]  # A^T r
    loss: Float[Array, ""]  # |r|^2
    matrix: Float[Array, "m p"] | None
    residual: Float[Array, " m"] | None
    kernel: bool = eqx.field(static=True)

    @classmethod
    def build(cls, matrix, residual):
        m, p = matrix.shape
        kernel = m < p
        gram = matrix @ matrix.T if kernel else matrix.T @ matrix
        return cls(gram, matrix.T @ residual, jnp.sum(residual**2), matrix, residual, kernel)

    @classmethod
    def from_normal(cls, gram, gradient, loss):
        return cls(gram, gradient, loss, None, None, False)

    @property
    def mean_diagonal(self) -> Float[Array, ""]:
        """trace(A^T A) / P: the size of the curvature, for relative damping."""
        return jnp.trace(self.gram) / self.gradient.shape[0]

    def factor(self, lam: Float[Array, ""]):
        """The Cholesky factor of the damped Gram matrix (reused for several right-hand sides)."""
        return jsl.cho_factor(self.gram + lam * jnp.eye(self.gram.shape[0], dtype=self.gram.dtype))

    @property
    def kept(self) -> tuple[Float[Array, "m p"], Float[Array, " m"]]:
        """A and r, which ``build`` keeps and the normal form (``from_normal``) does not."""
        if self.matrix is None or self.residual is None:
            raise ValueError("the normal form keeps no matrix A; build the system with _DampedSystem.build")
        return self.matrix, self.residual

    def step(self, factor) -> Float[Array, " p"]:
        """``-(G + lam I)^-1 g`` with ``factor = self.factor(lam)``."""
        if self.kernel:
            matrix, residual = self.kept
            return -matrix.T @ jsl.cho_solve(factor, residual)
        return jsl.cho_solve(factor, -self.gradient)

    def apply(self, factor, residual: Float[Array, " m"]) -> Float[Array, " p"]:
        """``-(A^T A + lam I)^-1 A^T residual`` for another residual (needs A: ``build``)."""
        matrix, _ = self.kept
        if self.kernel:
            return -matrix.T @ jsl.cho_solve(factor, residual)
        return jsl.cho_solve(factor, -matrix.T @ residual)

    def solve(self, lam: Float[Array, ""]) -> Float[Array, " p"]:
        return self.step(self.factor(lam))

    def predicted_reduction(self, y: Float[Array, " p"]) -> Float[Array, ""]:
        """``|r|^2 - |r + A y|^2`` of the linearised residual."""
        if self.matrix is not None and self.residual is not None:  # kept together (build)
            return self.loss - jnp.sum((self.residual + self.matrix @ y) ** 2)
        return -(2 * self.gradient @ y + y @ (self.gram @ y))


def _check_layerwise(loss, params) -> None:
    """The activity-perturbation Jacobian needs a PINN loss, an MLP of dense and tensor-train
    layers, and an engine that only evaluates the network (autodiff operators differentiate it)."""
    if not isinstance(loss, PinnLoss) or not supports(eqx.combine(params, loss.static).network):
        raise ConfigError(
            "solver.jacobian",
            "layerwise needs a PINN loss on an MLP of dense and tensor-train "
            "layers (model.type mlp or tt_mlp); use forward_difference",
        )
    if loss.engine.differentiates_network:
        raise ConfigError(
            "solver.jacobian",
            "layerwise needs operators that evaluate the network (fd, sg, se), "
            "not autodiff operators; use operators.method fd, or jacobian ad with operators ad",
        )
    if loss.engine.point_chunk is not None:  # lax.map over chunks hides the per-node records
        raise ConfigError(
            "operators.chunk_size",
            f"layerwise evaluates all stencil nodes of the batch at once, "
            f"got chunk_size {loss.engine.point_chunk}; unset operators.chunk_size (lower "
            "train.batch_size to save memory), or use solver.jacobian forward_difference",
        )


class GaussNewton(AbstractSolver):
    """Levenberg-Marquardt over all parameters on ``loss.residuals`` (see the module docstring).

    ``jacobian``: layerwise | forward_difference | central_difference (BP-free) | jvp | ad;
    ``layerwise`` needs an MLP with dense layers after the first (see ``_layerwise``).
    ``initial_damping``: lam at the first step relative to trace(J^T J) / P.
    ``min_damping``: the same, a floor that keeps the damped system well conditioned.
    ``difference_step``: finite-difference step (None: by precision), relative to the parameters
    (``forward_difference``, ``central_difference``), on the pre-activations (``layerwise``).
    ``chunk_size``: Jacobian columns per vectorised call (None: all at once; a chunk keeps the
    columns' intermediates in cache: benchmarks/results/gauss_newton_options/).
    ``line_search``: 0 (the gain-ratio loop) or the number n of step lengths 2^0 .. 2^-(n-1) tried
    along one solve at the damping floor (n residual evaluations per step; see ``_line_search``).
    ``geodesic``: geodesic acceleration of every solve (one residual evaluation each; ``_direction``).
    ``holdout``: the fraction of the batch's points kept out of the Jacobian, on which the line search
    chooses the step length (``split_batch``; needs ``line_search``).
    ``accumulate``: the number k of chunks whose normal equations are summed into one step
    (``chunk_batch``): m rows at the memory of m / k rows plus P x P, always in the normal form.
    """

    jacobian: str = solver_setting((str,), "forward_difference", choices=("layerwise", *JACOBIANS))
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
        if self.jacobian not in ("layerwise", *JACOBIANS):
            raise ValueError(
                f"solver.jacobian: unknown {self.jacobian!r}; choose layerwise or one of {', '.join(JACOBIANS)}"
            )
        if self.scaling not in SCALINGS:
            raise ValueError(f"solver.scaling: unknown {self.scaling!r}; choose one of {', '.join(SCALINGS)}")

    def init(self, loss, params) -> GaussNewtonState:
        if self.jacobian == "layerwise":
            _check_layerwise(loss, params)
        dtype = ravel_pytree(params)[0].dtype
        return GaussNewtonState(jnp.asarray(jnp.nan, dtype), jnp.asarray(2.0, dtype))

    def step(self, loss, params, state: GaussNewtonState, batch, key):
        batch, held = split_batch(batch, self.holdout) if self.holdout else (batch, None)
        # parameter-independent stencil data, once for all residuals of the step
        reusable = isinstance(loss, AbstractResidualLoss)
        prepare = (lambda b: loss.prepare(b, key)) if reusable else (lambda b: b)
        theta, unravel = ravel_pytree(params)
        if self.accumulate > 1:
            chunks = jax.lax.map(prepare, chunk_batch(batch, self.accumulate))

            def fn(th):  # the whole batch's residual, chunk by chunk
                rows = jax.lax.map(lambda chunk: loss.residuals(unravel(th), chunk, key), chunks)
                return rows.reshape(-1) / jnp.sqrt(float(self.accumulate))

            system, scale, jac_evals = self._accumulated_system(loss, params, theta, unravel, chunks, key)
        else:
            batch = prepare(batch)
            fn = lambda th: loss.residuals(unravel(th), batch, key)  # noqa: E731 (same batch, same key)
            r, jac, jac_evals = self._jacobian(loss, params, fn, theta, batch, key)
            scale = self._column_scale(jnp.sum(jac**2, axis=0))
            system = _DampedSystem.build(jac / scale[None, :], r)
        judge = fn
        if held is not None:
            held = prepare(held)
            judge = lambda th: loss.residuals(unravel(th), held, key)  # noqa: E731
        floor = self.min_damping * system.mean_diagonal
        start = floor if self.line_search else self.initial_damping * system.mean_diagonal
        lam = jnp.where(jnp.isnan(state.damping), start, state.damping)
        if self.line_search:
            theta, lam, nu, evals, accepted = self._line_search(
                fn, judge, theta, scale, system, lam, state.growth, floor
            )
        else:
            theta, lam, nu, evals, accepted = self._trials(fn, theta, scale, system, lam, state.growth, floor)
        stats = {
            "loss": system.loss,
            "loss_evals": jnp.asarray(1 + jac_evals) + evals,
            "damping": lam / system.mean_diagonal,
            "accepted": accepted,
        }
        return unravel(theta), GaussNewtonState(lam, nu), stats

    def _column_scale(self, squared_norms: Float[Array, " p"]) -> Float[Array, " p"]:
        """The column scaling S of ``J S^-1``: Marquardt's |J e_j| (1 for a zero column), or ones."""
        if self.scaling == "marquardt":
            return jnp.where(squared_norms > 0, jnp.sqrt(squared_norms), 1.0)
        return jnp.ones_like(squared_norms)

    def _accumulated_system(self, loss, params, theta, unravel, chunks, key):
        """The normal equations summed over the batch's ``accumulate`` chunks, one chunk's Jacobian
        in memory at a time, scaled like the whole batch's (``(sum_i J_i^T J_i, sum_i J_i^T r_i,
        sum_i |r_i|^2) / accumulate``: each chunk's residual is scaled by its own point count), with
        the column scaling; returns ``(system, scale, residual-evaluation equivalents)``."""

        def add(totals, chunk):
            r, jac, evals = self._jacobian(
                loss, params, lambda th: loss.residuals(unravel(th), chunk, key), theta, chunk, key
            )
            gram, gradient, squares = totals
            return (gram + jac.T @ jac, gradient + jac.T @ r, squares + r @ r), jnp.asarray(evals)

        p = theta.shape[0]
        zeros = (jnp.zeros((p, p), theta.dtype), jnp.zeros(p, theta.dtype), jnp.zeros((), theta.dtype))
        (gram, gradient, squares), evals = jax.lax.scan(add, zeros, chunks)
        k = self.accumulate
        gram, gradient, squares = gram / k, gradient / k, squares / k
        scale = self._column_scale(jnp.diagonal(gram))
        system = _DampedSystem.from_normal(gram / jnp.outer(scale, scale), gradient / scale, squares)
        return system, scale, jnp.sum(evals)

    def _jacobian(self, loss, params, fn, theta, batch, key):
        """``(r, J, cost)``: the residual vector, its Jacobian and the residual-evaluation equivalents it cost."""
        if self.jacobian == "layerwise":
            return layerwise_with_unknowns(
                lambda u: loss.residuals_of(u, batch, key),
                eqx.combine(params, loss.static),
                self.difference_step,
                self.chunk_size,
            )
        r = fn(theta)
        jac, evals = compute_jacobian(
            self.jacobian, fn, theta, r, step=self.difference_step, chunk_size=self.chunk_size
        )
        return r, jac, evals

    def _direction(self, fn, theta, scale, system, lam):
        """The damped Gauss-Newton step at ``lam`` and whether it passes the geodesic check.

        With ``geodesic``, the step is ``v + a / 2`` (Transtrum & Sethna, 2012): v the damped step,
        a the damped solve against the second directional derivative of the residual along v,
        ``r''_v ~ (2 / h) ((r(theta + h v) - r) / h - J v)`` (one more residual evaluation, the same
        factorisation); the check ``2 |a| <= GEODESIC_RATIO |v|`` (in the scaled metric) fails where
        the acceleration is too large to trust.
        """
        factor = system.factor(lam)
        velocity = system.step(factor) / scale
        if not self.geodesic:
            return velocity, jnp.asarray(True)
        h, r = GEODESIC_STEP, system.residual
        second = (2 / h) * ((fn(theta + h * velocity) - r) / h - system.matrix @ (velocity * scale))
        accel = system.apply(factor, second) / scale
        small = 2 * jnp.linalg.norm(accel * scale) <= GEODESIC_RATIO * jnp.linalg.norm(velocity * scale)
        return velocity + 0.5 * accel, small

    def _trials(self, fn, theta, scale, system, lam, nu, floor):
        """Damped solves with the same Jacobian until one lowers |r|^2 (or ``max_trials``); returns
        ``(theta, lam, nu, residual evaluations, accepted)``."""

        def body(carry):
            lam, nu, trials, _, best = carry
            delta, small = self._direction(fn, theta, scale, system, lam)
            new_loss = jnp.sum(fn(theta + delta) ** 2)
            predicted = system.predicted_reduction(delta * scale)
            rho = (system.loss - new_loss) / predicted
            ok = jnp.isfinite(new_loss) & jnp.all(jnp.isfinite(delta)) & (predicted > 0) & (rho > 0) & small
            shrink = jnp.maximum(1 / 3, 1 - (2 * rho - 1) ** 3)
            lam = jnp.maximum(jnp.where(ok, lam * shrink, lam * nu), floor)
            nu = jnp.where(ok, 2.0, 2.0 * nu)
            return lam, nu, trials + 1, ok, jnp.where(ok, theta + delta, best)

        def more(carry):
            _, _, trials, ok, _ = carry
            return ~ok & (trials < self.max_trials)

        start = (jnp.maximum(lam, floor), nu, jnp.asarray(0), jnp.asarray(False), theta)
        lam, nu, trials, ok, theta = jax.lax.while_loop(more, body, start)
        return theta, lam, nu, trials * (1 + int(self.geodesic)), ok

    def _line_search(self, fn, judge, theta, scale, system, lam, nu, floor):
        """Energy-natural-gradient style (Mueller & Zeinhofer, 2023): one solve at ``lam`` (the
        floor ``min_damping``, raised only after a failed search), then the residual ``judge`` (the
        batch's, or its held-out points') at the step lengths 1, 1/2, ..., 2^-(line_search - 1)
        along it (forward evaluations); the length with the least |r|^2 is taken if it lowers
        ``judge``'s |r|^2. On success lam returns towards the floor (/3); otherwise the parameters
        stay and lam *= nu, nu *= 2."""
        delta, small = self._direction(fn, theta, scale, system, lam)
        if self.geodesic:  # a failed geodesic check keeps the plain (velocity) direction
            delta = jnp.where(small, delta, system.solve(lam) / scale)
        lengths = 0.5 ** jnp.arange(self.line_search, dtype=theta.dtype)
        losses = jax.lax.map(lambda length: jnp.sum(judge(theta + length * delta) ** 2), lengths)
        losses = jnp.where(jnp.isfinite(losses), losses, jnp.inf)
        best = jnp.argmin(losses)
        before = system.loss if judge is fn else jnp.sum(judge(theta) ** 2)
        ok = (losses[best] < before) & jnp.all(jnp.isfinite(delta))
        new_theta = jnp.where(ok, theta + lengths[best] * delta, theta)
        lam = jnp.where(ok, jnp.maximum(lam / 3, floor), lam * nu)
        nu = jnp.where(ok, 2.0, 2.0 * nu)
        return new_theta, lam, nu, self.line_search + int(self.geodesic) + int(judge is not fn), ok

    @property
    def name(self) -> str:
        return "gauss_newton"

    @property
    def uses_backprop(self) -> bool:
        return self.jacobian == "ad"


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


def split_batch(batch: dict, fraction: float) -> tuple[dict, dict]:
    """``(fit, held)``: the batch's points (interior, and each soft condition's) but the last
    ``round(fraction * n)`` (at least one), and those last ones."""

    def kept(a) -> int:
        k = a.shape[0] - max(1, round(fraction * a.shape[0]))
        if k < 1:
            raise ConfigError(
                "solver.holdout",
                f"{fraction} of {a.shape[0]} points leaves none for the Jacobian; "
                "raise train.batch_size (and train.boundary_batch_size) or lower solver.holdout",
            )
        return k

    return jax.tree.map(lambda a: a[: kept(a)], batch), jax.tree.map(lambda a: a[kept(a) :], batch)


class GaussNewtonSpec(AbstractSolverSpec):
    """``gauss_newton``: Levenberg-Marquardt on the residual vector; no learning rate."""

    name = "gauss_newton"
    fields = schema_of(GaussNewton)
    learning_rates = ()

    @property
    def divergence_remedy(self) -> str:
        return "raise solver.initial_damping or solver.min_damping, or set solver.line_search (e.g. 20)"

    def build(self, settings, steps):
        if settings.holdout and not settings.line_search:
            raise ConfigError(
                "solver.holdout",
                f"{settings.holdout} needs the line search that the held-out "
                "points judge; set solver.line_search (e.g. 20) or solver.holdout 0",
            )
        if settings.accumulate > 1 and settings.geodesic:
            raise ConfigError(
                "solver.geodesic",
                f"geodesic acceleration needs the whole Jacobian, which "
                f"solver.accumulate {settings.accumulate} does not keep; set solver.geodesic false "
                "or solver.accumulate 1",
            )
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
        """The Jacobian's columns (2 residuals each for central differences); layerwise columns are
        linearised residuals, at most as large as one evaluation each."""
        return n_params * (2 if settings.jacobian == "central_difference" else 1)

    def evaluations_per_step(self, settings, n_params, hidden_units, rows):
        """The residual, the Jacobian (layerwise: one partial pass per hidden unit, counted as
        whole; ad: one pullback per row; otherwise one or two evaluations per column) and the
        line search's lengths (or at least one damped trial), with the held-out points' residual
        before the step (held-out evaluations counted as whole)."""
        jacobian = {"layerwise": hidden_units, "ad": rows, "central_difference": 2 * n_params}
        return 1 + jacobian.get(settings.jacobian, n_params) + max(settings.line_search, 1) + int(settings.holdout > 0)
