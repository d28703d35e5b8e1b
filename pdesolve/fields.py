"""One config key as a typed field: the types it accepts, its default and the checks on its value.

A leaf module (it imports nothing of the package), so that the config sections (``pdesolve.config``)
and the solver specs (``solvers._spec``) share the type without importing each other.
"""

import copy
import dataclasses
from collections.abc import Callable
from typing import Any, NamedTuple

NUMBER = (int, float)
OPTIONAL_INT = (int, type(None))
OPTIONAL_NUMBER = (int, float, type(None))
MAX_POINTS = 10_000_000  # validation points, samples per estimate: larger values are refused, not run out of memory
FIELD = "pdesolve.field"  # the key of a dataclass field's metadata that holds its Field


class Field(NamedTuple):
    """A config key. ``default`` None means "unset"; ``bounds`` is (lowest, highest or None, what to say);
    ``check(field, value)`` raises ``ConfigError`` for what the other checks cannot say (a list's entries)."""

    types: tuple[type, ...]
    default: Any
    choices: tuple | None = None
    bounds: tuple[float, float | None, str] | None = None
    positive: bool = False  # a number that must be > 0
    check: Callable[[str, Any], None] | None = None


def setting(types: tuple[type, ...], default: Any, **checks: Any) -> Any:
    """A dataclass field that is a config key: its ``Field`` (``types``, ``default``, ``checks``)
    rides in the metadata, so the class's fields are the section's schema."""
    return dataclass_field(Field(types, default, **checks))


def dataclass_field(spec: Field) -> Any:
    """The dataclass field of the config key ``spec`` (see ``setting``)."""
    if isinstance(spec.default, (list, dict)):
        return dataclasses.field(default_factory=lambda: copy.deepcopy(spec.default), metadata={FIELD: spec})
    return dataclasses.field(default=spec.default, metadata={FIELD: spec})


def schema_of(cls: type) -> dict[str, Field]:
    """The config keys that the dataclass ``cls`` declares, in order: its fields that carry a ``Field``."""
    return {f.name: f.metadata[FIELD] for f in dataclasses.fields(cls) if FIELD in f.metadata}


__all__ = [
    "FIELD",
    "MAX_POINTS",
    "NUMBER",
    "OPTIONAL_INT",
    "OPTIONAL_NUMBER",
    "Field",
    "dataclass_field",
    "schema_of",
    "setting",
]
