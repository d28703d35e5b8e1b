"""Multilayer perceptron over any mix of layer types (dense, tensor-train)."""

from collections.abc import Callable, Sequence

import equinox as eqx
import jax
import jax.numpy as jnp
from jaxtyping import Array, Float

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
        act = ACTIVATIONS[self.activation]
        for layer in self.layers[:-1]:
            z = act(layer(z))
        return self.layers[-1](z)[:, 0]

    @property
    def n_params(self) -> int:
        return sum(layer.n_params for layer in self.layers)

    @property
    def dense_n_params(self) -> int:
        """Parameters of the dense network with the same widths (for compression ratios)."""
        return sum((layer.in_size + 1) * layer.out_size for layer in self.layers)
