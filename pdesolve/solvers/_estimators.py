"""Gradient estimates of a loss of flat parameters from loss values (zeroth order) or jvps.

Every estimator returns ``(g, loss_at_theta, loss_evals)`` for a flat parameter vector theta of
size D. Perturbed losses evaluate in one vmapped call over perturbations (chunked by
``chunk_size`` perturbations with ``jax.lax.map``; ``pdesolve.solve`` sets an unset one to what
fits in memory, see ``pdesolve.limits.fit_solver_chunk``).
"""

import abc
from collections.abc import Callable

import equinox as eqx
import jax
import jax.numpy as jnp
from jaxtyping import Array, Float, PRNGKeyArray, Scalar

from ..fields import MAX_POINTS, NUMBER, OPTIONAL_INT, Field, schema_of
from ._spec import solver_field, solver_setting

FlatLoss = Callable[[Float[Array, " D"]], Scalar]
COUNT = (1, MAX_POINTS, f"between 1 and {MAX_POINTS}")
DIRECTIONS = ("gaussian", "rademacher")

CHUNK_SIZE = Field(OPTIONAL_INT, None, bounds=(1, None, ">= 1, or unset"))


def _batched(fn, xs, chunk_size: int | None):
    """``vmap(fn)(xs)``, or ``lax.map`` in chunks of ``chunk_size`` rows."""
    if chunk_size is None or chunk_size >= xs.shape[0]:
        return jax.vmap(fn)(xs)
    return jax.lax.map(fn, xs, batch_size=chunk_size)


class AbstractGradientEstimator(eqx.Module):
    """Estimates grad L(theta) without reverse-mode differentiation."""

    @abc.abstractmethod
    def __call__(
        self, loss: FlatLoss, theta: Float[Array, " D"], key: PRNGKeyArray
    ) -> tuple[Float[Array, " D"], Scalar, int]:
        """Returns (gradient estimate (D,), L(theta), number of loss evaluations)."""


class RandomGradientEstimator(AbstractGradientEstimator):
    """RGE: ``g = mean_i [(L(th + mu u_i) - L(th - mu u_i)) / (2 mu)] u_i`` (antithetic) or with
    ``(L(th + mu u_i) - L(th)) / mu`` (one-sided); u_i Gaussian or Rademacher (``directions``)."""

    samples: int = solver_setting((int,), 10, static=False, bounds=COUNT)  # N random directions per step
    mu: float = solver_setting(NUMBER, 0.01, static=False, positive=True)  # perturbation size
    directions: str = solver_setting((str,), "rademacher", choices=DIRECTIONS)
    antithetic: bool = solver_setting((bool,), True)
    # perturbations per vectorised call; unset: as many as fit in limits.AUTO_CHUNK_BYTES (limits.fit_solver_chunk)
    chunk_size: int | None = solver_field(CHUNK_SIZE)

    def __check_init__(self):
        if self.directions not in DIRECTIONS:
            raise ValueError(f"solver.directions: unknown {self.directions!r}; choose gaussian or rademacher")

    def __call__(self, loss, theta, key):
        shape = (self.samples, theta.size)
        if self.directions == "gaussian":
            u = jax.random.normal(key, shape, theta.dtype)
        else:
            u = jax.random.rademacher(key, shape, theta.dtype)
        if self.antithetic:
            points = jnp.concatenate([theta[None] + self.mu * u, theta[None] - self.mu * u, theta[None]])
            values = _batched(loss, points, self.chunk_size)
            plus, minus, value = values[: self.samples], values[self.samples : -1], values[-1]
            slopes = (plus - minus) / (2 * self.mu)
        else:
            points = jnp.concatenate([theta[None] + self.mu * u, theta[None]])
            values = _batched(loss, points, self.chunk_size)
            value = values[-1]
            slopes = (values[:-1] - value) / self.mu
        return slopes @ u / self.samples, value, points.shape[0]


class CoordinateGradientEstimator(AbstractGradientEstimator):
    """CGE: ``g_j = (L(th + mu e_j) - L(th)) / mu`` (or central) for every coordinate j, or for a
    random block of ``block_size`` coordinates per step (the others get 0)."""

    mu: float = solver_setting(NUMBER, 0.1, static=False, positive=True)
    central: bool = solver_setting((bool,), False)
    block_size: int | None = solver_setting(  # per step
        OPTIONAL_INT, None, bounds=(1, None, ">= 1, or unset (all coordinates)")
    )
    chunk_size: int | None = solver_field(CHUNK_SIZE)

    def __call__(self, loss, theta, key):
        size = theta.size
        if self.block_size is None or self.block_size >= size:
            coords = jnp.arange(size)
        else:
            coords = jax.random.choice(key, size, (self.block_size,), replace=False)
        value = loss(theta)
        plus = _batched(lambda j: loss(theta.at[j].add(self.mu)), coords, self.chunk_size)
        if self.central:
            minus = _batched(lambda j: loss(theta.at[j].add(-self.mu)), coords, self.chunk_size)
            slopes = (plus - minus) / (2 * self.mu)
        else:
            slopes = (plus - value) / self.mu
        g = jnp.zeros_like(theta).at[coords].set(slopes)
        return g, value, 1 + coords.size * (2 if self.central else 1)


class ForwardGradientEstimator(AbstractGradientEstimator):
    """Multi-tangent forward gradient: directional derivatives a = V^T grad L by ``jax.jvp``
    (forward mode, no backward pass) along K Gaussian tangents, combined plainly (``V a / K``) or
    by the orthogonal projection of grad L onto span(V): ``V (V^T V)^-1 a``."""

    tangents: int = solver_setting((int,), 4, static=False, bounds=COUNT)
    combine: str = solver_setting((str,), "projection", choices=("plain", "projection"))

    def __check_init__(self):
        if self.combine not in ("plain", "projection"):
            raise ValueError(f"solver.combine: unknown {self.combine!r}; choose plain or projection")

    def __call__(self, loss, theta, key):
        v = jax.random.normal(key, (self.tangents, theta.size), theta.dtype)  # rows are tangents
        values, slopes = jax.vmap(lambda t: jax.jvp(loss, (theta,), (t,)))(v)
        g = slopes @ v / self.tangents if self.combine == "plain" else v.T @ jnp.linalg.solve(v @ v.T, slopes)
        return g, values[0], self.tangents


RGE_FIELDS = schema_of(RandomGradientEstimator)
CGE_FIELDS = schema_of(CoordinateGradientEstimator)
FORWARD_FIELDS = schema_of(ForwardGradientEstimator)


def random_estimator(settings) -> RandomGradientEstimator:
    """The RGE of solver settings with ``RGE_FIELDS``."""
    return RandomGradientEstimator(
        settings.samples, settings.mu, settings.directions, settings.antithetic, settings.chunk_size
    )


def random_evaluations(settings) -> int:
    """Loss evaluations of one RGE call: the perturbed points and the centre."""
    return settings.samples * (2 if settings.antithetic else 1) + 1
