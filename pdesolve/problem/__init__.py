"""Problem files (YAML or Python), their validation and their compilation to JAX."""

from ._compile import CompiledProblem, compile_problem
from ._derivatives import directional_derivatives, forward_operators
from ._domain import INTERIOR_LAWS, Annulus, Ball, Box, Domain, WholeSpace
from ._domains import DomainKind, domain_kinds, read_vector, register_domain, unregister_domain
from ._hessian import SecondDirections, directions_in
from ._parse import ExpressionError, parse_expression
from ._reach import diffusion_reach, training_domain
from ._spec import Problem, load_problem, problem_from_mapping
from ._symmetry import AUTO_SEARCH_BUDGET, NotSymmetric, Subspace, find_subspace, search_cost
from ._unknowns import Unknown, stated_values, unknown_values
from ._verify import Misfit, manufactured_text, verify_exact

__all__ = [
    "AUTO_SEARCH_BUDGET",
    "INTERIOR_LAWS",
    "Annulus",
    "Ball",
    "Box",
    "CompiledProblem",
    "Domain",
    "DomainKind",
    "ExpressionError",
    "Misfit",
    "NotSymmetric",
    "Problem",
    "SecondDirections",
    "Subspace",
    "Unknown",
    "WholeSpace",
    "compile_problem",
    "diffusion_reach",
    "directional_derivatives",
    "directions_in",
    "domain_kinds",
    "find_subspace",
    "forward_operators",
    "load_problem",
    "manufactured_text",
    "parse_expression",
    "problem_from_mapping",
    "read_vector",
    "register_domain",
    "search_cost",
    "stated_values",
    "training_domain",
    "unknown_values",
    "unregister_domain",
    "verify_exact",
]
