"""A kind of solver as the registry knows it: its config keys, its builder and its cost model."""

import abc
import dataclasses
from collections.abc import Mapping
from typing import Any, ClassVar

import equinox as eqx

from ..fields import FIELD, Field
from ._base import AbstractSolver


def solver_field(spec: Field, *, static: bool = True) -> Any:
    """A solver class's field that is the config key ``spec``: the Field rides in the metadata, so a
    spec's ``fields`` are read from the class (``fields.schema_of``), and a solver built directly
    starts from the same default as a configured one."""
    return eqx.field(static=static, default=spec.default, metadata={FIELD: spec})


def solver_setting(types: tuple[type, ...], default: Any, *, static: bool = True, **checks: Any) -> Any:
    """``solver_field`` of a new ``Field(types, default, **checks)``."""
    return solver_field(Field(types, default, **checks), static=static)


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

    def chunks_perturbations(self, settings: Any) -> bool:
        """Whether ``chunk_size`` caps :meth:`perturbations` (the memory check's count); a spec
        whose count is not made of its chunked columns says False."""
        return True

    def held_numbers(self, settings: Any, n_params: int, rows: int) -> int:
        """Numbers the solver holds per step beside the loss evaluations' activations, for a batch
        of ``rows`` residual rows (a Gauss-Newton Jacobian and its damped system); none by default."""
        return 0

    def tangent_columns(self, settings: Any, first_params: int) -> int:
        """Columns of a first layer without per-unit weights (``first_params`` parameters) that a
        step pushes through at once as forward-mode tangents (a layerwise Jacobian); none by default."""
        return 0

    def evaluations_per_step(self, settings: Any, n_params: int, hidden_units: int, rows: int) -> int:
        """Loss evaluations (or their equivalents in network passes) one step costs in all, for a
        network of ``n_params`` parameters and ``hidden_units`` hidden units and a batch of ``rows``
        residual rows (what ``pdesolve check`` prints); by default the vectorised call's count."""
        return self.perturbations(settings, n_params)

    @property
    def divergence_remedy(self) -> str:
        """What a diverged run's message suggests: lower the learning rates, or (a solver without
        any) change its settings; a spec may say more (Gauss-Newton: its damping)."""
        if self.learning_rates:
            return "lower " + " or ".join(f"solver.{key}" for key in self.learning_rates)
        return "change the solver's settings"

    def rescaled(self, settings: Any, scale: float) -> Any:
        """``settings`` with each of ``learning_rates`` times ``scale``."""
        return dataclasses.replace(settings, **{key: getattr(settings, key) * scale for key in self.learning_rates})
