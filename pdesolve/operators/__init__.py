"""Operator engines: values of u, u_t, grad u, Laplacian, ... at points from evaluations of u."""

from ._autodiff import AutodiffEngine
from ._base import OPERATOR_SHAPES, OPERATORS, AbstractOperatorEngine, BatchedField
from ._build import build_engine
from ._finite_diff import FiniteDifferenceEngine
from ._sparse_grid import SymmetricRule, sparse_grid, symmetric_sparse_grid
from ._stein import AbstractSteinEngine, MonteCarloSteinEngine, SparseGridSteinEngine

__all__ = [
    "OPERATORS",
    "OPERATOR_SHAPES",
    "AbstractOperatorEngine",
    "AbstractSteinEngine",
    "AutodiffEngine",
    "BatchedField",
    "FiniteDifferenceEngine",
    "MonteCarloSteinEngine",
    "SparseGridSteinEngine",
    "SymmetricRule",
    "build_engine",
    "sparse_grid",
    "symmetric_sparse_grid",
]
