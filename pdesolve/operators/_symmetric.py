"""Central differences along a symmetry's own directions: an exact stencil at any d.

A field u(x, t) = U(Q^T (x - c), |x - c|^2, t) (a network on the symmetry features, ``model.inputs:
subspace``, with symmetric data) changes at x only along span(Q) (d x k, orthonormal) and along the
radial direction e = P (x - c) / |P (x - c)|, P the projection off span(Q). Along any unit v
orthogonal to both, u(x + s v) = U(z, r + s^2, t) is the same function of s. With central
differences D_w, D_ww along a unit direction w:

    grad u = Q D_Q u + e D_e u,        lap u = sum_j D_{q_j q_j} u + D_ee u + (d - k - 1) D_vv u,

where (d - k - 1) D_vv u is one second difference along v at the step h sqrt(d - k - 1) (``_steps``):
2 (k + 2) + 1 nodes per point (plus the time pair), the same count at every d, and without the
sampling noise of random coordinates. v is built from a fixed generic vector, so it is never
parallel to Q or e (``probes``). Single Hessian entries and Hessian contractions are not invariant
under the symmetry: the symmetry search refuses problems that read them.
"""

import dataclasses

import jax.numpy as jnp
import numpy as np
from jaxtyping import Array, Float

from ..frozen import Frozen
from ..problem import Subspace
from ._base import Ansatz

#: Operators the symmetric stencil computes: the rest do not stay invariant under the rotations.
SYMMETRIC_OPERATORS = frozenset({"u", "u_t", "u_tt", "u_x", "lap_u"})

#: Radial part |P (x - c)| relative to |x - c| below which e is taken from ``probes``: the radial
#: direction's round-off (eps |x - c| / |P (x - c)|) stays far below the differences' error, and the
#: slope along e that the fallback drops is at most this fraction of |x - c| times U_r.
RADIAL_FLOOR = 1e-6


def _unit(v: Float[Array, "n d"]) -> Float[Array, "n d"]:
    """Rows of ``v`` scaled to unit length (zero rows stay zero)."""
    norm = jnp.sqrt(jnp.sum(v * v, axis=-1, keepdims=True))
    return v / jnp.where(norm > 0, norm, 1.0)


