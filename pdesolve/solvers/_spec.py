"""A kind of solver as the registry knows it: its config keys, its builder and its cost model."""

import abc
from collections.abc import Mapping
from typing import ClassVar

from ..fields import Field
from ._base import AbstractSolver


class AbstractSolverSpec(abc.ABC):
    """The kind selected by ``solver.name``; ``register_solver(spec)`` makes it available.

    ``fields`` are its config keys (``name`` aside), validated at the boundary with their
    choices and bounds; ``learning_rates`` the keys a divergence rollback scales (empty: none).
    """

    name: ClassVar[str]
    fields: ClassVar[Mapping[str, Field]]
    learning_rates: ClassVar[tuple[str, ...]]

    @abc.abstractmethod
    def build(self, config: dict, steps: int) -> AbstractSolver:
        """The solver from its validated ``solver`` section; ``steps`` sizes learning-rate schedules."""

    @abc.abstractmethod
    def perturbations(self, config: dict, n_params: int) -> int:
        """Loss evaluations in one vectorised call per step, before ``chunk_size`` (the memory check's count)."""

    def rescaled(self, config: dict, scale: float) -> dict:
        """``config`` with each of ``learning_rates`` times ``scale``."""
        return {**config, **{key: config[key] * scale for key in self.learning_rates}}
