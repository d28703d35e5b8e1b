"""Builds the solver named by the ``solver`` config section."""

import optax

from ._base import AbstractSolver
from ._first_order import FirstOrder
from ._schedule import learning_rate_schedule


def build_solver(solver_config: dict, steps: int) -> AbstractSolver:
    """``solver_config`` is the validated ``solver`` section; ``steps`` sizes the schedule."""
    name = solver_config["name"]
    if name == "adam":
        schedule = learning_rate_schedule(solver_config, steps)
        return FirstOrder(optax.adam(schedule, b1=solver_config["b1"], b2=solver_config["b2"]))
    raise ValueError(f"solver.name: unknown solver {name!r}")