@dataclasses.dataclass(frozen=True)
class SymmetryStencil:
    """The directions Q (d, k) and centre c (d,) of a ``Subspace``, with two fixed generic vectors
    ``probes`` (d, 2) that complete the frame (the radial fallback at x - c in span(Q), and v)."""

    basis: Frozen
    centre: Frozen
    probes: Frozen

    @classmethod
    def of(cls, subspace: Subspace) -> "SymmetryStencil":
        probes = np.random.default_rng(0).standard_normal((subspace.basis.shape[0], 2))
        return cls(Frozen(subspace.basis), Frozen(subspace.centre), Frozen(probes))

    @property
    def count(self) -> int:
        """Directions per point: the k columns of Q, e and v."""
        return self.basis.array.shape[1] + 2

    def directions(self, x: Float[Array, "n d"]) -> Float[Array, "n k+2 d"]:
        """Unit directions per point: the columns of Q, the radial e, and v orthogonal to both."""
        q = jnp.asarray(self.basis.array, x.dtype)
        probes = jnp.asarray(self.probes.array, x.dtype).T  # (2, d)
        probes = probes - (probes @ q) @ q.T  # off span(Q)
        offset = x - jnp.asarray(self.centre.array, x.dtype)[None, :]
        radial = offset - (offset @ q) @ q.T
        radial = radial - (radial @ q) @ q.T  # again: the first pass leaves round-off of size eps |offset|
        has_radial = jnp.sum(radial * radial, axis=1, keepdims=True) > (RADIAL_FLOOR**2) * jnp.sum(
            offset * offset, axis=1, keepdims=True
        )
        e = _unit(jnp.where(has_radial, radial, probes[:1]))
        v = _unit(probes[1:] - jnp.sum(e * probes[1:], axis=1, keepdims=True) * e)
        return jnp.concatenate([jnp.broadcast_to(q.T, (x.shape[0], *q.T.shape)), e[:, None], v[:, None]], axis=1)

    def _steps(self, dim: int, h: float) -> np.ndarray:
        """The step along each direction: h, and h sqrt(d - k - 1) along v. u(x + s v) depends on s
        through |x - c|^2 + s^2 only, so one pair at that step weighs 1 / h^2 and equals d - k - 1
        pairs at step h (weight (d - k - 1) / h^2 on one pair would multiply its round-off so much);
        the radius moves by (d - k - 1) h^2, which the radial feature's scale, about d, makes O(h^2)."""
        k = self.basis.array.shape[1]
        return np.array([h] * (k + 1) + [h * np.sqrt(max(dim - k - 1, 0))])

    def nodes(
        self, x: Float[Array, "n d"], t: Float[Array, " n"], parts: tuple[bool, bool, bool], h: float
    ) -> tuple[Float[Array, "n m d"], Float[Array, "n m"], Float[Array, "n k+2 d"] | None]:
        """The stencil's nodes (coordinates, times) and its directions (None without space pairs):
        [x], x + h w, x - h w for each direction w, [(x, t + h), (x, t - h)]; ``parts`` says which of
        (centre, space pairs, time pair) the operators need."""
        centre, space, time = parts
        directions = self.directions(x) if space else None
        xs, ts = [], []
        if centre:
            xs, ts = [x[:, None]], [t[:, None]]
        if directions is not None:
            moves = self._steps(x.shape[1], h).astype(x.dtype)[None, :, None] * directions
            xs += [x[:, None] + moves, x[:, None] - moves]
            ts += [jnp.repeat(t[:, None], 2 * self.count, axis=1)]
        if time:
            xs.append(jnp.repeat(x[:, None], 2, axis=1))
            ts.append(t[:, None] + jnp.array([[h, -h]], x.dtype))
        return jnp.concatenate(xs, axis=1), jnp.concatenate(ts, axis=1), directions

    def operators(
        self, values: Float[Array, "n m"], directions: Float[Array, "n k+2 d"] | None, parts, needs, h: float
    ) -> dict[str, Array]:
        """The operators of ``needs`` from the values at the ``nodes`` of these ``parts`` and ``directions``."""
        unsupported = {n if isinstance(n, str) else "a Hessian contraction" for n in needs} - SYMMETRIC_OPERATORS
        if unsupported:
            raise ValueError(f"the symmetric stencil cannot compute {', '.join(sorted(unsupported))}")
        centre, _space, time = parts
        f0 = values[:, 0] if centre else jnp.zeros_like(values[:, 0])  # unread without the centre
        out: dict[str, Array] = {"u": f0} if "u" in needs else {}
        if directions is not None:
            k, m = self.basis.array.shape[1], self.count
            plus, minus = values[:, int(centre) : int(centre) + m], values[:, int(centre) + m : int(centre) + 2 * m]
            if "u_x" in needs:  # grad u lies in span(Q, e)
                slopes = (plus[:, : k + 1] - minus[:, : k + 1]) / (2 * h)
                out["u_x"] = jnp.einsum("nj,njd->nd", slopes, directions[:, : k + 1])
            if "lap_u" in needs:  # v's pair, moved by h sqrt(d - k - 1), stands for all d - k - 1 alike
                out["lap_u"] = jnp.sum(plus + minus - 2 * f0[:, None], axis=1) / h**2
        if time:
            out.update(time_operators(values, f0, needs, h))
        return out


def time_operators(values: Float[Array, "n m"], f0: Float[Array, " n"], needs, h: float) -> dict[str, Array]:
    """``u_t`` and ``u_tt`` (those in ``needs``) from a stencil whose last two nodes are (x, t + h),
    (x, t - h), with ``f0`` the value at the centre."""
    t_plus, t_minus = values[:, -2], values[:, -1]
    out = {"u_t": (t_plus - t_minus) / (2 * h)} if "u_t" in needs else {}
    if "u_tt" in needs:
        out["u_tt"] = (t_plus + t_minus - 2 * f0) / h**2
    return out


def field_at_nodes(
    u, xs: Float[Array, "n m d"], ts: Float[Array, "n m"], parts: tuple[Array, Array] | None = None
) -> Float[Array, "n m"]:
    """``u`` at the node coordinates; for an ansatz, ``base + factor * network`` with (base, factor)
    from ``parts`` when given (``ansatz_at_nodes``, computed once per batch)."""
    n, m, d = xs.shape
    flat_x, flat_t = xs.reshape(-1, d), ts.reshape(-1)
    if not isinstance(u, Ansatz):
        return u(flat_x, flat_t).reshape(n, m)
    base, factor = parts if parts is not None else ansatz_at_nodes(u, xs, ts)
    z = jnp.concatenate([flat_x, flat_t[:, None]], axis=1) if u.has_time else flat_x
    return base + factor * u.network(z).reshape(n, m)


def ansatz_at_nodes(u: Ansatz, xs: Float[Array, "n m d"], ts: Float[Array, "n m"]) -> tuple[Array, Array]:
    """The ansatz's parameter-free (base, factor) at the node coordinates, each (n, m)."""
    n, m, d = xs.shape
    flat_x, flat_t = xs.reshape(-1, d), ts.reshape(-1)
    return u.base(flat_x, flat_t).reshape(n, m), u.factor(flat_x, flat_t).reshape(n, m)
