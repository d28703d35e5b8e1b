"""Training methods behind one interface: ``init(loss, params)``, ``step(...)``, ``observe(...)``.

First-order (optax, the reference), zeroth-order (RGE, signRGE, CGE, hybrid), forward
gradients and projection (feasibility) training; the BP-free ones use no reverse-mode differentiation.
"""

from ._base import AbstractSolver, Loss, SolverContext
from ._build import build_optimizer, build_solver
from ._estimators import (AbstractGradientEstimator, CoordinateGradientEstimator, ForwardGradientEstimator,
                          RandomGradientEstimator)
from ._first_order import FirstOrder
from ._projection import ProjectionSolver
from ._schedule import learning_rate_schedule
from ._zeroth_order import EstimatedGradientSolver, HybridSolver

__all__ = [
    "AbstractGradientEstimator", "AbstractSolver", "CoordinateGradientEstimator", "EstimatedGradientSolver",
    "FirstOrder", "ForwardGradientEstimator", "HybridSolver", "Loss", "ProjectionSolver", "RandomGradientEstimator",
    "SolverContext",
    "build_optimizer", "build_solver", "learning_rate_schedule",
]
