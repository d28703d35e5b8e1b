"""The Jacobian source of a Gauss-Newton step: which Jacobian of the batch's residual vector, and
whether the loss and model can give it.

``layerwise`` perturbs the network's activities (``_layerwise``, BP-free, PINN losses on MLPs);
the others differentiate the residual function of the flat parameters (``_jacobian``).
"""

import equinox as eqx

from ..errors import ConfigError
from ..loss import PinnLoss
from ._jacobian import JACOBIANS
from ._jacobian import jacobian as compute_jacobian
from ._layerwise import supports
from ._unknown_columns import layerwise_with_unknowns

#: The ``solver.jacobian`` choices.
SOURCES = ("layerwise", *JACOBIANS)


class JacobianSource(eqx.Module):
    """The Jacobian ``kind`` (one of ``SOURCES``) with its finite-difference step (None: by
    precision) and the columns per vectorised call (None: all at once)."""

    kind: str = eqx.field(static=True)
    difference_step: float | None = eqx.field(static=True)
    chunk_size: int | None = eqx.field(static=True)

    def __check_init__(self):
        if self.kind not in SOURCES:
            raise ValueError(
                f"solver.jacobian: unknown {self.kind!r}; choose layerwise or one of {', '.join(JACOBIANS)}"
            )

    @property
    def uses_backprop(self) -> bool:
        return self.kind == "ad"

    def check(self, loss, params) -> None:
        """The activity-perturbation Jacobian needs a PINN loss, an MLP of dense and tensor-train
        layers, and an engine that only evaluates the network (autodiff operators differentiate it)."""
        if self.kind != "layerwise":
            return
        if not isinstance(loss, PinnLoss) or not supports(eqx.combine(params, loss.static).network):
            raise ConfigError(
                "solver.jacobian",
                "layerwise needs a PINN loss on an MLP of dense and tensor-train "
                "layers (model.type mlp or tt_mlp); use forward_difference",
            )
        if loss.engine.differentiates_network:
            raise ConfigError(
                "solver.jacobian",
                "layerwise needs operators that evaluate the network (fd, sg, se), "
                "not autodiff operators; use operators.method fd, or jacobian ad with operators ad",
            )
        if loss.engine.point_chunk is not None:  # lax.map over chunks hides the per-node records
            raise ConfigError(
                "operators.chunk_size",
                f"layerwise evaluates all stencil nodes of the batch at once, "
                f"got chunk_size {loss.engine.point_chunk}; unset operators.chunk_size (lower "
                "train.batch_size to save memory), or use solver.jacobian forward_difference",
            )

    def __call__(self, loss, params, fn, theta, batch, key):
        """``(r, J, cost)``: the residual vector, its Jacobian and the residual-evaluation equivalents it cost."""
        if self.kind == "layerwise":
            return layerwise_with_unknowns(
                lambda u: loss.residuals_of(u, batch, key),
                eqx.combine(params, loss.static),
                self.difference_step,
                self.chunk_size,
            )
        r = fn(theta)
        jac, evals = compute_jacobian(self.kind, fn, theta, r, step=self.difference_step, chunk_size=self.chunk_size)
        return r, jac, evals
