"""pdesolve: high-dimensional PDEs with physics-informed networks trained without back-propagation.

Python API::

    import pdesolve
    problem = pdesolve.load_problem("problems/hjb20.yaml")
    run = pdesolve.solve(problem, {"train": {"steps": 500}})
    run.solution   # xarray Dataset on the evaluation points
    run.report     # error metrics and settings
"""

__version__ = "0.1.0"

from .errors import ConfigError, PdesolveError, ProblemError
from .problem import Problem, load_problem
from .solve import RunResult, solve

__all__ = ["ConfigError", "PdesolveError", "Problem", "ProblemError", "RunResult", "load_problem", "solve"]
