"""The operator engines by ``operators.method``: a new engine is its module (engine class and spec)
plus one ``register_engine`` call."""

from ._autodiff import AutodiffSpec
from ._defaults import AutoSpec
from ._finite_diff import FiniteDifferenceSpec
from ._spec import AbstractEngineSpec
from ._stein import MonteCarloSteinSpec, SparseGridSteinSpec

_ENGINES: dict[str, AbstractEngineSpec] = {}


def register_engine(spec: AbstractEngineSpec) -> AbstractEngineSpec:
    """Makes ``spec`` the kind ``operators.method: <spec.method>`` (config validation, building)."""
    if spec.method in _ENGINES:
        raise ValueError(f"an operator engine named {spec.method!r} is already registered")
    _ENGINES[spec.method] = spec
    return spec


def unregister_engine(method: str) -> None:
    """Removes the kind ``method`` (a test's toy engine, say)."""
    del _ENGINES[method]


def engine_specs() -> dict[str, AbstractEngineSpec]:
    """The registered kinds by ``operators.method`` (a copy)."""
    return dict(_ENGINES)


def engine_spec(method: str) -> AbstractEngineSpec:
    """The kind ``method``."""
    if method not in _ENGINES:
        raise ValueError(f"operators.method: unknown method {method!r}")
    return _ENGINES[method]


register_engine(AutodiffSpec())
register_engine(AutoSpec())
register_engine(FiniteDifferenceSpec())
register_engine(SparseGridSteinSpec())
register_engine(MonteCarloSteinSpec())
