"""Builds the operator engine named by the ``operators`` section of a config."""

from ..config import OperatorsConfig
from ..operators import AbstractOperatorEngine, engine_spec


def build_engine(operators: OperatorsConfig, *, dim: int, has_time: bool) -> AbstractOperatorEngine:
    """The engine of the validated ``operators`` section, built by the spec registered for its
    ``operators.method``. ``dim`` is the space dimension and ``has_time`` whether u depends on t
    (Stein estimators smooth time jointly with space when ``time`` is ``joint``, else difference it)."""
    return engine_spec(operators.kind).build(operators, dim=dim, has_time=has_time)
