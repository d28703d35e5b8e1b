"""The ``operators`` section, one kind per ``operators.method``: autodiff, finite differences
(chosen by the problem or given), sparse-grid Stein and Monte Carlo Stein."""

import dataclasses
from typing import Any, ClassVar

from ..errors import ConfigError
from ..fields import MAX_POINTS, NUMBER, OPTIONAL_INT, OPTIONAL_NUMBER, Field, dataclass_field, setting
from ._section import KindedSection, kinds


def _check_coordinates(field: str, value: Any) -> None:
    if value != "all" and not (isinstance(value, int) and value >= 1):
        raise ConfigError(field, f"must be 'all' or an integer >= 1, got {value!r}")


#: Largest smoothing scale or difference step: its square (in every second difference) stays finite.
MAX_SCALE = 1e100
_SCALE_BOUNDS = (0, MAX_SCALE, f"> 0 and at most {MAX_SCALE:g}")


_SIGMA = Field(NUMBER, 0.1, positive=True, bounds=_SCALE_BOUNDS)
_STEP = Field(OPTIONAL_NUMBER, None, positive=True, bounds=_SCALE_BOUNDS)
_TIME = Field((str,), "joint", choices=("joint", "fd"))
_SMOOTH = Field((str,), "network", choices=("network", "solution"))
_CHUNK_SIZE = Field(OPTIONAL_INT, None, bounds=(1, None, ">= 1, or unset"))


# A key that several kinds have is one Field, shared: each helper gives a kind's class its field.
def _sigma() -> Any:
    return dataclass_field(_SIGMA)  # Stein smoothing scale


def _step() -> Any:  # difference step (None: by precision; in time, the Stein engines' TIME_STEP)
    return dataclass_field(_STEP)


def _time() -> Any:
    return dataclass_field(_TIME)  # Stein: smooth time jointly with space | difference it


def _smooth() -> Any:
    return dataclass_field(_SMOOTH)  # Stein: smooth the network | the solution


def _chunk_size() -> Any:
    return dataclass_field(_CHUNK_SIZE)  # max points per vectorised call


@dataclasses.dataclass(frozen=True, kw_only=True)
class OperatorsConfig(KindedSection):
    """How the operator values of the residual are computed, chosen by ``operators.method``."""

    kind_key: ClassVar[str] = "method"

    @property
    def point_chunk(self) -> int | None:
        """Points per vectorised network call (None: the whole batch)."""
        return getattr(self, "chunk_size", None)


@dataclasses.dataclass(frozen=True, kw_only=True)
class AutodiffOperators(OperatorsConfig):
    """``ad``: exact derivatives by autodiff (the reference; back-propagates)."""

    kind: ClassVar[str] = "ad"


@dataclasses.dataclass(frozen=True, kw_only=True)
class AutoOperators(OperatorsConfig):
    """``auto``: finite differences chosen by the problem's dimension (``operators.default_operators``)."""

    kind: ClassVar[str] = "auto"
    step: float | None = _step()
    chunk_size: int | None = _chunk_size()


@dataclasses.dataclass(frozen=True, kw_only=True)
class FiniteDifferenceOperators(OperatorsConfig):
    """``fd``: central differences, on all coordinates or on k random ones per point (unbiased)."""

    kind: ClassVar[str] = "fd"
    step: float | None = _step()
    coordinates: str | int = setting((str, int), "all", check=_check_coordinates)
    chunk_size: int | None = _chunk_size()


@dataclasses.dataclass(frozen=True, kw_only=True)
class SparseGridSteinOperators(OperatorsConfig):
    """``sg``: Gaussian-smoothed (Stein) derivatives on a symmetric sparse grid."""

    kind: ClassVar[str] = "sg"
    sigma: float = _sigma()
    level: int = setting((int,), 3, bounds=(3, 8, "between 3 and 8 (level 2 is exact to degree 3 only; nodes "
                                                 "grow fast with the level; 3 is the reference)"))
    step: float | None = _step()
    time: str = _time()
    smooth: str = _smooth()
    chunk_size: int | None = _chunk_size()


@dataclasses.dataclass(frozen=True, kw_only=True)
class MonteCarloSteinOperators(OperatorsConfig):
    """``se``: Gaussian-smoothed (Stein) derivatives from Monte Carlo samples."""

    kind: ClassVar[str] = "se"
    sigma: float = _sigma()
    samples: int = setting((int,), 1024, bounds=(1, MAX_POINTS, f"between 1 and {MAX_POINTS}"))
    step: float | None = _step()
    time: str = _time()
    smooth: str = _smooth()
    chunk_size: int | None = _chunk_size()


OPERATOR_KINDS = kinds(AutodiffOperators, AutoOperators, FiniteDifferenceOperators, SparseGridSteinOperators,
                       MonteCarloSteinOperators)
