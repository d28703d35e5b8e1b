"""Ansatz wrappers: the solution u = base(x, t) + factor(x, t) * network(x, t).

Built from the problem's conditions so that they hold exactly:

- a terminal condition g gives ``g + (T - t)/(T - t0) * N``, an initial one ``g + (t - t0)/(T - t0) * N``;
- an initial value g with an initial velocity h (equations with u_tt) gives
  ``g + (t - t0) h + ((t - t0)/(T - t0))^2 N``: u(x, t0) = g and u_t(x, t0) = h exactly;
- a Dirichlet value b multiplies N by a factor that vanishes on the boundary (ball:
  1 - |x - c|^2 / R^2; box: a product of normalised distance factors) and adds an extension E[b] of
  the boundary values into the domain. E[b] reads b on the boundary only (see
  :func:`boundary_extension`), so boundary data equal to the exact solution do not hand the
  interior to the ansatz. On a box the extension costs 3^d - 1 evaluations of b per point, so in
  ``ansatz: auto`` x-dependent data on a box of more than ``COONS_MAX_DIM`` dimensions are a loss
  instead (data that do not depend on x stay exact).

With time and boundary data together the base is ``g + E[b](x, t) - E[b](x, t0)`` (plus, with a
velocity, ``(t - t0) (h - d/dt E[b](x, t0))``). It meets the boundary values exactly when the data
are compatible on the boundary: g(x) = b(x, t0) (and h(x) = b_t(x, t0)) there; otherwise the
boundary is met only up to that mismatch.

With ``ansatz: soft`` the network stands alone and every value condition is a loss; an initial
velocity (a derivative condition, no value loss) is still built in, with the initial value, and
only the boundary data are left to losses. Neumann data (outward normal derivative) are always a
loss, and so are Robin data (a u + b u_n): :func:`condition_values` gives the quantity each soft
condition prescribes.
"""

from collections.abc import Callable
from typing import Protocol

import equinox as eqx
import jax
import jax.numpy as jnp
import sympy as sp
from jaxtyping import Array, Float

from ..problem import CompiledProblem, Domain

Field = Callable[[Float[Array, "n d"], Float[Array, " n"]], Float[Array, " n"]]


#: The trained part of a solution: z (n, k) -> (n,).
NetworkFn = Callable[[Float[Array, "n k"]], Float[Array, " n"]]


class Network(Protocol):
    """What a model spec builds: an eqx.Module mapping z (n, k) to (n,), with its trained parameter
    count and the count of the equivalent dense network."""

    @property
    def n_params(self) -> int: ...

    @property
    def dense_n_params(self) -> int: ...

    def __call__(self, z: Float[Array, "n k"]) -> Float[Array, " n"]: ...


class Solution(eqx.Module):
    """``u(x, t) = base(x, t) + factor(x, t) * network(z)`` with z = (x, t) or x; batched over n."""

    network: NetworkFn
    base: Field = eqx.field(static=True)
    factor: Field = eqx.field(static=True)
    has_time: bool = eqx.field(static=True)
    unknowns: dict | None = None  # an inverse problem's unconstrained unknowns {name: () or (d,)}, learned with it

    def __call__(self, x: Float[Array, "n d"], t: Float[Array, " n"]) -> Float[Array, " n"]:
        z = jnp.concatenate([x, t[:, None]], axis=1) if self.has_time else x
        return self.base(x, t) + self.factor(x, t) * self.network(z)


def _zero(x, t):
    return jnp.zeros_like(t)


def _one(x, t):
    return jnp.ones_like(t)


def _depends_on_x(expression: sp.Expr) -> bool:
    return "x" in {str(a.base) for a in expression.atoms(sp.Indexed)}


def _box_data_is_exact(domain: Domain, data_depends_on_x: bool) -> bool:
    """Whether ``ansatz: auto`` builds Dirichlet data on ``domain`` in exactly (else they are a loss).

    The domain needs the geometry (``Domain.exact_boundary``). Data that do not depend on x need no
    extension; x-dependent data need one that the domain can afford (``Domain.extension_affordable``:
    a box's Boolean sum reads them 3^d - 1 times per point, a ball's or annulus' radial projection twice).
    """
    return domain.exact_boundary and (not data_depends_on_x or domain.extension_affordable)


def boundary_extension(compiled: CompiledProblem) -> Field:
    """E[b](x, t): the boundary data b extended into the domain from its values on the boundary.

    Equals b on the boundary; inside, b is evaluated only at boundary points (radial projection on
    a ball or annulus, the faces, edges and corners of a box). Data that do not depend on x are
    used as given.
    """
    problem = compiled.problem
    b = compiled.conditions["boundary"]
    if not _depends_on_x(problem.conditions["boundary"]):
        return b
    return problem.domain.extension(b)


