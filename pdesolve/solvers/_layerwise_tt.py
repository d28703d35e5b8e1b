"""A tensor-train layer's Gauss-Newton columns from its unit deltas and inputs (BP-free).

For a TT layer ``z = W(G_1..G_L) a + b`` after the first, the network changes with a core ``G_k``
only through ``z``: ``dN/dG_k = delta^T (dW/dG_k) a``, ``delta = dN/dz`` (the activity differences
of ``_layerwise``). ``W`` is linear in each core, so the forward-mode tangent of the contraction
``W a`` along a unit tangent ``E`` of ``G_k`` is the same contraction with ``G_k`` replaced by
``E``; chained with ``delta`` and taken for all unit tangents of ``G_k`` at once it is

    dN/dG_k[al, i, j, be] = sum_{p, q} X_{k-1}[p, al, (j, q)] U_k[(p, i), be, q],

``X_{k-1}`` the input swept through cores 1..k-1 (as ``_tt._contract``: (M_<k, r_{k-1}, N_>=k)) and
``U_k`` the deltas swept through cores L..k+1 over their output indices ((M_<=k, r_k, N_>k)).
That is O(r^2 m_k n_k M_<k N_>k) per node and core, against one contraction of every node per
column for ``jax.jvp`` with one unit tangent at a time (``tests/test_gauss_newton.py`` checks
the columns against ``jax.jacfwd`` of the residual). No derivative of the network is taken.
"""

import math

import jax
import jax.numpy as jnp
from jaxtyping import Array, Float, Int

from ..models import TTLinear

#: Elements of the sweep states held per chunk of nodes (64 MiB in float64).
CHUNK_ELEMENTS = 1 << 23


def _padded(values: Float[Array, "n k"], size: int) -> Float[Array, "n size"]:
    return jnp.pad(values, ((0, 0), (0, size - values.shape[1])))


def _left_states(cores, a: Float[Array, "b in"]) -> list:
    """``X_0 .. X_{L-1}``: ``a`` swept through cores 1..k, each (b, M_<=k, r_k, N_>k)."""
    b = a.shape[0]
    x, states = a.reshape(b, 1, 1, -1), []
    for core in cores[:-1]:
        states.append(x)
        r_prev, m, n, r_next = core.shape
        x = jnp.einsum("bpajq,aijc->bpicq", x.reshape(b, x.shape[1], r_prev, n, -1), core)
        x = x.reshape(b, x.shape[1] * m, r_next, -1)
    return [*states, x]


def _right_states(cores, delta: Float[Array, "b out"]) -> list:
    """``U_1 .. U_L``: ``delta`` swept through cores L..k+1 over output indices, (b, M_<=k, r_k, N_>k)."""
    b = delta.shape[0]
    u, states = delta.reshape(b, -1, 1, 1), []
    for core in cores[:0:-1]:
        states.append(u)
        r_prev, m, _n, r_next = core.shape
        u = jnp.einsum("bpicq,aijc->bpajq", u.reshape(b, -1, m, r_next, u.shape[3]), core)
        u = u.reshape(b, u.shape[1], r_prev, -1)
    return [u, *states[::-1]]


def _node_tables(layer: TTLinear, a: Float[Array, "b in"], delta: Float[Array, "b out"]) -> Float[Array, "b q"]:
    """Per node, ``dN/dG_k`` for every core (ravel order), then ``dN/db = delta`` if the layer has a bias."""
    b = a.shape[0]
    a = _padded(a, math.prod(layer.in_factors))
    lefts = _left_states(layer.cores, a)
    rights = _right_states(layer.cores, _padded(delta, math.prod(layer.out_factors)))
    tables = []
    for core, x, u in zip(layer.cores, lefts, rights):
        r_prev, m, n, r_next = core.shape
        x = x.reshape(b, x.shape[1], r_prev, n, -1)
        u = u.reshape(b, x.shape[1], m, r_next, -1)
        tables.append(jnp.einsum("bpajq,bpicq->baijc", x, u).reshape(b, -1))
    if layer.bias is not None:
        tables.append(delta)
    return jnp.concatenate(tables, axis=1)


def _chunk(layer: TTLinear) -> int:
    """Nodes per chunk: the sweep states of one node are about ``2 L r_max`` times the padded width."""
    width = max(math.prod(layer.in_factors), math.prod(layer.out_factors))
    return max(1, CHUNK_ELEMENTS // (2 * len(layer.cores) * max((1, *layer.ranks)) * width))


def tt_layer_columns(
    layer: TTLinear,
    inputs: Float[Array, "N in"],
    deltas: Float[Array, "N out"],
    weights: Float[Array, " N"],
    rows: Int[Array, " N"],
    m: int,
) -> Float[Array, "m q"]:
    """``dr_row/dtheta = sum over the row's nodes n of w_n dN_n/dtheta`` for the layer's parameters
    (ravel order: cores, then bias): the per-node tables in chunks of nodes, summed into rows."""
    scaled = weights[:, None] * deltas
    n, chunk = inputs.shape[0], _chunk(layer)
    count = -(-n // chunk)

    def pieces(values, fill=0):
        padding = [(0, count * chunk - n)] + [(0, 0)] * (values.ndim - 1)
        return jnp.pad(values, padding, constant_values=fill).reshape(count, chunk, *values.shape[1:])

    def add(total, piece):
        a, delta, row = piece
        return total + jax.ops.segment_sum(_node_tables(layer, a, delta), row, m), None

    zeros = jnp.zeros((m, layer.n_params), inputs.dtype)
    total, _ = jax.lax.scan(add, zeros, (pieces(inputs), pieces(scaled), pieces(rows)))
    return total
