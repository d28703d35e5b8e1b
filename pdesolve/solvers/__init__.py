"""Training methods behind one interface: ``init(loss, params)``, ``step(...)``, ``observe(...)``.

First-order (optax, the reference), zeroth-order (RGE, signRGE, CGE, hybrid), forward
gradients, Gauss-Newton (Levenberg-Marquardt with finite-difference, forward-mode or autodiff
Jacobians) and projection (feasibility) training; the BP-free ones use no reverse-mode differentiation.
"""

from ._base import AbstractSolver, Loss, SolverContext
from ._build import build_optimizer, build_solver
from ._estimators import (AbstractGradientEstimator, CoordinateGradientEstimator, ForwardGradientEstimator,
                          RandomGradientEstimator)
from ._first_order import FirstOrder
from ._gauss_newton import GaussNewton, GaussNewtonState
from ._jacobian import JACOBIANS, jacobian
from ._projection import ProjectionSolver
from ._schedule import learning_rate_schedule
from ._zeroth_order import EstimatedGradientSolver, HybridSolver

__all__ = [
    "AbstractGradientEstimator", "AbstractSolver", "CoordinateGradientEstimator", "EstimatedGradientSolver",
    "FirstOrder", "ForwardGradientEstimator", "GaussNewton", "GaussNewtonState", "HybridSolver", "JACOBIANS", "Loss",
    "ProjectionSolver", "RandomGradientEstimator",
    "SolverContext",
    "build_optimizer", "build_solver", "jacobian", "learning_rate_schedule",
]