def _time_derivative(field: Field, x, t):
    """d/dt field(x, t) by forward-mode AD of the data (not of the network): shape (n,)."""
    return jax.jvp(lambda s: field(x, s), (t,), (jnp.ones_like(t),))[1]


def _time_parts(compiled: CompiledProblem, extension: Field | None) -> tuple[Field, Field]:
    """(base, time factor) for the initial/terminal (and initial-velocity) data, with the
    boundary extension's correction when there is one."""
    problem = compiled.problem
    kind = "initial" if "initial" in compiled.conditions else "terminal"
    assert problem.time is not None  # initial or terminal data exist only with time
    t0, t1 = problem.time
    t_c = t0 if kind == "initial" else t1
    g = compiled.conditions[kind]
    h = compiled.conditions.get("initial_velocity")

    def base(x, t):
        at = jnp.full_like(t, t_c)
        value = g(x, at)
        if h is not None:
            value = value + (t - t_c) * h(x, at)
        if extension is not None:
            value = value + extension(x, t) - extension(x, at)
            if h is not None:
                value = value - (t - t_c) * _time_derivative(extension, x, at)
        return value

    if h is not None:

        def factor(x, t):
            return ((t - t_c) / (t1 - t0)) ** 2
    else:
        sign = 1.0 if kind == "initial" else -1.0

        def factor(x, t):
            return sign * (t - t_c) / (t1 - t0)

    return base, factor


#: Central-difference step of the normal derivative, relative to the domain's size, by precision.
NORMAL_STEP = {jnp.dtype("float64"): 1e-4, jnp.dtype("float32"): 1e-2}


def condition_values(compiled: CompiledProblem, kind: str) -> Callable[[Field, Array, Array], Float[Array, " n"]]:
    """``values(field, x, t) -> (n,)``: what a soft condition of ``kind`` prescribes at its points:
    u for value conditions; for ``neumann`` the outward normal derivative u_n, by a central
    difference along the normal (evaluations of u only, so BP-free solvers can use it); for
    ``robin`` a u + b u_n with the problem's coefficients a(x, t), b(x, t)."""
    if kind not in ("neumann", "robin"):
        return lambda field, x, t: field(x, t)
    domain = compiled.problem.domain
    size = domain.size

    def normal_derivative(field, x, t):
        h = NORMAL_STEP.get(jnp.dtype(x.dtype), 1e-2) * size
        step = h * domain.outward_normal(x)
        return (field(x + step, t) - field(x - step, t)) / (2 * h)

    if kind == "neumann":
        return normal_derivative
    assert compiled.robin is not None  # a robin condition comes with its coefficients
    a, b = compiled.robin

    def robin(field, x, t):
        return a(x, t) * field(x, t) + b(x, t) * normal_derivative(field, x, t)

    return robin


def build_solution(compiled: CompiledProblem, network: NetworkFn, mode: str) -> tuple[Solution, tuple[str, ...]]:
    """Wraps ``network`` so that the problem's conditions hold exactly (``mode='auto'``) or are
    left to losses (``mode='soft'``; an initial velocity is still built in; Neumann data are always
    losses; in ``auto`` mode, so are Dirichlet data that :func:`_box_data_is_exact` leaves out).
    Returns the solution and the condition kinds left to soft losses.
    """
    problem = compiled.problem
    if mode not in ("auto", "soft"):
        raise ValueError(f"ansatz: unknown mode {mode!r}; choose auto or soft")
    velocity = "initial_velocity" in compiled.conditions
    if mode == "soft" and not velocity:
        return Solution(network, _zero, _one, problem.has_time), tuple(compiled.conditions)
    hard_boundary = (
        "boundary" in compiled.conditions
        and mode == "auto"
        and _box_data_is_exact(problem.domain, _depends_on_x(problem.conditions["boundary"]))
    )
    soft = tuple(
        k
        for k in ("boundary", "neumann", "robin")
        if k in compiled.conditions and not (k == "boundary" and hard_boundary)
    )
    extension = boundary_extension(compiled) if hard_boundary else None
    space_factor = problem.domain.boundary_factor() if hard_boundary else None
    if not problem.has_time:  # stationary: Dirichlet data built in, or Neumann data (a loss) alone
        return Solution(network, extension or _zero, space_factor or _one, False), soft
    base, time_factor = _time_parts(compiled, extension)
    if space_factor is None:
        return Solution(network, base, time_factor, True), soft

    def factor(x, t):
        return time_factor(x, t) * space_factor(x, t)

    return Solution(network, base, factor, True), soft
