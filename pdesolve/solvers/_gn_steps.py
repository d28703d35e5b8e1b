"""How far a Gauss-Newton step goes: the direction of one damped solve and the step-length rules.

``Direction`` is the damped step v at lam, with Transtrum & Sethna's geodesic acceleration as an
option (``v + a / 2``, a the damped solve against the residual's second directional derivative
along v, by a finite difference of residuals: one more evaluation, the same factorisation).

``GainRatio`` is Levenberg-Marquardt with Nielsen's rule: the gain ratio rho = actual / predicted
reduction of |r|^2; a step with rho > 0 is taken and lam *= max(1/3, 1 - (2 rho - 1)^3); otherwise
lam *= nu, nu *= 2 and the step is retried with the same Jacobian (at most ``max_trials`` solves).

``GridLineSearch`` is the energy-natural-gradient recipe (Mueller & Zeinhofer, 2023): one solve at
the damping floor, then |r|^2 at the step lengths 1, 1/2, ..., 2^-(n-1) along it (n forward
evaluations, no derivative), the best taken if it lowers |r|^2. With ``holdout = f > 0`` the last
fraction f of the batch's points stay out of the Jacobian and judge the lengths instead: with about
as many rows as parameters the full step fits the batch's own points, and held-out points pick the
length that generalises (benchmarks/results/gauss_newton_options/).
"""

import equinox as eqx
import jax
import jax.numpy as jnp

from ..errors import ConfigError
from ._gn_system import DampedSystem

#: Geodesic acceleration (Transtrum & Sethna, 2012): the finite-difference step along the damped
#: step v for the residual's second directional derivative, and the largest accepted 2|a| / |v|.
GEODESIC_STEP = 0.1
GEODESIC_RATIO = 0.75


class Direction(eqx.Module):
    """The damped step at lam, with geodesic acceleration if ``geodesic``; the acceleration needs
    the whole batch's Jacobian, which a system summed over ``accumulate > 1`` chunks does not keep."""

    geodesic: bool = eqx.field(static=True)
    accumulate: int = eqx.field(static=True)

    def __check_init__(self):
        if self.geodesic and self.accumulate > 1:
            raise ConfigError(
                "solver.geodesic",
                f"geodesic acceleration needs the whole Jacobian, which "
                f"solver.accumulate {self.accumulate} does not keep; set solver.geodesic false "
                "or solver.accumulate 1",
            )

    @property
    def evaluations(self) -> int:
        """Residual evaluations per direction beyond the Jacobian (the geodesic's one)."""
        return int(self.geodesic)

    def __call__(self, fn, theta, scale, system: DampedSystem, lam):
        """``(delta, small)``: the step at ``lam`` in the parameters and whether it passes the
        geodesic check ``2 |a| <= GEODESIC_RATIO |v|`` (in the scaled metric; always without the
        acceleration), with ``r''_v ~ (2 / h) ((r(theta + h v) - r) / h - J v)``."""
        factor = system.factor(lam)
        velocity = system.step(factor) / scale
        if not self.geodesic:
            return velocity, jnp.asarray(True)
        matrix, r = system.kept
        h = GEODESIC_STEP
        second = (2 / h) * ((fn(theta + h * velocity) - r) / h - matrix @ (velocity * scale))
        accel = system.apply(factor, second) / scale
        small = 2 * jnp.linalg.norm(accel * scale) <= GEODESIC_RATIO * jnp.linalg.norm(velocity * scale)
        return velocity + 0.5 * accel, small


class GainRatio(eqx.Module):
    """Damped solves with the same Jacobian until one lowers |r|^2 (Nielsen's rule), starting from
    lam = ``initial_damping`` trace(A^T A) / P."""

    direction: Direction
    max_trials: int = eqx.field(static=True)
    initial_damping: float = eqx.field(static=True)

    def __check_init__(self):
        if self.max_trials < 1:
            raise ConfigError("solver.max_trials", f"got {self.max_trials}; the gain-ratio loop needs at least 1")

    def split(self, batch):
        """``(fit, held)``: the whole batch fits; no held-out points."""
        return batch, None

    def first_damping(self, system: DampedSystem, floor):
        return self.initial_damping * system.mean_diagonal

    def __call__(self, fn, judge, theta, scale, system: DampedSystem, lam, nu, floor):
        """``(theta, lam, nu, residual evaluations, accepted)``; ``judge`` is ``fn`` here."""

        def body(carry):
            lam, nu, trials, _, best = carry
            delta, small = self.direction(fn, theta, scale, system, lam)
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
        return theta, lam, nu, trials * (1 + self.direction.evaluations), ok


class GridLineSearch(eqx.Module):
    """One solve at lam (the floor, raised only after a failed search), then ``judge``'s |r|^2 (the
    batch's, or with ``holdout`` its held-out points') at the ``lengths`` step lengths 1, 1/2, ...;
    the best is taken if it lowers ``judge``'s |r|^2. On success lam returns towards the floor
    (/3); otherwise the parameters stay and lam *= nu, nu *= 2."""

    direction: Direction
    lengths: int = eqx.field(static=True)
    holdout: float = eqx.field(static=True)

    def __check_init__(self):
        if self.lengths < 1 and self.holdout:
            raise ConfigError(
                "solver.holdout",
                f"{self.holdout} needs the line search that the held-out "
                "points judge; set solver.line_search (e.g. 20) or solver.holdout 0",
            )
        if self.lengths < 1:
            raise ConfigError("solver.line_search", f"got {self.lengths}; a line search needs at least 1 length")
        if not 0.0 <= self.holdout < 1.0:
            raise ConfigError("solver.holdout", f"got {self.holdout}; use a fraction in [0, 1) (0: off)")

    def split(self, batch):
        """``(fit, held)``: the batch without its held-out points, and those (None without ``holdout``)."""
        return split_batch(batch, self.holdout) if self.holdout else (batch, None)

    def first_damping(self, system: DampedSystem, floor):
        return floor

    def __call__(self, fn, judge, theta, scale, system: DampedSystem, lam, nu, floor):
        """``(theta, lam, nu, residual evaluations, accepted)``."""
        delta, small = self.direction(fn, theta, scale, system, lam)
        if self.direction.geodesic:  # a failed geodesic check keeps the plain (velocity) direction
            delta = jnp.where(small, delta, system.solve(lam) / scale)
        lengths = 0.5 ** jnp.arange(self.lengths, dtype=theta.dtype)
        losses = jax.lax.map(lambda length: jnp.sum(judge(theta + length * delta) ** 2), lengths)
        losses = jnp.where(jnp.isfinite(losses), losses, jnp.inf)
        best = jnp.argmin(losses)
        before = system.loss if judge is fn else jnp.sum(judge(theta) ** 2)
        ok = (losses[best] < before) & jnp.all(jnp.isfinite(delta))
        new_theta = jnp.where(ok, theta + lengths[best] * delta, theta)
        lam = jnp.where(ok, jnp.maximum(lam / 3, floor), lam * nu)
        nu = jnp.where(ok, 2.0, 2.0 * nu)
        return new_theta, lam, nu, self.lengths + self.direction.evaluations + int(judge is not fn), ok


StepRule = GainRatio | GridLineSearch


def step_rule(direction: Direction, line_search: int, holdout: float, max_trials: int, initial_damping: float):
    """The grid line search if ``line_search`` or ``holdout`` asks for one (it refuses a holdout
    without lengths), the gain-ratio loop otherwise."""
    if line_search or holdout:
        return GridLineSearch(direction, line_search, holdout)
    return GainRatio(direction, max_trials, initial_damping)


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
