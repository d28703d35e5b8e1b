"""Configs saved by earlier versions (a run folder's ``config.yaml``), read as today's."""

from typing import Any

from ._operators import OPERATOR_KINDS


def upgrade_saved(config: Any) -> Any:
    """``config`` as saved by a run folder, in today's form: an ``operators`` section written before
    the section was kinded holds every method's keys (only the method's own are kept), and a Stein
    section written before ``smooth`` existed smoothed the solution. Anything else is left as is
    (validation reports it)."""
    operators = config.get("operators") if isinstance(config, dict) else None
    if not isinstance(operators, dict):
        return config
    method = operators.get("method")
    kind = OPERATOR_KINDS.get(method) if isinstance(method, str) else None
    if kind is None:
        return config
    schema = kind.schema()
    upgraded = {"method": kind.kind, **{key: value for key, value in operators.items() if key in schema}}
    if "smooth" in schema and "smooth" not in operators:
        upgraded["smooth"] = "solution"
    return {**config, "operators": upgraded}
