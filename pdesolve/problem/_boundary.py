"""The boundary geometry the exact-condition ansatz needs, for boxes and spheres: a factor that
vanishes on the boundary, the extension of boundary data into the domain, the outward normal.

Functions of the shapes' numbers (not of the ``Domain`` classes, whose methods call them), on JAX
arrays. A field is ``(x (n, d), t (n,)) -> (n,)``.
"""

from collections.abc import Callable

import jax
import jax.numpy as jnp
import numpy as np
from jaxtyping import Array, Float

Field = Callable[[Float[Array, "n d"], Float[Array, " n"]], Float[Array, " n"]]

#: Largest box dimension whose x-dependent Dirichlet data ``ansatz: auto`` builds in exactly: the
#: extension evaluates the data 3^d - 1 times per point (242 at d = 5, 728 at d = 6); above it they
#: are a loss (``Box.extension_affordable``).
COONS_MAX_DIM = 5


def box_factor(low: np.ndarray, high: np.ndarray) -> Field:
    """``prod_i 4 (x_i - low_i)(high_i - x_i) / width_i^2``: 0 on the faces, 1 at the centre."""
    low, high = np.asarray(low)[None, :], np.asarray(high)[None, :]

    def box(x, t):
        return jnp.prod(4.0 * (x - low) * (high - x) / (high - low) ** 2, axis=1).astype(x.dtype)

    return box


def shell_factor(center: np.ndarray, inner: float, outer: float) -> Field:
    """Ball: ``1 - |x - c|^2 / R^2``; annulus: ``(r^2 - a^2)(R^2 - r^2) / ((R^2 - a^2) / 2)^2``,
    0 on the sphere(s), 1 at the centre (mid-shell)."""
    center = np.asarray(center)[None, :]

    def shell(x, t):
        r2 = jnp.sum((x - center) ** 2, axis=1)
        if inner == 0.0:
            return (1.0 - r2 / outer**2).astype(x.dtype)
        return ((r2 - inner**2) * (outer**2 - r2) / ((outer**2 - inner**2) / 2) ** 2).astype(x.dtype)

    return shell


def sphere_extension(center: np.ndarray, inner: float, outer: float, b: Field) -> Field:
    """E[b] on a ball or annulus from values on the sphere(s) at the radial projection.

    Annulus (radii a < R): ``(1 - w) b(c + a theta) + w b(c + R theta)``, w = (r - a)/(R - a),
    theta = (x - c)/r. Ball: ``s b(c + R theta) + (1 - s) b(c + R e)`` with s = (r/R)^4 and e the
    unit diagonal, so E is smooth at the centre (where theta is undefined) and keeps constants.
    """
    center = np.asarray(center)
    diagonal = center + outer * np.ones(len(center)) / np.sqrt(len(center))

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


def _box_codes(dim: int) -> tuple[np.ndarray, np.ndarray]:
    """The terms of the Boolean sum on a ``dim``-box: (codes (K, dim) with 0 = free, 1 = low face,
    2 = high face, all-free left out, K = 3^dim - 1; signs (K,) = (-1)^(|S| + 1), S the fixed axes)."""
    codes = np.stack(np.meshgrid(*[np.arange(3, dtype=np.int8)] * dim, indexing="ij"), axis=-1).reshape(-1, dim)[1:]
    signs = np.where(np.count_nonzero(codes, axis=1) % 2 == 1, 1.0, -1.0)
    return codes, signs


def box_extension(low: np.ndarray, high: np.ndarray, b: Field) -> Field:
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
    low, high = np.asarray(low), np.asarray(high)
    codes, signs = _box_codes(len(low))

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


def sphere_normal(center: np.ndarray, inner: float, outer: float, x: Float[Array, "n d"]) -> Float[Array, "n d"]:
    """Radial unit normals at points x (n, d) of the sphere(s); inward-pointing radius on an annulus'
    inner sphere (the outward normal of the domain there)."""
    y = x - jnp.asarray(center, x.dtype)[None, :]
    r = jnp.linalg.norm(y, axis=1, keepdims=True)
    n = y / r
    if inner > 0.0:
        n = jnp.where(jnp.abs(r - inner) < jnp.abs(r - outer), -n, n)
    return n


def box_normal(low: np.ndarray, high: np.ndarray, x: Float[Array, "n d"]) -> Float[Array, "n d"]:
    """+-e_i of the box face nearest to each point x (n, d)."""
    dim = x.shape[1]
    lows, highs = jnp.asarray(low, x.dtype)[None, :], jnp.asarray(high, x.dtype)[None, :]
    gaps = jnp.concatenate([x - lows, highs - x], axis=1)
    face = jnp.argmin(gaps, axis=1)  # 0..d-1: a low face, d..2d-1: a high face
    sign = jnp.where(face < dim, -1.0, 1.0).astype(x.dtype)
    return jax.nn.one_hot(face % dim, dim, dtype=x.dtype) * sign[:, None]
