"""One config key as a typed field: the types it accepts, its default and the checks on its value.

A leaf module (it imports nothing of the package), so that the config validator and the solver
specs (``solvers._spec``) share the type without importing each other.
"""

from typing import Any, NamedTuple

NUMBER = (int, float)
OPTIONAL_INT = (int, type(None))
OPTIONAL_NUMBER = (int, float, type(None))
MAX_POINTS = 10_000_000  # validation points, samples per estimate: larger values are refused, not run out of memory


class Field(NamedTuple):
    """A config key. ``default`` None means "unset"; ``bounds`` is (lowest, highest or None, what to say)."""

    types: tuple[type, ...]
    default: Any
    choices: tuple | None = None
    bounds: tuple[float, float | None, str] | None = None
    positive: bool = False  # a number that must be > 0


__all__ = ["MAX_POINTS", "NUMBER", "OPTIONAL_INT", "OPTIONAL_NUMBER", "Field"]
