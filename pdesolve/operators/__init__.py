"""Operator engines: values of u, u_t, grad u, Laplacian, ... at points from evaluations of u."""

from ._autodiff import AutodiffEngine
from ._base import OPERATOR_SHAPES, OPERATORS, AbstractOperatorEngine, BatchedField
from ._defaults import FULL_STENCIL_MAX_DIM, RANDOM_COORDINATES, default_operators
from ._finite_diff import DEFAULT_STEPS, FiniteDifferenceEngine, default_step, stencil_points
from ._sparse_grid import SymmetricRule, sparse_grid, symmetric_sparse_grid
from ._stein import AbstractSteinEngine, MonteCarloSteinEngine, SparseGridSteinEngine

__all__ = [
    "DEFAULT_STEPS",
    "FULL_STENCIL_MAX_DIM",
    "OPERATORS",
    "OPERATOR_SHAPES",
    "RANDOM_COORDINATES",
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
    "sparse_grid",
    "stencil_points",
    "symmetric_sparse_grid",
]
