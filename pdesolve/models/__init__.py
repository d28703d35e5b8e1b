"""Solution networks (Equinox modules on batches of points) and exact-condition ansatz wrappers."""

from ._build import build_network
from ._layers import AbstractLinear, DenseLinear
from ._mlp import ACTIVATIONS, MLP

__all__ = ["ACTIVATIONS", "MLP", "AbstractLinear", "DenseLinear", "build_network"]
