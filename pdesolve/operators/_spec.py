"""A kind of operator engine as the registry knows it: its config keys and its builder.

The keys are ``Field``s declared here (those several kinds share) or in the engine's module; an
engine class's fields read their defaults from them (``engine_field``), and the ``operators``
config section of each kind is made from the spec's ``fields`` (``pdesolve.config``), so each
default is written once. What an engine can do (``differentiates_network``, ``point_chunk``) and
what it costs (``evals_per_point``) are asked of the built engine.
"""

import abc
from collections.abc import Mapping
from typing import Any, ClassVar

import equinox as eqx

from ..errors import ConfigError
from ..fields import FIELD, NUMBER, OPTIONAL_INT, OPTIONAL_NUMBER, Field
from ._base import AbstractOperatorEngine

#: Largest smoothing scale or difference step: its square (in every second difference) stays finite.
MAX_SCALE = 1e100
_SCALE_BOUNDS = (0, MAX_SCALE, f"> 0 and at most {MAX_SCALE:g}")


def _check_coordinates(field: str, value: Any) -> None:
    if value != "all" and not (isinstance(value, int) and value >= 1):
        raise ConfigError(field, f"must be 'all' or an integer >= 1, got {value!r}")


#: The keys several kinds share, one Field each (the comments are the settings page's descriptions).
SHARED_FIELDS = {
    "sigma": Field(NUMBER, 0.1, positive=True, bounds=_SCALE_BOUNDS),  # Stein smoothing scale
    # difference step (None: by precision; in time, the Stein engines' TIME_STEP)
    "step": Field(OPTIONAL_NUMBER, None, positive=True, bounds=_SCALE_BOUNDS),
    "time": Field((str,), "joint", choices=("joint", "fd")),  # Stein: smooth time jointly with space | difference it
    "smooth": Field((str,), "network", choices=("network", "solution")),  # Stein: smooth the network | the solution
    "chunk_size": Field(OPTIONAL_INT, None, bounds=(1, None, ">= 1, or unset")),  # max points per vectorised call
}
COORDINATES = Field((str, int), "all", check=_check_coordinates)


def engine_field(spec: Field) -> Any:
    """An engine class's (static) field that is the config key ``spec``, with its default."""
    return eqx.field(static=True, default=spec.default, metadata={FIELD: spec})


class AbstractEngineSpec(abc.ABC):
    """The kind selected by ``operators.method``; ``register_engine(spec)`` makes it available.

    ``fields`` are its config keys (``method`` aside), validated at the boundary; ``build`` reads
    them as attributes of the validated section (``settings``).
    """

    method: ClassVar[str]
    fields: ClassVar[Mapping[str, Field]]

    @abc.abstractmethod
    def build(self, settings: Any, *, dim: int, has_time: bool) -> AbstractOperatorEngine:
        """The engine for a problem of space dimension ``dim`` whose solution depends on t when ``has_time``."""
