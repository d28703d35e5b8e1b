"""Second derivatives along arbitrary directions by central differences (Hessian contractions).

For a ``SecondDirections`` operator ``sum_m w_m v_m^T (hess u) v_m``: with unit directions
``e_m = v_m / |v_m|`` and step h, ``v_m^T (hess u) v_m ~ |v_m|^2 (u(x + h e_m) + u(x - h e_m) - 2 u(x)) / h^2``
(error O(h^2)): 2k + 1 evaluations of u per point, each O(d) for a network, so linear in d for
fixed k. With ``samples`` set below the rank, Hutchinson directions (``SecondDirections.sample``)
make an unbiased estimate at 2 samples + 1 nodes (per sign of the weights).
"""

import jax.numpy as jnp
from jaxtyping import Array, Float, PRNGKeyArray

from ..problem import SecondDirections, directions_in

__all__ = ["directions_in", "fd_directional", "random_directions"]


def random_directions(needs, dim: int, samples: int | None) -> bool:
    """Whether a contraction of ``needs`` is estimated with random directions at ``samples`` per set."""
    return samples is not None and samples < dim and any(h.rank > samples for h in directions_in(needs))


def fd_directional(
    u,
    x: Float[Array, "n d"],
    t: Float[Array, " n"],
    hessian: SecondDirections,
    h: float,
    samples: int | None = None,
    key: PRNGKeyArray | None = None,
) -> Float[Array, " n"]:
    """The contraction ``hessian`` at the points by central differences with step ``h``: shape (n,)."""
    if samples is not None and samples < hessian.rank:
        if key is None:
            raise ValueError("random Hessian directions need a key")
        directions, weights = hessian.sample(key, x, t, samples)
    else:
        directions, weights = hessian.directions(x, t), jnp.asarray(hessian.weights, x.dtype)
    n, k, d = directions.shape
    norms = jnp.sqrt(jnp.sum(directions**2, axis=-1))  # (n, k)
    unit = directions / jnp.where(norms > 0, norms, 1.0)[..., None]
    nodes = jnp.concatenate([x[:, None, :], x[:, None, :] + h * unit, x[:, None, :] - h * unit], axis=1)
    values = u(nodes.reshape(-1, d), jnp.repeat(t, 2 * k + 1)).reshape(n, 2 * k + 1)
    centre, plus, minus = values[:, :1], values[:, 1 : k + 1], values[:, k + 1 :]
    return ((plus + minus - 2 * centre) / h**2 * norms**2) @ weights
