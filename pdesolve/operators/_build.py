"""Builds the operator engine named by the ``operators`` section of a config."""

from ..config import (AutodiffOperators, AutoOperators, FiniteDifferenceOperators, MonteCarloSteinOperators,
                      OperatorsConfig, SparseGridSteinOperators)
from ._autodiff import AutodiffEngine
from ._base import AbstractOperatorEngine
from ._finite_diff import DEFAULT_STEPS, FiniteDifferenceEngine
from ._stein import MonteCarloSteinEngine, SparseGridSteinEngine


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


def _coordinates(value: str | int) -> int | None:
    """``operators.coordinates``: ``all`` (None) or a count k >= 1 of random coordinates per point."""
    return None if value == "all" else value


def _stein(operators: SparseGridSteinOperators | MonteCarloSteinOperators, has_time: bool) -> dict:
    """The settings both Stein engines take."""
    return dict(
        sigma=operators.sigma,
        smooth_time=has_time and operators.time == "joint",
        step=1e-2 if operators.step is None else operators.step,  # time differences of the smoothed field
        chunk_size=operators.chunk_size,
        smooth=operators.smooth,
    )


def build_engine(operators: OperatorsConfig, *, dim: int, has_time: bool) -> AbstractOperatorEngine:
    """The engine of the validated ``operators`` section (its kind is ``operators.method``).

    ``dim`` is the space dimension and ``has_time`` whether u depends on t (Stein estimators
    smooth time jointly with space when ``time`` is ``joint``, else difference it with ``step``).
    ``method: auto`` builds ``default_operators(dim, .)`` (an unset step follows the points' dtype).
    """
    match operators:
        case AutodiffOperators():
            return AutodiffEngine()
        case AutoOperators():
            coordinates = _coordinates(default_operators(dim, "float64")["coordinates"])
            return FiniteDifferenceEngine(step=operators.step, chunk_size=operators.chunk_size, coordinates=coordinates)
        case FiniteDifferenceOperators():
            return FiniteDifferenceEngine(step=operators.step, chunk_size=operators.chunk_size,
                                          coordinates=_coordinates(operators.coordinates))
        case SparseGridSteinOperators():
            return SparseGridSteinEngine(level=operators.level, **_stein(operators, has_time))
        case MonteCarloSteinOperators():
            return MonteCarloSteinEngine(samples=operators.samples, **_stein(operators, has_time))
    raise TypeError(f"no engine for operators config {operators!r}")
