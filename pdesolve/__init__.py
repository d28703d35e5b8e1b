"""pdesolve: high-dimensional PDEs with physics-informed networks trained without back-propagation.

Python API::

    import pdesolve
    problem = pdesolve.load_problem("problems/hjb20.yaml")
    run = pdesolve.solve(problem, {"train": {"steps": 500}})
    run.solution   # xarray Dataset on the evaluation points
    run.report     # error metrics and settings
    pdesolve.open_run("outputs/<problem>/<run-id>").predict(x, t)   # a saved run's trained model

The pieces of a run (build, train, evaluate) are in ``pdesolve.run``.
"""

from ._version import __version__  # noqa: F401 (pdesolve.__version__)
from .errors import ConfigError, PdesolveError, ProblemError
from .problem import Problem, load_problem
from .run import OpenedRun, RunResult, open_run, solve

__all__ = [
    "ConfigError",
    "OpenedRun",
    "PdesolveError",
    "Problem",
    "ProblemError",
    "RunResult",
    "load_problem",
    "open_run",
    "solve",
]
