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

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import sympy as sp
from jaxtyping import Array, Float

from ..problem import Annulus, Box, CompiledProblem, Domain

Field = Callable[[Float[Array, "n d"], Float[Array, " n"]], Float[Array, " n"]]


#: The trained part of a solution: an eqx.Module (MLP, TT network) mapping z (n, k) to (n,).
Network = Callable[[Float[Array, "n k"]], Float[Array, " n"]]


class Solution(eqx.Module):
    """``u(x, t) = base(x, t) + factor(x, t) * network(z)`` with z = (x, t) or x; batched over n."""

    network: Network
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


def _boundary_factor(domain) -> Field:
    """A smooth factor that is 0 on the boundary and 1 at the centre (or mid-shell)."""
    if isinstance(domain, Box):
        low, high = np.asarray(domain.low)[None, :], np.asarray(domain.high)[None, :]

        def box(x, t):
            return jnp.prod(4.0 * (x - low) * (high - x) / (high - low) ** 2, axis=1).astype(x.dtype)

        return box
    if isinstance(domain, Annulus):
        center, inner, outer = np.asarray(domain.center)[None, :], domain.inner, domain.outer

        def shell(x, t):
            r2 = jnp.sum((x - center) ** 2, axis=1)
            if inner == 0.0:
                return (1.0 - r2 / outer**2).astype(x.dtype)
            return ((r2 - inner**2) * (outer**2 - r2) / ((outer**2 - inner**2) / 2) ** 2).astype(x.dtype)

        return shell
    raise TypeError(f"no boundary factor for {type(domain).__name__}")


def _sphere_extension(domain: Annulus, b: Field) -> Field:
    """E[b] on a ball or annulus from values on the sphere(s) at the radial projection.

    Annulus (radii a < R): ``(1 - w) b(c + a theta) + w b(c + R theta)``, w = (r - a)/(R - a),
    theta = (x - c)/r. Ball: ``s b(c + R theta) + (1 - s) b(c + R e)`` with s = (r/R)^4 and e the
    unit diagonal, so E is smooth at the centre (where theta is undefined) and keeps constants.
    """
    center, inner, outer = np.asarray(domain.center), domain.inner, domain.outer
    diagonal = center + outer * np.ones(domain.dim) / np.sqrt(domain.dim)

    def extension(x, t):
        c = jnp.asarray(center, x.dtype)[None, :]
        y = x - c
        r2 = jnp.sum(y**2, axis=1)
        r = jnp.sqrt(jnp.where(r2 > 0, r2, 1.0))  # the guard at x = c, where the weight s is 0
        theta = y / r[:, None]
        on_outer = b(c + outer * theta, t)
        if inner == 0.0:
            s = (r2 / outer**2) ** 2
            return s * on_outer + (1.0 - s) * b(jnp.broadcast_to(diagonal, x.shape).astype(x.dtype), t)
        w = (r - inner) / (outer - inner)
        return (1.0 - w) * b(c + inner * theta, t) + w * on_outer

    return extension


#: Largest box dimension whose x-dependent Dirichlet data ``ansatz: auto`` builds in exactly: the
#: extension evaluates the data 3^d - 1 times per point (242 at d = 5, 728 at d = 6); above it they
#: are a loss (:func:`_box_data_is_exact`).
COONS_MAX_DIM = 5


def _box_codes(dim: int) -> tuple[np.ndarray, np.ndarray]:
    """The terms of the Boolean sum on a ``dim``-box: (codes (K, dim) with 0 = free, 1 = low face,
    2 = high face, all-free left out, K = 3^dim - 1; signs (K,) = (-1)^(|S| + 1), S the fixed axes)."""
    codes = np.stack(np.meshgrid(*[np.arange(3, dtype=np.int8)] * dim, indexing="ij"), axis=-1).reshape(-1, dim)[1:]
    signs = np.where(np.count_nonzero(codes, axis=1) % 2 == 1, 1.0, -1.0)
    return codes, signs


def _box_extension(domain: Box, b: Field) -> Field:
    """E[b] on a box: the transfinite (Coons-Gordon) interpolant ``E = (1 - prod_i (1 - P_i)) b``,

    ``P_i b(x) = (1 - s_i) b(x | x_i = low_i) + s_i b(x | x_i = high_i)``, s_i = (x_i - low_i)/width_i.
    Expanded, E is the sum over nonempty sets S of axes of (-1)^(|S| + 1) P_S b, P_S b the
    multilinear interpolation in the coordinates of S between the 2^|S| values of b with those
    coordinates on their faces: one term per code in {free, low, high}^d but all-free, each a
    boundary point. E = b on every face ((1 - P_i) f vanishes on the faces of axis i) and E is as
    smooth as b, edges and corners included, so (u - E)/phi is smooth for smooth u. E reproduces
    any sum of functions each affine in (or independent of) one of the coordinates, such as a sum
    of functions of one coordinate each or a multilinear function. The 3^d - 1 terms are
    accumulated one by one, so memory stays that of a few (n, d) arrays.
    """
    low, high = np.asarray(domain.low), np.asarray(domain.high)
    codes, signs = _box_codes(domain.dim)

    def extension(x, t):
        x, t = jnp.asarray(x), jnp.asarray(t)
        lows, highs = jnp.asarray(low, x.dtype), jnp.asarray(high, x.dtype)
        s = (x - lows[None, :]) / (highs - lows)[None, :]

        def add_term(total, term):
            code, sign = term
            free, on_low = code[None, :] == 0, code[None, :] == 1
            point = jnp.where(free, x, jnp.where(on_low, lows[None, :], highs[None, :]))
            weight = jnp.prod(jnp.where(free, 1.0, jnp.where(on_low, 1.0 - s, s)), axis=1)
            return total + sign * weight * b(point, t), None

        total, _ = jax.lax.scan(add_term, jnp.zeros_like(t), (jnp.asarray(codes), jnp.asarray(signs, x.dtype)))
        return total

    return extension


