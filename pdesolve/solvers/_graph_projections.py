"""Euclidean projections onto the graphs of elementary operations (docs/methods.md#projection-feasibility-training).

Each function returns the nearest point of its constraint set to the given point, batched over
leading axes. ``dot`` is the bilinear set ``a.b = z`` (a scalar Newton solve), ``hyperplane`` an
affine set ``c.x = e`` (closed form, optionally in a diagonally weighted metric), ``total`` the sum
``sum(x) = z`` (a hyperplane), ``relu`` two candidates, ``sin``/``tanh`` a 1-D Newton solve on
the graph distance from several starts.
"""

from collections.abc import Callable

import jax
import jax.numpy as jnp
from jaxtyping import Array, Float

# Safeguarded Newton iterations for the scalar equations (quadratic convergence; the bracket
# halves at least every other step, so 60 reach float64 resolution from any start).
_NEWTON_STEPS = 60


def _safeguarded_newton(phi: Callable, dphi: Callable, low: Array, high: Array, start: Array) -> Array:
    """The root of an increasing ``phi`` in ``(low, high)``: Newton steps, bisection when a step
    leaves the bracket (elementwise over arrays)."""

    def body(_, carry):
        t, lo, hi = carry
        value = phi(t)
        lo = jnp.where(value < 0, t, lo)
        hi = jnp.where(value > 0, t, hi)
        newton = t - value / dphi(t)
        inside = (newton > lo) & (newton < hi)
        return jnp.where(inside, newton, 0.5 * (lo + hi)), lo, hi

    t, _, _ = jax.lax.fori_loop(0, _NEWTON_STEPS, body, (start, low, high))
    return t


def dot(
    a: Float[Array, "*batch k"], b: Float[Array, "*batch k"], z: Float[Array, " *batch"]
) -> tuple[Float[Array, "*batch k"], Float[Array, "*batch k"], Float[Array, " *batch"]]:
    """Projects ``(a, b, z)`` onto ``{a'.b' = z'}``.

    Stationarity gives ``a' = (a + t b)/(1 - t^2)``, ``b' = (b + t a)/(1 - t^2)``, ``z' = z - t``
    with t the root in (-1, 1) of ``|p|^2/(2(1-t)^2) - |m|^2/(2(1+t)^2) + t - z`` where
    ``p = (a + b)/sqrt 2``, ``m = (a - b)/sqrt 2`` (equivalently
    ``((1+t^2) a.b + t (|a|^2+|b|^2))/(1-t^2)^2 = z - t``). It is increasing on (-1, 1), so the
    root is unique: safeguarded Newton from t = 0. (If ``a = +-b`` exactly and z is far beyond
    reach, the root sits at the bracket end; random data never hits this.)
    """
    plus = 0.5 * jnp.sum((a + b) ** 2, axis=-1)  # |p|^2
    minus = 0.5 * jnp.sum((a - b) ** 2, axis=-1)  # |m|^2
    phi = lambda t: plus / (2 * (1 - t) ** 2) - minus / (2 * (1 + t) ** 2) + t - z  # noqa: E731
    dphi = lambda t: plus / (1 - t) ** 3 + minus / (1 + t) ** 3 + 1  # noqa: E731
    one = jnp.ones_like(z)
    t = _safeguarded_newton(phi, dphi, -one, one, jnp.zeros_like(z))[..., None]
    scale = 1 / (1 - t**2)
    return (a + t * b) * scale, (b + t * a) * scale, z - t[..., 0]


def hyperplane(
    x: Float[Array, "*batch k"],
    c: Float[Array, "*batch k"],
    e: Float[Array, " *batch"],
    metric: Float[Array, "*batch k"] | None = None,
) -> Float[Array, "*batch k"]:
    """Projects x onto ``{c.x = e}`` in the metric ``sum_k metric_k dx_k^2`` (Euclidean when None):
    ``x - (c.x - e) M^-1 c / (c.M^-1 c)``. Rows with ``c = 0`` are returned unchanged."""
    direction = c if metric is None else c / metric
    gap = jnp.sum(c * x, axis=-1) - e
    norm = jnp.sum(c * direction, axis=-1)
    step = jnp.where(norm > 0, gap / jnp.where(norm > 0, norm, 1.0), 0.0)
    return x - step[..., None] * direction


