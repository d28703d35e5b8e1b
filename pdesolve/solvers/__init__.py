"""Training methods behind one interface: ``init(loss, params)``, ``step(...)``, ``observe(...)``.

First-order (optax, the reference), zeroth-order (RGE, signRGE, CGE, hybrid), forward
gradients, Gauss-Newton (Levenberg-Marquardt with finite-difference, forward-mode or autodiff
Jacobians) and projection (feasibility) training; the BP-free ones use no reverse-mode differentiation.
Each kind is selected by ``solver.name`` through its spec (``AbstractSolverSpec``) in the registry.
"""

from ._base import AbstractSolver, Loss, SolverContext
from ._estimators import (
    AbstractGradientEstimator,
    CoordinateGradientEstimator,
    ForwardGradientEstimator,
    RandomGradientEstimator,
)
from ._first_order import FirstOrder
from ._gauss_newton import GaussNewton, GaussNewtonState
from ._hybrid import HybridSolver
from ._jacobian import JACOBIANS, jacobian
from ._optimizer import build_optimizer
from ._projection import ProjectionSolver
from ._registry import register_solver, solver_spec, solver_specs, unregister_solver
from ._schedule import learning_rate_schedule
from ._spec import AbstractSolverSpec
from ._stages import StagedSolver
from ._zeroth_order import EstimatedGradientSolver

__all__ = [
    "JACOBIANS",
    "AbstractGradientEstimator",
    "AbstractSolver",
    "AbstractSolverSpec",
    "CoordinateGradientEstimator",
    "EstimatedGradientSolver",
    "FirstOrder",
    "ForwardGradientEstimator",
    "GaussNewton",
    "GaussNewtonState",
    "HybridSolver",
    "Loss",
    "ProjectionSolver",
    "RandomGradientEstimator",
    "SolverContext",
    "StagedSolver",
    "build_optimizer",
    "jacobian",
    "learning_rate_schedule",
    "register_solver",
    "solver_spec",
    "solver_specs",
    "unregister_solver",
]
