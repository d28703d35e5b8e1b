"""Solution networks (Equinox modules on batches of points) and exact-condition ansatz wrappers."""

from ._ansatz import Network, Solution, build_solution, condition_values
from ._layers import AbstractLinear, DenseLinear
from ._mlp import ACTIVATIONS, MLP
from ._projected import ProjectedInput
from ._registry import model_spec, model_specs, register_model, unregister_model
from ._spec import MAX_LAYERS, MAX_WIDTH, AbstractModelSpec
from ._tt import AUTO_DENSE_MIN_BATCH, TTLinear, factorise
from ._tt_svd import tt_svd

__all__ = [
    "ACTIVATIONS",
    "AUTO_DENSE_MIN_BATCH",
    "MAX_LAYERS",
    "MAX_WIDTH",
    "MLP",
    "AbstractLinear",
    "AbstractModelSpec",
    "DenseLinear",
    "Network",
    "ProjectedInput",
    "Solution",
    "TTLinear",
    "build_solution",
    "condition_values",
    "factorise",
    "model_spec",
    "model_specs",
    "register_model",
    "tt_svd",
    "unregister_model",
]
