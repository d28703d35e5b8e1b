"""The BP-free operators a problem gets by default (``operators.method: auto``), chosen by its dimension."""

from ._finite_diff import DEFAULT_STEPS, FiniteDifferenceEngine
from ._spec import SHARED_FIELDS, AbstractEngineSpec

#: Largest dimension whose default is the full FD stencil (2d + 1 nodes per point, <= 401); beyond
#: it, ``RANDOM_COORDINATES`` random coordinates per point, two independent sets for the residual
#: (2 (2k + 1) = 66 nodes per point at any d); the measurements behind both numbers are in
#: benchmarks/results/defaults_rationale/README.md.
FULL_STENCIL_MAX_DIM = 200
RANDOM_COORDINATES = 16


def default_operators(dim: int, precision: str) -> dict:
    """The BP-free operators section chosen from the problem (what ``method: auto`` builds).

    Finite differences at every d: the full 2d+1 stencil up to ``FULL_STENCIL_MAX_DIM``, random
    coordinates beyond (unbiased, ``RANDOM_COORDINATES`` per set). The step follows ``precision``.
    Sparse-grid Stein is not a default, even at small d: its 2d^2 + O(d) nodes are never fewer than
    FD's 2d + 1 (d = 1: 3 vs 3; d = 10: 221 vs 21), it needs float64, its Laplacian is far less
    accurate than FD's (benchmarks/results/estimators/) and the reported smoothed solution carries
    an O(sigma^2) bias. Stein stays available as ``method: sg | se``.
    """
    if precision not in ("float32", "float64"):
        raise ValueError(f"precision: unknown value {precision!r}; choose float32 or float64")
    coordinates = "all" if dim <= FULL_STENCIL_MAX_DIM else RANDOM_COORDINATES
    return {"method": "fd", "coordinates": coordinates, "step": DEFAULT_STEPS[precision]}


class AutoSpec(AbstractEngineSpec):
    """``auto``: finite differences chosen by the problem's dimension (``operators.default_operators``)."""

    method = "auto"
    fields = {"step": SHARED_FIELDS["step"], "chunk_size": SHARED_FIELDS["chunk_size"]}

    def build(self, settings, *, dim, has_time):
        coordinates = default_operators(dim, "float64")["coordinates"]  # an unset step follows the points' dtype
        return FiniteDifferenceEngine(step=settings.step, coordinates=coordinates, chunk_size=settings.chunk_size)
