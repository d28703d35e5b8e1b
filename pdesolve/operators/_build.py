"""Builds the operator engine named by the ``operators`` section of a config."""

from ..errors import ConfigError
from ._autodiff import AutodiffEngine
from ._base import AbstractOperatorEngine
from ._finite_diff import FiniteDifferenceEngine
from ._stein import MonteCarloSteinEngine, SparseGridSteinEngine


def _require(config: dict, key: str, ok: bool, condition: str) -> None:
    if not ok:
        raise ConfigError(f"operators.{key}", f"must be {condition}, got {config[key]!r}")


def _coordinates(config: dict) -> int | None:
    """``operators.coordinates``: ``all`` (None) or a count k >= 1 of random coordinates per point."""
    value = config.get("coordinates", "all")
    if value == "all":
        return None
    ok = isinstance(value, int) and not isinstance(value, bool) and value >= 1
    _require(config, "coordinates", ok, "'all' or an integer >= 1")
    return value


def build_engine(operators_config: dict, *, dim: int, has_time: bool) -> AbstractOperatorEngine:
    """``operators_config`` is the validated ``operators`` section:
    ``{method, sigma, level, samples, step, coordinates, time, chunk_size}``.

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
    chunk_size, step = config["chunk_size"], config.get("step")
    _require(config, "step", step is None or step > 0, "> 0 or unset (by precision)")
    _require(config, "chunk_size", chunk_size is None or chunk_size >= 1, ">= 1 or unset")
    if method == "fd":
        return FiniteDifferenceEngine(step=step, chunk_size=chunk_size, coordinates=_coordinates(config))
    _require(config, "sigma", config["sigma"] > 0, "> 0")
    _require(config, "time", config["time"] in ("joint", "fd"), "'joint' or 'fd'")
    stein = dict(
        sigma=config["sigma"],
        smooth_time=has_time and config["time"] == "joint",
        step=1e-2 if step is None else step,  # time differences of the smoothed field
        chunk_size=chunk_size,
    )
    if method == "sg":
        _require(config, "level", config["level"] >= 3, ">= 3 (level 2 is exact to degree 3 only)")
        return SparseGridSteinEngine(level=config["level"], **stein)
    _require(config, "samples", config["samples"] >= 1, ">= 1")
    return MonteCarloSteinEngine(samples=config["samples"], **stein)
