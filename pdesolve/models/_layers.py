"""Linear layers on batches of points: the contract every layer type (dense, TT) follows."""

import abc
import math

import equinox as eqx
import jax
import jax.numpy as jnp
from jaxtyping import Array, Float, Int, PRNGKeyArray


class AbstractLinear(eqx.Module):
    """An affine map applied row-wise: ``(n, in_size) -> (n, out_size)``."""

    in_size: eqx.AbstractVar[int]
    out_size: eqx.AbstractVar[int]

    @abc.abstractmethod
    def __call__(self, z: Float[Array, "n in"]) -> Float[Array, "n out"]:
        """Applies the layer to a batch of rows."""

    @abc.abstractmethod
    def columns(self, index: Array) -> Float[Array, "*index out"]:
        """Weight columns ``W[:, index]`` as rows: shape ``index.shape + (out_size,)``.

        For an affine layer, the layer at ``z + s e_j`` is ``layer(z) + s * columns(j)``.
        """

    def at_nodes(
        self, z: Float[Array, "n in"], coords: Int[Array, "n k"], shifts: Float[Array, "n k"]
    ) -> Float[Array, "n k out"]:
        """The layer at the stencil nodes ``z[p] + shifts[p, j] e_coords[p, j]`` without forming
        them: ``layer(z) + s * columns(j)``, O(out) per node (an affine layer; others override it)."""
        return self(z)[:, None, :] + shifts[..., None] * self.columns(coords)

    @property
    def n_params(self) -> int:
        """Number of trainable scalars in the layer."""
        leaves = jax.tree_util.tree_leaves(eqx.filter(self, eqx.is_inexact_array))
        return sum(leaf.size for leaf in leaves)


def uniform_bound(in_size: int, init: str, omega0: float = 1.0) -> float:
    """Half-width of the uniform initialisation of a dense weight with ``in_size`` inputs.

    ``init`` is ``glorot``-like ``lecun`` (1/sqrt(in)) or ``siren`` (sqrt(6/in)/omega0, for sin).
    """
    if init == "lecun":
        return 1.0 / math.sqrt(in_size)
    if init == "siren":
        return math.sqrt(6.0 / in_size) / omega0
    raise ValueError(f"unknown init {init!r}; choose 'lecun' or 'siren'")


class DenseLinear(AbstractLinear):
    """Dense ``z @ W.T + b`` with ``W`` of shape (out, in)."""

    weight: Float[Array, "out in"]
    bias: Float[Array, " out"]
    in_size: int = eqx.field(static=True)
    out_size: int = eqx.field(static=True)

    def __init__(self, in_size: int, out_size: int, *, key: PRNGKeyArray, init: str = "lecun", dtype=jnp.float32):
        wkey, bkey = jax.random.split(key)
        bound = uniform_bound(in_size, init)
        self.weight = jax.random.uniform(wkey, (out_size, in_size), dtype, -bound, bound)
        self.bias = jax.random.uniform(bkey, (out_size,), dtype, -bound, bound)
        self.in_size = in_size
        self.out_size = out_size

    def __call__(self, z: Float[Array, "n in"]) -> Float[Array, "n out"]:
        out = z @ self.weight.T
        return out + jnp.broadcast_to(self.bias, out.shape)

    def columns(self, index: Array) -> Float[Array, "*index out"]:
        return self.weight.T[index]
