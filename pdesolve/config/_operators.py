"""The ``operators`` section, one kind per ``operators.method``: its keys are the registered engine
spec's ``fields`` (``pdesolve.operators.register_engine``), read as a frozen dataclass."""

import dataclasses
from typing import ClassVar

from ..operators import engine_specs
from ._section import KindedSection, RegisteredKinds


@dataclasses.dataclass(frozen=True, kw_only=True)
class OperatorsConfig(KindedSection):
    """How the operator values of the residual are computed, chosen by ``operators.method``."""

    kind_key: ClassVar[str] = "method"
    kind_suffix: ClassVar[str] = "Operators"

    @property
    def point_chunk(self) -> int | None:
        """Points per vectorised network call (None: the whole batch)."""
        return getattr(self, "chunk_size", None)


#: The kinds by ``operators.method``, made from the engine registry at each lookup.
OPERATOR_KINDS = RegisteredKinds(OperatorsConfig, engine_specs)

# The built-in kinds by name (the classes ``OPERATOR_KINDS`` gives for them).
AutodiffOperators = OPERATOR_KINDS["ad"]
AutoOperators = OPERATOR_KINDS["auto"]
FiniteDifferenceOperators = OPERATOR_KINDS["fd"]
SparseGridSteinOperators = OPERATOR_KINDS["sg"]
MonteCarloSteinOperators = OPERATOR_KINDS["se"]
