"""Exact derivative operators of a batched field by forward-mode autodiff: jvps, no full Hessian.

The problem's manufactured source (``source: from_exact``) and the autodiff operator engine
(``pdesolve.operators.AutodiffEngine``) both take their derivatives from here.
"""

import jax
import jax.numpy as jnp
from jaxtyping import Array, Float

from ._hessian import directions_in

#: Tangent elements (directions x points x coordinates) per vectorised call of the coordinate
#: derivatives: beyond it the directions go in chunks (``jax.lax.map``), which bounds the memory
#: of a d-dimensional Laplacian at O(TANGENT_ELEMENTS) instead of O(n d^2) (gigabytes at d = 1000
#: for a manufactured source of a sum over the coordinates).
TANGENT_ELEMENTS = 2**22


def forward_operators(u, x: Float[Array, "n d"], t: Float[Array, " n"], needs: frozenset[str]) -> dict[str, Array]:
    """The operators ``needs`` (names as in ``pdesolve.operators.OPERATOR_SHAPES``) of the batched
    field ``u(x (n, d), t (n,)) -> (n,)`` at the points: values (n,), or (n, d) for ``u_x``, ``u_xx``.

    The points are independent, so one jvp of the batched field with a tangent that is the same
    unit vector at every point gives that directional derivative at all points at once. Second
    derivatives are jvp-of-jvp along each coordinate (d passes, vmapped), so only the Hessian
    diagonal is ever formed; a Hessian contraction (``SecondDirections`` in ``needs``) is jvp-of-jvp
    along its k directions (``directional_derivatives``). The d directions are vmapped in chunks of at most
    ``TANGENT_ELEMENTS / (n d)`` (the same values, bounded memory).
    """
    out: dict[str, Array] = {}
    dim = x.shape[1]
    if "u" in needs:
        out["u"] = u(x, t)

    def along_x(direction: Float[Array, " d"]):
        tangent = jnp.broadcast_to(direction, x.shape)
        return lambda xx: jax.jvp(lambda y: u(y, t), (xx,), (tangent,))[1]

    def first_and_second(direction):
        first = along_x(direction)
        return first(x), jax.jvp(first, (x,), (jnp.broadcast_to(direction, x.shape),))[1]

    eye = jnp.eye(dim, dtype=x.dtype)
    per_call = max(1, TANGENT_ELEMENTS // max(1, x.size))

    def over_directions(fn):
        """``fn`` of every unit direction, stacked on axis 1: (n, d) per output."""
        if per_call >= dim:
            return jax.vmap(fn, out_axes=1)(eye)
        return jax.tree.map(lambda a: jnp.moveaxis(a, 0, 1), jax.lax.map(fn, eye, batch_size=per_call))

    if needs & {"u_xx", "lap_u"}:
        grads, diag = over_directions(first_and_second)  # (n, d) each
        if "u_x" in needs:
            out["u_x"] = grads
        if "u_xx" in needs:
            out["u_xx"] = diag
        if "lap_u" in needs:
            out["lap_u"] = jnp.sum(diag, axis=1)
    elif "u_x" in needs:
        out["u_x"] = over_directions(lambda e: along_x(e)(x))

    for hessian in directions_in(needs):
        _, second = directional_derivatives(u, x, t, hessian.directions(x, t))
        out[hessian.name] = second @ jnp.asarray(hessian.weights, x.dtype)

    if needs & {"u_t", "u_tt"}:
        out |= _time_derivatives(u, x, t, needs)
    return out


def _time_derivatives(u, x: Float[Array, "n d"], t: Float[Array, " n"], needs: frozenset[str]) -> dict[str, Array]:
    """``u_t`` and ``u_tt`` (n,) of the batched field ``u``, those of them in ``needs``."""
    ones = jnp.ones_like(t)

    def d_t(tt):
        return jax.jvp(lambda s: u(x, s), (tt,), (ones,))[1]

    if "u_tt" not in needs:
        return {"u_t": d_t(t)}
    u_t, u_tt = jax.jvp(d_t, (t,), (ones,))
    return {"u_t": u_t, "u_tt": u_tt} if "u_t" in needs else {"u_tt": u_tt}


def directional_derivatives(
    u, x: Float[Array, "n d"], t: Float[Array, " n"], directions: Float[Array, "n k d"]
) -> tuple[Float[Array, "n k"], Float[Array, "n k"]]:
    """First and second derivatives of the batched field ``u`` along k directions per point
    (``v . grad u`` and ``v^T (hess u) v``): a jvp of a jvp per direction, vmapped over k."""

    def along(v):
        def first(xx):
            return jax.jvp(lambda y: u(y, t), (xx,), (v,))[1]

        return jax.jvp(first, (x,), (v,))

    return jax.vmap(along, in_axes=1, out_axes=1)(directions)
