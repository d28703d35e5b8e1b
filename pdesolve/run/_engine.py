"""Builds the operator engine named by the ``operators`` section of a config."""

from ..config import (AutodiffOperators, AutoOperators, FiniteDifferenceOperators, MonteCarloSteinOperators,
                      OperatorsConfig, SparseGridSteinOperators)
from ..operators import (AbstractOperatorEngine, AutodiffEngine, FiniteDifferenceEngine, MonteCarloSteinEngine,
                         SparseGridSteinEngine, default_operators)


def _coordinates(value: str | int) -> int | None:
    """``operators.coordinates``: ``all`` (None) or a count k >= 1 of random coordinates per point."""
    return None if value == "all" else value


def _stein(operators: SparseGridSteinOperators | MonteCarloSteinOperators, has_time: bool) -> dict:
    """The settings both Stein engines take (an unset step: the engine's ``TIME_STEP``)."""
    step = {} if operators.step is None else {"step": operators.step}  # time differences of the smoothed field
    return dict(sigma=operators.sigma, smooth_time=has_time and operators.time == "joint",
                chunk_size=operators.chunk_size, smooth=operators.smooth, **step)


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
