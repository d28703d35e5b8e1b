"""Chunking over points, shared by the stencil engines (memory bound: ``operators.chunk_size``)."""

from collections.abc import Callable

import jax
import jax.numpy as jnp
from jaxtyping import Array, Float


def map_over_points(
    fn: Callable[..., dict[str, Array]],
    x: Float[Array, "n d"],
    t: Float[Array, " n"],
    chunk_size: int | None,
    *extra: Array,
) -> dict[str, Array]:
    """``fn(x, t, *extra)``, evaluated ``chunk_size`` points at a time by ``jax.lax.map`` when set.

    ``extra`` are further per-point arrays (leading axis n, e.g. drawn coordinates). ``fn`` maps
    points to arrays with a leading points axis. The last chunk is padded with copies of the last
    point and the padding dropped from the result.
    """
    n = x.shape[0]
    if chunk_size is None or chunk_size >= n:
        return fn(x, t, *extra)
    n_chunks = -(-n // chunk_size)
    pad = n_chunks * chunk_size - n

    def split(a):
        widths = ((0, pad),) + ((0, 0),) * (a.ndim - 1)
        return jnp.pad(a, widths, mode="edge").reshape(n_chunks, chunk_size, *a.shape[1:])

    out = jax.lax.map(lambda args: fn(*args), tuple(split(a) for a in (x, t, *extra)))
    return jax.tree.map(lambda a: a.reshape(n_chunks * chunk_size, *a.shape[2:])[:n], out)
