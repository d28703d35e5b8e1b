"""The network kinds by ``model.type``: a new kind is its module (network and spec) plus one
``register_model`` call."""

from ._mlp_kinds import MlpSpec, TtMlpSpec
from ._spec import AbstractModelSpec

_MODELS: dict[str, AbstractModelSpec] = {}


def register_model(spec: AbstractModelSpec) -> AbstractModelSpec:
    """Makes ``spec`` the kind ``model.type: <spec.type_name>`` (config validation, building)."""
    if spec.type_name in _MODELS:
        raise ValueError(f"a model type named {spec.type_name!r} is already registered")
    if "widths" not in spec.fields:
        raise ValueError(f"model type {spec.type_name!r}: its fields need 'widths' (the memory check reads them)")
    _MODELS[spec.type_name] = spec
    return spec


def unregister_model(type_name: str) -> None:
    """Removes the kind ``type_name`` (a test's toy model, say)."""
    del _MODELS[type_name]


def model_specs() -> dict[str, AbstractModelSpec]:
    """The registered kinds by ``model.type`` (a copy)."""
    return dict(_MODELS)


def model_spec(type_name: str) -> AbstractModelSpec:
    """The kind ``type_name``."""
    if type_name not in _MODELS:
        raise ValueError(f"model.type: unknown type {type_name!r}")
    return _MODELS[type_name]


register_model(MlpSpec())
register_model(TtMlpSpec())
