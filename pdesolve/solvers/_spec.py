"""A kind of solver as the registry knows it: its config keys, its builder and its cost model."""

import abc
import dataclasses
from collections.abc import Mapping
from typing import Any, ClassVar

from ..fields import Field
from ._base import AbstractSolver


class AbstractSolverSpec(abc.ABC):
    """The kind selected by ``solver.name``; ``register_solver(spec)`` makes it available.

    ``fields`` are its config keys (``name`` aside), validated at the boundary with their
    choices and bounds; ``learning_rates`` the keys a divergence rollback scales (empty: none).
    ``settings`` below is the validated section as a frozen dataclass with those fields as
    attributes (``SolverConfig.settings``).
    """

    name: ClassVar[str]
    fields: ClassVar[Mapping[str, Field]]
    learning_rates: ClassVar[tuple[str, ...]]

    @abc.abstractmethod
    def build(self, settings: Any, steps: int) -> AbstractSolver:
        """The solver from its validated ``settings``; ``steps`` sizes learning-rate schedules."""

    @abc.abstractmethod
    def perturbations(self, settings: Any, n_params: int) -> int:
        """Loss evaluations in one vectorised call per step, before ``chunk_size`` (the memory check's count)."""

    def evaluations_per_step(self, settings: Any, n_params: int, hidden_units: int, rows: int) -> int:
        """Loss evaluations (or their equivalents in network passes) one step costs in all, for a
        network of ``n_params`` parameters and ``hidden_units`` hidden units and a batch of ``rows``
        residual rows (what ``pdesolve check`` prints); by default the vectorised call's count."""
        return self.perturbations(settings, n_params)

    def rescaled(self, settings: Any, scale: float) -> Any:
        """``settings`` with each of ``learning_rates`` times ``scale``."""
        return dataclasses.replace(settings, **{key: getattr(settings, key) * scale for key in self.learning_rates})