def total(
    x: Float[Array, "*batch k"], z: Float[Array, " *batch"]
) -> tuple[Float[Array, "*batch k"], Float[Array, " *batch"]]:
    """Projects ``(x, z)`` onto ``{sum(x) = z}`` (the sum node; a bias add is the case k = 2)."""
    gap = (jnp.sum(x, axis=-1) - z) / (x.shape[-1] + 1)
    return x - gap[..., None], z + gap


def relu(x: Float[Array, "*batch"], y: Float[Array, "*batch"]) -> tuple[Float[Array, "*batch"], Float[Array, "*batch"]]:
    """Projects ``(x, y)`` onto ``{y = max(x, 0)}``: the nearer of the two branches' projections."""
    m = jnp.maximum(0.5 * (x + y), 0.0)  # onto {y = x, x >= 0}
    x0 = jnp.minimum(x, 0.0)  # onto {y = 0, x <= 0}
    on_line = (m - x) ** 2 + (m - y) ** 2 <= (x0 - x) ** 2 + y**2
    return jnp.where(on_line, m, x0), jnp.where(on_line, m, 0.0)


def _graph_projection(f, df, d2f, x, y, starts):
    """Minimises ``(s - x)^2 + (f(s) - y)^2`` over s by Newton from each start (a step that would
    go uphill uses the curvature floor 1 instead), keeping the best local minimum."""
    h = lambda s: (s - x) + (f(s) - y) * df(s)  # noqa: E731  half the derivative of the distance
    dh = lambda s: 1 + df(s) ** 2 + (f(s) - y) * d2f(s)  # noqa: E731

    def body(_, s):
        return s - h(s) / jnp.maximum(dh(s), 1.0)

    best_s, best_d = x, jnp.full_like(x, jnp.inf)
    for start in starts:
        s = jax.lax.fori_loop(0, _NEWTON_STEPS, body, start)
        dist = (s - x) ** 2 + (f(s) - y) ** 2
        best_s, best_d = jnp.where(dist < best_d, s, best_s), jnp.minimum(dist, best_d)
    return best_s, f(best_s)


def tanh(x: Float[Array, "*batch"], y: Float[Array, "*batch"]) -> tuple[Float[Array, "*batch"], Float[Array, "*batch"]]:
    """Projects ``(x, y)`` onto ``{y = tanh(x)}``; starts at x, at atanh(y) (clipped) and at 0."""
    f = jnp.tanh
    df = lambda s: 1 - jnp.tanh(s) ** 2  # noqa: E731
    d2f = lambda s: -2 * jnp.tanh(s) * (1 - jnp.tanh(s) ** 2)  # noqa: E731
    inverse = jnp.arctanh(jnp.clip(y, -0.999, 0.999))
    return _graph_projection(f, df, d2f, x, y, (x, inverse, jnp.zeros_like(x)))


def sin(x: Float[Array, "*batch"], y: Float[Array, "*batch"]) -> tuple[Float[Array, "*batch"], Float[Array, "*batch"]]:
    """Projects ``(x, y)`` onto ``{y = sin(x)}``; starts at x and at the preimages of clip(y) on
    both branches in the periods nearest x (the distance has a local minimum near each)."""
    base = jnp.arcsin(jnp.clip(y, -1.0, 1.0))
    starts = [x]
    for branch in (base, jnp.pi - base):
        k = jnp.round((x - branch) / (2 * jnp.pi))
        starts += [branch + 2 * jnp.pi * (k + shift) for shift in (-1, 0, 1)]
    return _graph_projection(jnp.sin, jnp.cos, lambda s: -jnp.sin(s), x, y, tuple(starts))


#: Graph projections of the activations an MLP may use.
ACTIVATION_PROJECTIONS = {"tanh": tanh, "sin": sin, "relu": relu}
