"""Builds the network named by the ``model`` section of a config."""

import jax.numpy as jnp
from jaxtyping import PRNGKeyArray

from ..config import ModelConfig
from ..models import Network, model_spec


def build_network(model: ModelConfig, in_size: int, *, key: PRNGKeyArray, dtype=jnp.float32) -> Network:
    """The network of the validated ``model`` section, built by the spec registered for its
    ``model.type``: ``(n, in_size) -> (n,)``."""
    return model_spec(model.kind).build(model, in_size, key=key, dtype=dtype)
