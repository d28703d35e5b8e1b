"""Builds the network named by the ``model`` section of a config."""

import jax
import jax.numpy as jnp
from jaxtyping import PRNGKeyArray

from ._layers import DenseLinear
from ._mlp import MLP


def build_network(model_config: dict, in_size: int, *, key: PRNGKeyArray, dtype=jnp.float32) -> MLP:
    """``model_config`` is the validated ``model`` section: ``{type, widths, activation, init, ...}``.

    Returns a network ``(n, in_size) -> (n,)``.
    """
    kind = model_config["type"]
    sizes = [in_size, *model_config["widths"], 1]
    keys = jax.random.split(key, len(sizes) - 1)
    if kind == "mlp":
        layers = [
            DenseLinear(n_in, n_out, key=k, init=model_config["init"], dtype=dtype)
            for n_in, n_out, k in zip(sizes[:-1], sizes[1:], keys)
        ]
        return MLP(layers, model_config["activation"])
    raise ValueError(f"model.type: unknown network type {kind!r}")
