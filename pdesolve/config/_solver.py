"""The ``solver`` section: its kind is ``solver.name``, its keys are that kind's ``fields`` in the
solver registry (``pdesolve.solvers.register_solver``)."""

import copy
import dataclasses
import types
from collections.abc import Mapping
from typing import Any

from ..fields import Field


def solver_fields() -> dict[str, Mapping[str, Field]]:
    """The registered solvers' fields by name (imported here: ``problem`` imports the config, and
    the solvers import ``problem`` through ``models``)."""
    from ..solvers import solver_specs

    return {name: spec.fields for name, spec in solver_specs().items()}


@dataclasses.dataclass(frozen=True, kw_only=True)
class SolverConfig:
    """The solver named ``name`` with its validated ``settings`` (the spec's ``fields``).

    The registry's specs build from the plain section (``to_dict()``), so a solver is still one
    module plus one registry line, with no config class of its own.
    """

    name: str
    settings: Mapping[str, Any]

    @classmethod
    def from_valid(cls, values: Mapping[str, Any]) -> "SolverConfig":
        """The section from a validated ``solver`` mapping (``name`` and the kind's keys)."""
        settings = {key: copy.deepcopy(value) for key, value in values.items() if key != "name"}
        return cls(name=values["name"], settings=types.MappingProxyType(settings))

    def to_dict(self) -> dict[str, Any]:
        """The section as the plain mapping of a config file (a fresh copy)."""
        return {"name": self.name, **copy.deepcopy(dict(self.settings))}
