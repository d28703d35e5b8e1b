"""Builds the operator engine named by the ``operators`` section of a config."""

from ..errors import ConfigError
from ._autodiff import AutodiffEngine
from ._base import AbstractOperatorEngine
from ._finite_diff import DEFAULT_STEPS, FiniteDifferenceEngine
from ._stein import SMOOTH, MonteCarloSteinEngine, SparseGridSteinEngine


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


#: Largest dimension whose default is the full FD stencil (2d + 1 nodes per point, <= 401); beyond
#: it, ``RANDOM_COORDINATES`` random coordinates per point, two independent sets for the residual
#: (2 (2k + 1) = 402 nodes per point at any d: the cost of the full stencil at d = 200).
FULL_STENCIL_MAX_DIM = 200
RANDOM_COORDINATES = 100


def default_operators(dim: int, precision: str) -> dict:
    """The BP-free operators section chosen from the problem (what ``method: auto`` builds).

    Finite differences at every d: the full 2d+1 stencil up to ``FULL_STENCIL_MAX_DIM``, random
    coordinates beyond (unbiased, ``RANDOM_COORDINATES`` per set). The step follows ``precision``.
    Sparse-grid Stein is not a default, even at small d: its 2d^2 + O(d) nodes are never fewer than
    FD's 2d + 1 (d = 1: 3 vs 3; d = 10: 221 vs 21), it needs float64, its Laplacian error was
    1.6e-2 against 5e-7 for FD (benchmarks/results/estimators/, d = 20, float64) and the reported
    smoothed solution carries an O(sigma^2) bias. Stein stays available as ``method: sg | se``.
    """
    if precision not in ("float32", "float64"):
        raise ValueError(f"precision: unknown value {precision!r}; choose float32 or float64")
    coordinates = "all" if dim <= FULL_STENCIL_MAX_DIM else RANDOM_COORDINATES
    return {"method": "fd", "coordinates": coordinates, "step": DEFAULT_STEPS[precision]}


def build_engine(operators_config: dict, *, dim: int, has_time: bool) -> AbstractOperatorEngine:
    """``operators_config`` is the validated ``operators`` section:
    ``{method, sigma, level, samples, step, coordinates, time, smooth, chunk_size}``.

    ``dim`` is the space dimension and ``has_time`` whether u depends on t (Stein estimators
    smooth time jointly with space when ``time`` is ``joint``, else difference it with ``step``).
    ``method: auto`` builds ``default_operators(dim, .)`` (an unset step follows the points' dtype).
    Raises ``ConfigError`` naming the offending field.
    """
    config = operators_config
    method = config["method"]
    if method == "auto":
        method = "fd"
        config = {**config, "coordinates": default_operators(dim, "float64")["coordinates"]}
    if method == "ad":
        return AutodiffEngine()
    if method not in ("fd", "sg", "se"):
        raise ConfigError("operators.method", f"unknown method {method!r}; allowed: ad, auto, fd, se, sg")
    chunk_size, step = config["chunk_size"], config.get("step")
    _require(config, "step", step is None or step > 0, "> 0 or unset (by precision)")
    _require(config, "chunk_size", chunk_size is None or chunk_size >= 1, ">= 1 or unset")
    if method == "fd":
        return FiniteDifferenceEngine(step=step, chunk_size=chunk_size, coordinates=_coordinates(config))
    _require(config, "sigma", config["sigma"] > 0, "> 0")
    _require(config, "time", config["time"] in ("joint", "fd"), "'joint' or 'fd'")
    _require(config, "smooth", config.get("smooth", "solution") in SMOOTH, "'network' or 'solution'")
    stein = dict(
        sigma=config["sigma"],
        smooth_time=has_time and config["time"] == "joint",
        step=1e-2 if step is None else step,  # time differences of the smoothed field
        chunk_size=chunk_size,
        smooth=config.get("smooth", "solution"),  # a run saved before the option smoothed the solution
    )
    if method == "sg":
        _require(config, "level", config["level"] >= 3, ">= 3 (level 2 is exact to degree 3 only)")
        return SparseGridSteinEngine(level=config["level"], **stein)
    _require(config, "samples", config["samples"] >= 1, ">= 1")
    return MonteCarloSteinEngine(samples=config["samples"], **stein)
