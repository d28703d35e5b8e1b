"""Ansatz wrappers: the solution u = base(x, t) + factor(x, t) * network(x, t).

Built from the problem's conditions so that they hold exactly: a terminal condition g gives
``g + (T - t)/(T - t0) * N``, an initial one ``g + (t - t0)/(T - t0) * N``; a Dirichlet boundary
value b multiplies N by a factor that vanishes on the boundary (ball: 1 - |x - c|^2 / R^2; box: a
product of normalised distance factors) and adds b. With both, the base
``g(x) + b(x, t) - b(x, t_c)`` (t_c the condition time) meets both, given compatible data.
"""

from collections.abc import Callable

import equinox as eqx
import jax.numpy as jnp
import numpy as np
from jaxtyping import Array, Float

from ..problem import Annulus, Box, CompiledProblem

Field = Callable[[Float[Array, "n d"], Float[Array, " n"]], Float[Array, " n"]]


class Solution(eqx.Module):
    """``u(x, t) = base(x, t) + factor(x, t) * network(z)`` with z = (x, t) or x; batched over n."""

    network: eqx.Module
    base: Field = eqx.field(static=True)
    factor: Field = eqx.field(static=True)
    has_time: bool = eqx.field(static=True)

    def __call__(self, x: Float[Array, "n d"], t: Float[Array, " n"]) -> Float[Array, " n"]:
        z = jnp.concatenate([x, t[:, None]], axis=1) if self.has_time else x
        return self.base(x, t) + self.factor(x, t) * self.network(z)


def _zero(x, t):
    return jnp.zeros_like(t)


def _one(x, t):
    return jnp.ones_like(t)


def _boundary_factor(domain) -> Field:
    """A smooth factor that is 0 on the boundary and 1 at the centre (or mid-shell)."""
    if isinstance(domain, Box):
        low, high = np.asarray(domain.low), np.asarray(domain.high)

        def box(x, t):
            return jnp.prod(4.0 * (x - low) * (high - x) / (high - low) ** 2, axis=1).astype(x.dtype)

        return box
    if isinstance(domain, Annulus):
        center, inner, outer = np.asarray(domain.center), domain.inner, domain.outer

        def shell(x, t):
            r2 = jnp.sum((x - center) ** 2, axis=1)
            if inner == 0.0:
                return (1.0 - r2 / outer**2).astype(x.dtype)
            return ((r2 - inner**2) * (outer**2 - r2) / ((outer**2 - inner**2) / 2) ** 2).astype(x.dtype)

        return shell
    raise TypeError(f"no boundary factor for {type(domain).__name__}")


def build_solution(compiled: CompiledProblem, network: eqx.Module, mode: str) -> tuple[Solution, tuple[str, ...]]:
    """Wraps ``network`` so that the problem's conditions hold exactly (``mode='auto'``) or not at
    all (``mode='soft'``). Returns the solution and the condition kinds left to soft losses.
    """
    problem = compiled.problem
    if mode == "soft":
        return Solution(network, _zero, _one, problem.has_time), tuple(compiled.conditions)
    if mode != "auto":
        raise ValueError(f"ansatz: unknown mode {mode!r}; choose auto or soft")

    time_kind = next((k for k in ("initial", "terminal") if k in compiled.conditions), None)
    boundary = compiled.conditions.get("boundary")
    time_factor = space_factor = None
    if time_kind is not None:
        t0, t1 = problem.time
        t_c = t0 if time_kind == "initial" else t1
        g = compiled.conditions[time_kind]
        sign = 1.0 if time_kind == "initial" else -1.0
        time_factor = lambda x, t: sign * (t - t_c) / (t1 - t0)  # noqa: E731
    if boundary is not None:
        space_factor = _boundary_factor(problem.domain)

    if time_kind is not None and boundary is not None:
        def base(x, t):
            at_tc = jnp.full_like(t, t_c)
            return g(x, at_tc) + boundary(x, t) - boundary(x, at_tc)

        def factor(x, t):
            return time_factor(x, t) * space_factor(x, t)
    elif time_kind is not None:
        def base(x, t):
            return g(x, jnp.full_like(t, t_c))

        factor = time_factor
    else:
        base, factor = boundary, space_factor
    return Solution(network, base, factor, problem.has_time), ()
