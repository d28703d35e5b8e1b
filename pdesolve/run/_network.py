"""Builds the network named by the ``model`` section of a config."""

from typing import cast

import jax
import jax.numpy as jnp
from jaxtyping import PRNGKeyArray

from ..config import MlpConfig, ModelConfig, TtMlpConfig
from ..errors import ConfigError
from ..models import MLP, AbstractLinear, DenseLinear, TTLinear
from ..models._tt import TTPath


def build_network(model: ModelConfig, in_size: int, *, key: PRNGKeyArray, dtype=jnp.float32) -> MLP:
    """The network of the validated ``model`` section (its kind is ``model.type``): ``(n, in_size) -> (n,)``."""
    sizes = [in_size, *model.widths, 1]
    keys = jax.random.split(key, len(sizes) - 1)
    match model:
        case MlpConfig():
            layers = [
                DenseLinear(n_in, n_out, key=k, init=model.init, dtype=dtype)
                for n_in, n_out, k in zip(sizes[:-1], sizes[1:], keys)
            ]
            return MLP(layers, model.activation)
        case TtMlpConfig():
            return MLP(_tt_layers(model, sizes, keys, dtype), model.activation)
    raise TypeError(f"no network for model config {model!r}")


def _per_tt_layer(model: TtMlpConfig, name: str, n_tt: int, scalar: type | None) -> list:
    """``model.<name>`` as one entry per TT layer: a list of that length, or one shared value."""
    value = getattr(model, name)
    if value is None or (scalar is not None and isinstance(value, scalar)):
        return [value] * n_tt
    if len(value) != n_tt:
        raise ConfigError(f"model.{name}", f"expected one entry per TT layer ({n_tt}), got {len(value)}")
    return list(value)


def _tt_layers(model: TtMlpConfig, sizes: list[int], keys, dtype) -> list[AbstractLinear]:
    """TT layers, except those listed in ``model.dense_layers`` (indices, negative from the end)."""
    n_layers = len(sizes) - 1
    dense = set()
    for index in model.dense_layers:
        if not isinstance(index, int) or not -n_layers <= index < n_layers:
            raise ConfigError("model.dense_layers", f"layer index {index!r} out of range for {n_layers} layers")
        dense.add(index % n_layers)
    tt = [i for i in range(n_layers) if i not in dense]
    ranks = _per_tt_layer(model, "rank", len(tt), int)
    in_factors = _per_tt_layer(model, "in_factors", len(tt), None)
    out_factors = _per_tt_layer(model, "out_factors", len(tt), None)
    layers: list[AbstractLinear] = []
    for i, (n_in, n_out, key) in enumerate(zip(sizes[:-1], sizes[1:], keys)):
        if i in dense:
            layers.append(DenseLinear(n_in, n_out, key=key, init=model.init, dtype=dtype))
            continue
        j = tt.index(i)
        try:
            layers.append(
                TTLinear(
                    n_in,
                    n_out,
                    key=key,
                    rank=ranks[j],
                    in_factors=in_factors[j],
                    out_factors=out_factors[j],
                    n_cores=model.n_cores,
                    init=model.init,
                    path=cast(TTPath, model.path),  # one of the config's choices
                    dtype=dtype,
                )
            )
        except ValueError as err:
            raise ConfigError(f"model (layer {i}: {n_in} -> {n_out})", str(err)) from None
    return layers
