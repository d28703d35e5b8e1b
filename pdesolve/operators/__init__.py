"""Operator engines: values of u, u_t, grad u, Laplacian, ... at points from evaluations of u."""

from ._autodiff import AutodiffEngine
from ._base import OPERATOR_SHAPES, OPERATORS, AbstractOperatorEngine, BatchedField
from ._defaults import FULL_STENCIL_MAX_DIM, RANDOM_COORDINATES, default_operators
from ._finite_diff import DEFAULT_STEPS, FiniteDifferenceEngine, default_step, stencil_points
from ._registry import engine_spec, engine_specs, register_engine, unregister_engine
from ._sparse_grid import SymmetricRule, sparse_grid, symmetric_sparse_grid
from ._spec import AbstractEngineSpec, engine_field
from ._stein import AbstractSteinEngine, MonteCarloSteinEngine, SparseGridSteinEngine

__all__ = [
    "DEFAULT_STEPS",
    "FULL_STENCIL_MAX_DIM",
    "OPERATORS",
    "OPERATOR_SHAPES",
    "RANDOM_COORDINATES",
    "AbstractEngineSpec",
    "AbstractOperatorEngine",
    "AbstractSteinEngine",
    "AutodiffEngine",
    "BatchedField",
    "FiniteDifferenceEngine",
    "MonteCarloSteinEngine",
    "SparseGridSteinEngine",
    "SymmetricRule",
    "default_operators",
    "default_step",
    "engine_field",
    "engine_spec",
    "engine_specs",
    "register_engine",
    "sparse_grid",
    "stencil_points",
    "symmetric_sparse_grid",
    "unregister_engine",
]
