"""Training methods behind one interface: ``init(loss, params)`` and ``step(...)``."""

from ._base import AbstractSolver, Loss
from ._build import build_solver
from ._first_order import FirstOrder
from ._schedule import learning_rate_schedule

__all__ = ["AbstractSolver", "FirstOrder", "Loss", "build_solver", "learning_rate_schedule"]
