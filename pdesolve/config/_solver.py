"""The ``solver`` section: its kind is ``solver.name``, its keys are that kind's ``fields`` in the
solver registry (``pdesolve.solvers.register_solver``), read as a frozen dataclass of settings."""

import dataclasses
import functools
from collections.abc import Mapping
from typing import Any

from ..fields import Field, dataclass_field
from ..solvers import solver_spec, solver_specs
from ._section import Section


def solver_fields() -> dict[str, Mapping[str, Field]]:
    """The registered solvers' fields by name."""
    return {name: spec.fields for name, spec in solver_specs().items()}


@functools.cache
def settings_class(spec: Any) -> type[Section]:
    """The frozen dataclass of the registered solver ``spec``'s settings: one field per ``spec.fields``."""
    name = "".join(part.title() for part in spec.name.split("_")) + "Settings"
    fields = [(key, Any, dataclass_field(field)) for key, field in spec.fields.items()]
    return dataclasses.make_dataclass(name, fields, bases=(Section,), frozen=True, kw_only=True)


@dataclasses.dataclass(frozen=True, kw_only=True)
class SolverConfig:
    """The solver named ``name`` with its validated ``settings`` (attributes: the spec's ``fields``),
    which the spec's ``build`` and ``perturbations`` read."""

    name: str
    settings: Section

    @classmethod
    def from_valid(cls, values: Mapping[str, Any]) -> "SolverConfig":
        """The section from a validated ``solver`` mapping (``name`` and the kind's keys)."""
        return cls(name=values["name"], settings=settings_class(solver_spec(values["name"])).from_valid(values))

    def to_dict(self) -> dict[str, Any]:
        """The section as the plain mapping of a config file (a fresh copy)."""
        return {"name": self.name, **self.settings.to_dict()}
