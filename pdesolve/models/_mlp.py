"""Multilayer perceptron over any mix of layer types (dense, tensor-train)."""

from collections.abc import Callable, Sequence

import equinox as eqx
import jax
import jax.numpy as jnp
from jaxtyping import Array, Float, Int

from ._layers import AbstractLinear

ACTIVATIONS: dict[str, Callable[[Array], Array]] = {
    "tanh": jnp.tanh,
    "sin": jnp.sin,
    "gelu": jax.nn.gelu,
    "silu": jax.nn.silu,
    "softplus": jax.nn.softplus,
    "relu": jax.nn.relu,
}


class MLP(eqx.Module):
    """``(n, in) -> (n,)``: hidden layers with an activation, then a linear read-out of width 1."""

    layers: tuple[AbstractLinear, ...]
    activation: str = eqx.field(static=True)

    def __init__(self, layers: Sequence[AbstractLinear], activation: str):
        if activation not in ACTIVATIONS:
            raise ValueError(f"unknown activation {activation!r}; choose one of {sorted(ACTIVATIONS)}")
        if layers[-1].out_size != 1:
            raise ValueError(f"the last layer must have one output, not {layers[-1].out_size}")
        self.layers = tuple(layers)
        self.activation = activation

    def __call__(self, z: Float[Array, "n in"]) -> Float[Array, " n"]:
        return self.from_hidden(self.first_layer(z))

    def first_layer(self, z: Float[Array, "n in"]) -> Float[Array, "n w"]:
        """The first affine map ``W z + b`` (pre-activation), shape (n, w)."""
        return self.layers[0](z)

    def stencil_values(
        self, z: Float[Array, "n in"], coords: Int[Array, "n k"], shifts: Float[Array, "n k"]
    ) -> Float[Array, "n k"]:
        """The network at the stencil nodes ``z[p] + shifts[p, j] e_coords[p, j]`` through the
        stencil-aware first layer (``stencil_hidden``): O(w) per node for the first layer, not O(in w)."""
        n, k = coords.shape
        return self.from_hidden(stencil_hidden(self, z, coords, shifts)).reshape(n, k)

    def from_hidden(self, a: Float[Array, "n w"]) -> Float[Array, " n"]:
        """The network from the first pre-activation ``a`` (n, w) on: ``net(z) = from_hidden(first_layer(z))``."""
        act = ACTIVATIONS[self.activation]
        for layer in self.layers[1:]:
            a = layer(act(a))
        return a[:, 0]

    @property
    def n_params(self) -> int:
        return sum(layer.n_params for layer in self.layers)

    @property
    def dense_n_params(self) -> int:
        """Parameters of the dense network with the same widths (for compression ratios)."""
        return sum((layer.in_size + 1) * layer.out_size for layer in self.layers)


def stencil_hidden(
    network, z: Float[Array, "n in"], coords: Int[Array, "n k"], shifts: Float[Array, "n k"]
) -> Float[Array, "nk w"]:
    """The first pre-activation at the nodes ``z + s e_j`` (``AbstractLinear.at_nodes``), shape (n k, w)."""
    n, k = coords.shape
    return network.layers[0].at_nodes(z, coords, shifts).reshape(n * k, -1)
