"""Checks one config value against its ``Field``; error texts name the field, the value and the fix."""

import difflib
import math
from typing import Any

from ..errors import ConfigError, preview
from ..fields import Field


def suggest(name: str, allowed, also=()) -> str:
    """``" (did you mean 'x'?); allowed: a, b"``: the closest of ``allowed`` (or of ``also``, names
    allowed elsewhere, e.g. a section's kind key), then all of ``allowed``."""
    close = difflib.get_close_matches(name, [*allowed, *also], n=1)
    hint = f" (did you mean {close[0]!r}?)" if close else ""
    return f"{hint}; allowed: {', '.join(sorted(allowed)) or 'none'}"


def _checked_type(field: str, value: Any, types: tuple[type, ...]) -> Any:
    """``value`` if it is one of ``types`` (an int where only a float is allowed becomes a float)."""
    expected = "/".join(t.__name__ for t in types)
    if isinstance(value, bool) and bool not in types:
        raise ConfigError(field, f"expected {expected}, got {value!r}")
    if isinstance(value, int) and not isinstance(value, bool) and float in types and int not in types:
        if abs(value) > 1e300:
            raise ConfigError(field, f"{preview(value)} is out of range; give a number below 1e300")
        value = float(value)
    if not isinstance(value, types):
        raise ConfigError(field, f"expected {expected}, got {preview(value)}")
    if isinstance(value, float) and not math.isfinite(value):
        raise ConfigError(field, f"must be a finite number, got {value!r}")
    return value


def check_value(field: str, value: Any, spec: Field) -> Any:
    """``value`` for the key ``field`` checked against ``spec``; raises ``ConfigError`` naming ``field``."""
    value = _checked_type(field, value, spec.types)
    if spec.choices and value not in spec.choices:
        raise ConfigError(field, f"unknown value {preview(value)}{suggest(str(value)[:100], spec.choices)}")
    if spec.check is not None:
        spec.check(field, value)
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        if spec.positive and not value > 0:
            raise ConfigError(field, f"must be > 0, got {value!r}")
        if spec.bounds:
            low, high, text = spec.bounds
            if not (value >= low and (high is None or value <= high)):
                raise ConfigError(field, f"must be {text}, got {preview(value)}")
    return value
