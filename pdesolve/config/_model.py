"""The ``model`` section, one kind per ``model.type``: its keys are the registered model spec's
``fields`` (``pdesolve.models.register_model``), read as a frozen dataclass."""

import dataclasses
from typing import ClassVar

from ..models import MAX_LAYERS, MAX_WIDTH, model_specs
from ._section import KindedSection, RegisteredKinds


@dataclasses.dataclass(frozen=True, kw_only=True)
class ModelConfig(KindedSection):
    """The network, chosen by ``model.type``; every kind has ``widths`` (the memory check reads them)."""

    kind_key: ClassVar[str] = "type"
    kind_suffix: ClassVar[str] = "Config"
    widths: list[int]


#: The kinds by ``model.type``, made from the model registry at each lookup.
MODEL_KINDS = RegisteredKinds(ModelConfig, model_specs)

# The built-in kinds by name (the classes ``MODEL_KINDS`` gives for them).
MlpConfig = MODEL_KINDS["mlp"]
TtMlpConfig = MODEL_KINDS["tt_mlp"]

__all__ = ["MAX_LAYERS", "MAX_WIDTH", "MODEL_KINDS", "MlpConfig", "ModelConfig", "TtMlpConfig"]
