"""The ``model`` section, one kind per ``model.type``: the dense MLP and the tensor-train MLP."""

import dataclasses
from typing import Any, ClassVar

from ..errors import ConfigError, preview
from ..fields import setting
from ..models import ACTIVATIONS
from ._section import KindedSection, kinds

# Bounds that keep a network buildable and within memory.
MAX_WIDTH = 65_536  # units per hidden layer
MAX_LAYERS = 64
_ACTIVATIONS = tuple(sorted(ACTIVATIONS))  # the activation functions the models know


def check_widths(field: str, value: list) -> None:
    """Refuses hidden-layer widths that are not a short, non-empty list of integers from 1 to ``MAX_WIDTH``."""
    if not 1 <= len(value) <= MAX_LAYERS or not all(isinstance(w, int) and not isinstance(w, bool) and 1 <= w <= MAX_WIDTH
                                          for w in value):
        raise ConfigError(field, f"expected a list of 1 to {MAX_LAYERS} hidden-layer widths, each an integer "
                          f"from 1 to {MAX_WIDTH}, e.g. [64, 64]; got {preview(value)}")


def _widths(default: list[int]) -> Any:
    return setting((list,), default, check=check_widths)


@dataclasses.dataclass(frozen=True, kw_only=True)
class ModelConfig(KindedSection):
    """The network, chosen by ``model.type``."""

    kind_key: ClassVar[str] = "type"
    widths: list[int]
    activation: str
    init: str


@dataclasses.dataclass(frozen=True, kw_only=True)
class MlpConfig(ModelConfig):
    """``mlp``: a dense network."""

    kind: ClassVar[str] = "mlp"
    widths: list[int] = _widths([64, 64])
    activation: str = setting((str,), "tanh", choices=_ACTIVATIONS)
    init: str = setting((str,), "lecun", choices=("lecun", "siren"))


@dataclasses.dataclass(frozen=True, kw_only=True)
class TtMlpConfig(ModelConfig):
    """``tt_mlp``: tensor-train hidden layers; defaults are the reference HJB network
    (docs/methods.md#tensor-train-layers), factors automatic."""

    kind: ClassVar[str] = "tt_mlp"
    widths: list[int] = _widths([512, 512])
    activation: str = setting((str,), "sin", choices=_ACTIVATIONS)
    init: str = setting((str,), "siren", choices=("lecun", "siren"))
    rank: int | list = setting((int, list), 2)  # one int, or one entry (int or L-1 ints) per TT layer
    n_cores: int = setting((int,), 4, bounds=(1, MAX_LAYERS, f"between 1 and {MAX_LAYERS}"))  # L, without factors
    in_factors: list | None = setting((list, type(None)), None)  # one factor list (or null: automatic) per TT layer
    out_factors: list | None = setting((list, type(None)), None)
    dense_layers: list[int] = setting((list,), [-1])  # layer indices kept dense; -1 is the read-out
    path: str = setting((str,), "auto", choices=("auto", "contract", "dense"))  # TT forward (auto: by batch size)


MODEL_KINDS = kinds(MlpConfig, TtMlpConfig)
