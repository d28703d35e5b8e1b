"""The two MLP kinds: ``mlp`` (dense layers) and ``tt_mlp`` (tensor-train hidden layers)."""

from typing import cast

import jax
from jaxtyping import PRNGKeyArray

from ..errors import ConfigError
from ..fields import Field
from ._layers import AbstractLinear, DenseLinear
from ._mlp import ACTIVATIONS, MLP
from ._projected import ProjectedInput
from ._spec import INPUTS_FIELD, MAX_LAYERS, AbstractModelSpec, widths_field
from ._tt import TTLinear, TTPath

_ACTIVATIONS = tuple(sorted(ACTIVATIONS))  # the activation functions the models know
_INITS = ("lecun", "siren")


def _sizes_and_keys(settings, in_size: int, key: PRNGKeyArray) -> tuple[list[int], jax.Array]:
    sizes = [in_size, *settings.widths, 1]
    return sizes, jax.random.split(key, len(sizes) - 1)


def _with_projected_input(layers: list[AbstractLinear], subspace, settings, key, dtype) -> list[AbstractLinear]:
    """``layers`` with the first replaced by a ``ProjectedInput`` on ``subspace``'s features (if given)."""
    if subspace is None:
        return layers
    first = ProjectedInput(subspace, layers[0].in_size, layers[0].out_size, key=key, init=settings.init, dtype=dtype)
    return [first, *layers[1:]]


class MlpSpec(AbstractModelSpec):
    """``mlp``: a dense network."""

    type_name = "mlp"
    fields = {
        "widths": widths_field([64, 64]),
        "activation": Field((str,), "tanh", choices=_ACTIVATIONS),
        "init": Field((str,), "lecun", choices=_INITS),
        "inputs": INPUTS_FIELD,
    }

    def build(self, settings, in_size, *, key, dtype, subspace=None):
        sizes, keys = _sizes_and_keys(settings, in_size, key)
        layers: list[AbstractLinear] = [
            DenseLinear(n_in, n_out, key=k, init=settings.init, dtype=dtype)
            for n_in, n_out, k in zip(sizes[:-1], sizes[1:], keys)
        ]
        return MLP(_with_projected_input(layers, subspace, settings, keys[0], dtype), settings.activation)


class TtMlpSpec(AbstractModelSpec):
    """``tt_mlp``: tensor-train hidden layers; defaults are the reference HJB network
    (docs/methods.md#tensor-train-layers), factors automatic."""

    type_name = "tt_mlp"
    fields = {
        "widths": widths_field([512, 512]),
        "activation": Field((str,), "sin", choices=_ACTIVATIONS),
        "init": Field((str,), "siren", choices=_INITS),
        "rank": Field((int, list), 2),  # one int, or one entry (int or L-1 ints) per TT layer
        "n_cores": Field((int,), 4, bounds=(1, MAX_LAYERS, f"between 1 and {MAX_LAYERS}")),  # L, without factors
        "in_factors": Field((list, type(None)), None),  # one factor list (or null: automatic) per TT layer
        "out_factors": Field((list, type(None)), None),
        "dense_layers": Field((list,), [-1]),  # layer indices kept dense; -1 is the read-out
        "path": Field((str,), "auto", choices=("auto", "contract", "dense")),  # TT forward (auto: by batch size)
        "inputs": INPUTS_FIELD,
    }

    def build(self, settings, in_size, *, key, dtype, subspace=None):
        sizes, keys = _sizes_and_keys(settings, in_size, key)
        layers = _with_projected_input(_tt_layers(settings, sizes, keys, dtype), subspace, settings, keys[0], dtype)
        return MLP(layers, settings.activation)


def _per_tt_layer(settings, name: str, n_tt: int, scalar: type | None) -> list:
    """``settings.<name>`` as one entry per TT layer: a list of that length, or one shared value."""
    value = getattr(settings, name)
    if value is None or (scalar is not None and isinstance(value, scalar)):
        return [value] * n_tt
    if len(value) != n_tt:
        raise ConfigError(f"model.{name}", f"expected one entry per TT layer ({n_tt}), got {len(value)}")
    return list(value)


def _tt_layers(settings, sizes: list[int], keys, dtype) -> list[AbstractLinear]:
    """TT layers, except those listed in ``settings.dense_layers`` (indices, negative from the end)."""
    n_layers = len(sizes) - 1
    dense = set()
    for index in settings.dense_layers:
        if not isinstance(index, int) or not -n_layers <= index < n_layers:
            raise ConfigError("model.dense_layers", f"layer index {index!r} out of range for {n_layers} layers")
        dense.add(index % n_layers)
    tt = [i for i in range(n_layers) if i not in dense]
    ranks = _per_tt_layer(settings, "rank", len(tt), int)
    in_factors = _per_tt_layer(settings, "in_factors", len(tt), None)
    out_factors = _per_tt_layer(settings, "out_factors", len(tt), None)
    layers: list[AbstractLinear] = []
    for i, (n_in, n_out, key) in enumerate(zip(sizes[:-1], sizes[1:], keys)):
        if i in dense:
            layers.append(DenseLinear(n_in, n_out, key=key, init=settings.init, dtype=dtype))
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
                    n_cores=settings.n_cores,
                    init=settings.init,
                    path=cast(TTPath, settings.path),  # one of the config's choices
                    dtype=dtype,
                )
            )
        except ValueError as err:
            raise ConfigError(f"model (layer {i}: {n_in} -> {n_out})", str(err)) from None
    return layers
