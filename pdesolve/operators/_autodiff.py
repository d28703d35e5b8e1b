"""Autodiff (reference) operator engine: forward-mode jvps, no full Hessian."""

from jaxtyping import Array, Float, PRNGKeyArray

from ..problem import directions_in, forward_operators
from ._base import AbstractOperatorEngine, BatchedField
from ._spec import AbstractEngineSpec


class AutodiffEngine(AbstractOperatorEngine):
    """Exact operators by forward-mode autodiff (``pdesolve.problem.forward_operators``: jvps along
    each coordinate, the Hessian diagonal only; jvp-of-jvp along the directions of a Hessian contraction)."""

    @property
    def name(self) -> str:
        return "ad"

    @property
    def differentiates_network(self) -> bool:
        return True

    def evals_per_point(self, needs: frozenset[str], dim: int) -> int:
        count = 1
        if needs & {"u_x"}:
            count += dim
        if needs & {"u_xx", "lap_u"}:
            count += 2 * dim
        count += int("u_t" in needs) + 2 * int("u_tt" in needs)
        return count + sum(2 * h.rank for h in directions_in(needs))

    def __call__(
        self,
        u: BatchedField,
        x: Float[Array, "n d"],
        t: Float[Array, " n"],
        needs: frozenset[str],
        key: PRNGKeyArray | None = None,
    ) -> dict[str, Array]:
        return forward_operators(u, x, t, needs)


class AutodiffSpec(AbstractEngineSpec):
    """``ad``: exact derivatives by autodiff (the reference; back-propagates)."""

    method = "ad"
    fields = {}

    def build(self, settings, *, dim, has_time):
        return AutodiffEngine()
