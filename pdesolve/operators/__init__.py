"""Operator engines: values of u, u_t, grad u, Laplacian, ... at points from evaluations of u."""

from ._autodiff import AutodiffEngine
from ._base import OPERATOR_SHAPES, OPERATORS, AbstractOperatorEngine, BatchedField
from ._build import build_engine

__all__ = [
    "OPERATORS",
    "OPERATOR_SHAPES",
    "AbstractOperatorEngine",
    "AutodiffEngine",
    "BatchedField",
    "build_engine",
]
