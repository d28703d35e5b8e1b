"""The solver kinds by ``solver.name``: a new solver is its module (class and spec) plus one line here."""

from ._first_order import AdamSpec
from ._gauss_newton import GaussNewtonSpec
from ._hybrid import HybridSpec
from ._lbfgs import LbfgsSpec
from ._projection import ProjectionSpec
from ._spec import AbstractSolverSpec
from ._zeroth_order import CgeSpec, ForwardGradientSpec, RgeSpec, SignRgeSpec

_SOLVERS: dict[str, AbstractSolverSpec] = {}


def register_solver(spec: AbstractSolverSpec) -> AbstractSolverSpec:
    """Makes ``spec`` the kind named ``spec.name`` (config validation, building, memory check)."""
    if spec.name in _SOLVERS:
        raise ValueError(f"a solver named {spec.name!r} is already registered")
    _SOLVERS[spec.name] = spec
    return spec


def unregister_solver(name: str) -> None:
    """Removes the kind ``name`` (a test's toy solver, say)."""
    del _SOLVERS[name]


def solver_specs() -> dict[str, AbstractSolverSpec]:
    """The registered kinds by name (a copy)."""
    return dict(_SOLVERS)


def solver_spec(name: str) -> AbstractSolverSpec:
    """The kind named ``name``."""
    if name not in _SOLVERS:
        raise ValueError(f"solver.name: unknown solver {name!r}")
    return _SOLVERS[name]


register_solver(AdamSpec())
register_solver(LbfgsSpec())
register_solver(RgeSpec())
register_solver(SignRgeSpec())
register_solver(CgeSpec())
register_solver(ForwardGradientSpec())
register_solver(HybridSpec())
register_solver(GaussNewtonSpec())
register_solver(ProjectionSpec())
