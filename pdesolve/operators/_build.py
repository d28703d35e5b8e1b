"""Builds the operator engine named by the ``operators`` section of a config."""

from ._autodiff import AutodiffEngine
from ._base import AbstractOperatorEngine


def build_engine(operators_config: dict, *, dim: int, has_time: bool) -> AbstractOperatorEngine:
    """``operators_config`` is the validated ``operators`` section: ``{method, ...}``.

    ``dim`` is the space dimension and ``has_time`` whether u depends on t (Stein estimators
    smooth time jointly with space when so configured).
    """
    method = operators_config["method"]
    if method == "ad":
        return AutodiffEngine()
    raise ValueError(f"operators.method: unknown method {method!r}")
