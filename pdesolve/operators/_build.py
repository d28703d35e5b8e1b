"""Builds the operator engine named by the ``operators`` section of a config."""

from ..errors import ConfigError
from ._autodiff import AutodiffEngine
from ._base import AbstractOperatorEngine
from ._finite_diff import FiniteDifferenceEngine
from ._stein import MonteCarloSteinEngine, SparseGridSteinEngine


def _require(config: dict, key: str, ok: bool, condition: str) -> None:
    if not ok:
        raise ConfigError(f"operators.{key}", f"must be {condition}, got {config[key]!r}")


def build_engine(operators_config: dict, *, dim: int, has_time: bool) -> AbstractOperatorEngine:
    """``operators_config`` is the validated ``operators`` section:
    ``{method, sigma, level, samples, step, time, chunk_size}``.

    ``dim`` is the space dimension and ``has_time`` whether u depends on t (Stein estimators
    smooth time jointly with space when ``time`` is ``joint``, else difference it with ``step``).
    Raises ``ConfigError`` naming the offending field.
    """
    config = operators_config
    method = config["method"]
    if method == "ad":
        return AutodiffEngine()
    if method not in ("fd", "sg", "se"):
        raise ConfigError("operators.method", f"unknown method {method!r}; allowed: ad, fd, se, sg")
    chunk_size = config["chunk_size"]
    _require(config, "step", config["step"] > 0, "> 0")
    _require(config, "chunk_size", chunk_size is None or chunk_size >= 1, ">= 1 or unset")
    if method == "fd":
        return FiniteDifferenceEngine(step=config["step"], chunk_size=chunk_size)
    _require(config, "sigma", config["sigma"] > 0, "> 0")
    _require(config, "time", config["time"] in ("joint", "fd"), "'joint' or 'fd'")
    stein = dict(
        sigma=config["sigma"],
        smooth_time=has_time and config["time"] == "joint",
        step=config["step"],
        chunk_size=chunk_size,
    )
    if method == "sg":
        _require(config, "level", config["level"] >= 3, ">= 3 (level 2 is exact to degree 3 only)")
        return SparseGridSteinEngine(level=config["level"], **stein)
    _require(config, "samples", config["samples"] >= 1, ">= 1")
    return MonteCarloSteinEngine(samples=config["samples"], **stein)
