"""Builds the network named by the ``model`` section of a config."""

import jax
import jax.numpy as jnp
from jaxtyping import PRNGKeyArray

from ..errors import ConfigError
from ._layers import AbstractLinear, DenseLinear
from ._mlp import MLP
from ._tt import TTLinear


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
    if kind == "tt_mlp":
        return MLP(_tt_layers(model_config, sizes, keys, dtype), model_config["activation"])
    raise ValueError(f"model.type: unknown network type {kind!r}")


def _per_tt_layer(model_config: dict, name: str, n_tt: int, scalar: type | None) -> list:
    """``model.<name>`` as one entry per TT layer: a list of that length, or one shared value."""
    value = model_config[name]
    if value is None or (scalar is not None and isinstance(value, scalar)):
        return [value] * n_tt
    if len(value) != n_tt:
        raise ConfigError(f"model.{name}", f"expected one entry per TT layer ({n_tt}), got {len(value)}")
    return list(value)


def _tt_layers(model_config: dict, sizes: list[int], keys, dtype) -> list[AbstractLinear]:
    """TT layers, except those listed in ``model.dense_layers`` (indices, negative from the end)."""
    n_layers = len(sizes) - 1
    dense = set()
    for index in model_config["dense_layers"]:
        if not isinstance(index, int) or not -n_layers <= index < n_layers:
            raise ConfigError("model.dense_layers", f"layer index {index!r} out of range for {n_layers} layers")
        dense.add(index % n_layers)
    tt = [i for i in range(n_layers) if i not in dense]
    ranks = _per_tt_layer(model_config, "rank", len(tt), int)
    in_factors = _per_tt_layer(model_config, "in_factors", len(tt), None)
    out_factors = _per_tt_layer(model_config, "out_factors", len(tt), None)
    layers: list[AbstractLinear] = []
    for i, (n_in, n_out, key) in enumerate(zip(sizes[:-1], sizes[1:], keys)):
        if i in dense:
            layers.append(DenseLinear(n_in, n_out, key=key, init=model_config["init"], dtype=dtype))
            continue
        j = tt.index(i)
        try:
            layers.append(
                TTLinear(n_in, n_out, key=key, rank=ranks[j], in_factors=in_factors[j], out_factors=out_factors[j],
                         n_cores=model_config["n_cores"], init=model_config["init"], path=model_config["path"],
                         dtype=dtype)
            )
        except ValueError as err:
            raise ConfigError(f"model (layer {i}: {n_in} -> {n_out})", str(err)) from None
    return layers
