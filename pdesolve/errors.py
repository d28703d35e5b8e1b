"""User-facing errors: each names where the problem is, the offending value and the fix."""


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
