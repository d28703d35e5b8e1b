"""Problem files (YAML or Python), their validation and their compilation to JAX."""

from ._compile import CompiledProblem, compile_problem
from ._derivatives import forward_operators
from ._domain import INTERIOR_LAWS, Annulus, Ball, Box, Domain, WholeSpace
from ._parse import ExpressionError, parse_expression
from ._spec import Problem, load_problem, problem_from_mapping

__all__ = [
    "INTERIOR_LAWS", "Annulus", "Ball", "Box", "CompiledProblem", "Domain", "ExpressionError", "Problem",
    "WholeSpace", "compile_problem", "forward_operators", "load_problem", "parse_expression", "problem_from_mapping",
]
