"""User-facing errors: each names where the problem is, the offending value and the fix; ``preview``
and ``key_name`` show values and keys in their messages."""

import reprlib
from typing import Any


class PdesolveError(Exception):
    """Base class of errors the CLI reports as one line (tracebacks only with --debug)."""


class ProblemError(PdesolveError):
    """An invalid problem file: ``field`` is the dotted path inside the file."""

    def __init__(self, field: str, message: str, *, source: str | None = None):
        self.field = field
        self.source = source
        where = f"{source}: " if source else ""
        super().__init__(f"{where}{field}: {message}")


class ConfigError(PdesolveError):
    """An invalid config value or override: ``field`` is the dotted key."""

    def __init__(self, field: str, message: str):
        self.field = field
        super().__init__(f"config {field}: {message}")


class PdesolveWarning(UserWarning):
    """Something a user should know that does not stop the run (the CLI prints it as one line)."""


def preview(value: Any) -> str:
    """A value for an error message: its repr, shortened, however large or nested the value is."""
    text = _PREVIEW.repr(value)
    return text if len(text) <= 200 else text[:197] + "..."


_PREVIEW = reprlib.Repr()
_PREVIEW.maxstring = _PREVIEW.maxother = _PREVIEW.maxlong = 60
_PREVIEW.maxlist = _PREVIEW.maxdict = _PREVIEW.maxtuple = _PREVIEW.maxset = 6
_PREVIEW.maxlevel = 3


def key_name(key: Any) -> str:
    """A key as it appears in an error's field: itself when it is a plain name, else its repr
    (so an empty key, or one holding a newline, still names the field on one line)."""
    plain = isinstance(key, str) and key.isprintable() and key.strip() == key and 0 < len(key) <= 100
    return key if plain else preview(key)
