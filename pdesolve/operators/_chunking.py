"""Chunking over points, shared by the stencil engines (memory bound: ``operators.chunk_size``)."""

from collections.abc import Callable

import jax
import jax.numpy as jnp
from jaxtyping import Array, Float


def map_over_points(
    fn: Callable[[Float[Array, "c d"], Float[Array, " c"]], dict[str, Array]],
    x: Float[Array, "n d"],
    t: Float[Array, " n"],
    chunk_size: int | None,
) -> dict[str, Array]:
    """``fn(x, t)``, evaluated ``chunk_size`` points at a time by ``jax.lax.map`` when set.

    ``fn`` maps points to arrays with a leading points axis. The last chunk is padded with
    copies of the last point and the padding dropped from the result.
    """
    n = x.shape[0]
    if chunk_size is None or chunk_size >= n:
        return fn(x, t)
    n_chunks = -(-n // chunk_size)
    pad = n_chunks * chunk_size - n
    xs = jnp.pad(x, ((0, pad), (0, 0)), mode="edge").reshape(n_chunks, chunk_size, -1)
    ts = jnp.pad(t, (0, pad), mode="edge").reshape(n_chunks, chunk_size)
    out = jax.lax.map(lambda xt: fn(*xt), (xs, ts))
    return jax.tree.map(lambda a: a.reshape(n_chunks * chunk_size, *a.shape[2:])[:n], out)
