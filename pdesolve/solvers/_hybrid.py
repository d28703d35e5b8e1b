"""The paper's hybrid: ZO-signRGE, then CGE with momentum once the validation metric stalls."""

import equinox as eqx
import jax
import jax.numpy as jnp
import optax

from ..fields import schema_of
from ._base import AbstractSolver, Loss
from ._estimators import CGE_FIELDS, RGE_FIELDS, CoordinateGradientEstimator, RandomGradientEstimator
from ._optimizer import OPTIMIZER_FIELDS, OptimizerSettings, build_optimizer
from ._spec import AbstractSolverSpec, solver_setting
from ._zeroth_order import EstimatedGradientSolver


class HybridState(eqx.Module):
    coarse: optax.OptState
    fine: optax.OptState
    stage: jax.Array  # 0: coarse (signRGE), 1: fine (CGE + momentum)
    best: jax.Array  # best validation metric so far
    stalls: jax.Array  # validation checks since the last improvement


class HybridSolver(AbstractSolver):
    """ZO-signRGE until the validation metric has not improved for ``patience`` checks, then
    CGE with momentum. ``observe`` receives each validation check from the training loop."""

    coarse: EstimatedGradientSolver
    fine: EstimatedGradientSolver
    patience: int = solver_setting((int,), 5, bounds=(0, None, ">= 0"))  # validation checks without improvement

    def init(self, loss: Loss, params):
        return HybridState(
            self.coarse.init(loss, params),
            self.fine.init(loss, params),
            jnp.asarray(0),
            jnp.asarray(jnp.inf),
            jnp.asarray(0),
        )

    def step(self, loss: Loss, params, state: HybridState, batch, key):
        def coarse(operands):
            p, s = operands
            p, inner, stats = self.coarse.step(loss, p, s.coarse, batch, key)
            return p, eqx.tree_at(lambda h: h.coarse, s, inner), stats

        def fine(operands):
            p, s = operands
            p, inner, stats = self.fine.step(loss, p, s.fine, batch, key)
            return p, eqx.tree_at(lambda h: h.fine, s, inner), stats

        params, state, stats = jax.lax.cond(state.stage == 0, coarse, fine, (params, state))
        return params, state, {**stats, "stage": state.stage}

    def observe(self, state: HybridState, metric: float) -> HybridState:
        improved = metric < float(state.best)
        stalls = 0 if improved else int(state.stalls) + 1
        stage = 1 if (int(state.stage) == 1 or stalls >= self.patience) else 0
        return eqx.tree_at(
            lambda h: (h.stage, h.best, h.stalls),
            state,
            (jnp.asarray(stage), jnp.asarray(min(metric, float(state.best))), jnp.asarray(stalls)),
        )

    @property
    def name(self) -> str:
        return "hybrid"


class HybridSpec(AbstractSolverSpec):
    """``hybrid``: sign steps on RGE (``coarse_*``), then CGE with momentum (``fine_*``)."""

    name = "hybrid"
    fields = {
        "patience": schema_of(HybridSolver)["patience"],
        "coarse_learning_rate": OPTIMIZER_FIELDS["learning_rate"],
        "coarse_mu": RGE_FIELDS["mu"]._replace(default=0.1),
        "coarse_samples": RGE_FIELDS["samples"],
        "coarse_directions": RGE_FIELDS["directions"]._replace(default="gaussian"),
        "fine_learning_rate": OPTIMIZER_FIELDS["learning_rate"],
        "fine_mu": CGE_FIELDS["mu"],
        "fine_block_size": CGE_FIELDS["block_size"],
        "momentum": OPTIMIZER_FIELDS["momentum"],
        "chunk_size": CGE_FIELDS["chunk_size"],
    }
    learning_rates = ("coarse_learning_rate", "fine_learning_rate")

    def build(self, settings, steps):
        s = settings

        def constant(optimizer: str, learning_rate: float):
            return build_optimizer(
                OptimizerSettings(
                    learning_rate=learning_rate,
                    schedule="constant",
                    end_factor=1.0,
                    optimizer=optimizer,
                    momentum=s.momentum,
                ),
                steps,
            )

        coarse = EstimatedGradientSolver(
            RandomGradientEstimator(s.coarse_samples, s.coarse_mu, s.coarse_directions, True, s.chunk_size),
            constant("sign", s.coarse_learning_rate),
            "sign_rge",
        )
        fine = EstimatedGradientSolver(
            CoordinateGradientEstimator(s.fine_mu, False, s.fine_block_size, s.chunk_size),
            constant("momentum", s.fine_learning_rate),
            "cge",
        )
        return HybridSolver(coarse, fine, s.patience)

    def perturbations(self, settings, n_params):
        return max(2 * settings.coarse_samples + 1, 1 + (settings.fine_block_size or n_params))