def _depends_on_x(expression: sp.Expr) -> bool:
    return "x" in {str(a.base) for a in expression.atoms(sp.Indexed)}


def _box_data_is_exact(domain: Domain, data_depends_on_x: bool) -> bool:
    """Whether ``ansatz: auto`` builds Dirichlet data on ``domain`` in exactly (else they are a loss).

    Data that do not depend on x need no extension, and the ball's and annulus' extensions cost two
    evaluations per point: always exact. x-dependent data on a box need the 3^d - 1 evaluations per
    point of the Boolean-sum extension: exact up to ``COONS_MAX_DIM`` dimensions only.
    """
    return not (data_depends_on_x and isinstance(domain, Box) and domain.dim > COONS_MAX_DIM)


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
    if isinstance(problem.domain, Box):
        return _box_extension(problem.domain, b)
    if isinstance(problem.domain, Annulus):
        return _sphere_extension(problem.domain, b)
    raise TypeError(f"no boundary extension for {type(problem.domain).__name__}")


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


def outward_normal(domain: Domain, x: Float[Array, "n d"]) -> Float[Array, "n d"]:
    """Unit outward normals at boundary points x (n, d): radial on a sphere (inward-pointing
    radius on an annulus' inner sphere), +-e_i on the box face nearest to each point."""
    if isinstance(domain, Annulus):
        y = x - jnp.asarray(domain.center, x.dtype)[None, :]
        r = jnp.linalg.norm(y, axis=1, keepdims=True)
        n = y / r
        if domain.inner > 0.0:
            n = jnp.where(jnp.abs(r - domain.inner) < jnp.abs(r - domain.outer), -n, n)
        return n
    if isinstance(domain, Box):
        low, high = jnp.asarray(domain.low, x.dtype)[None, :], jnp.asarray(domain.high, x.dtype)[None, :]
        gaps = jnp.concatenate([x - low, high - x], axis=1)
        face = jnp.argmin(gaps, axis=1)  # 0..d-1: a low face, d..2d-1: a high face
        sign = jnp.where(face < domain.dim, -1.0, 1.0).astype(x.dtype)
        return jax.nn.one_hot(face % domain.dim, domain.dim, dtype=x.dtype) * sign[:, None]
    raise TypeError(f"no boundary (so no normal) for {type(domain).__name__}")


def _size(domain: Domain) -> float:
    if isinstance(domain, Box):
        return float(np.mean(domain.high - domain.low))
    if isinstance(domain, Annulus):
        return float(domain.outer)
    raise TypeError(f"no boundary (so no normal) for {type(domain).__name__}")


def condition_values(compiled: CompiledProblem, kind: str) -> Callable[[Field, Array, Array], Float[Array, " n"]]:
    """``values(field, x, t) -> (n,)``: what a soft condition of ``kind`` prescribes at its points:
    u for value conditions; for ``neumann`` the outward normal derivative u_n, by a central
    difference along the normal (evaluations of u only, so BP-free solvers can use it); for
    ``robin`` a u + b u_n with the problem's coefficients a(x, t), b(x, t)."""
    if kind not in ("neumann", "robin"):
        return lambda field, x, t: field(x, t)
    domain = compiled.problem.domain
    size = _size(domain)

    def normal_derivative(field, x, t):
        h = NORMAL_STEP.get(jnp.dtype(x.dtype), 1e-2) * size
        step = h * outward_normal(domain, x)
        return (field(x + step, t) - field(x - step, t)) / (2 * h)

    if kind == "neumann":
        return normal_derivative
    assert compiled.robin is not None  # a robin condition comes with its coefficients
    a, b = compiled.robin

    def robin(field, x, t):
        return a(x, t) * field(x, t) + b(x, t) * normal_derivative(field, x, t)

    return robin


def build_solution(compiled: CompiledProblem, network: Network, mode: str) -> tuple[Solution, tuple[str, ...]]:
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
    space_factor = _boundary_factor(problem.domain) if hard_boundary else None
    if not problem.has_time:  # stationary: Dirichlet data built in, or Neumann data (a loss) alone
        return Solution(network, extension or _zero, space_factor or _one, False), soft
    base, time_factor = _time_parts(compiled, extension)
    if space_factor is None:
        return Solution(network, base, time_factor, True), soft

    def factor(x, t):
        return time_factor(x, t) * space_factor(x, t)

    return Solution(network, base, factor, True), soft
