"""BP-free solvers: a gradient estimate (zeroth order or forward mode) fed to an optax chain,
and the paper's hybrid (ZO-signRGE, then CGE with momentum once validation stalls)."""

import equinox as eqx
import jax
import jax.numpy as jnp
import optax
from jax.flatten_util import ravel_pytree

from ._base import AbstractSolver, Loss
from ._estimators import AbstractGradientEstimator


class EstimatedGradientSolver(AbstractSolver):
    """Updates parameters with ``optimizer`` applied to ``estimator``'s gradient estimate."""

    estimator: AbstractGradientEstimator
    optimizer: optax.GradientTransformation = eqx.field(static=True)
    label: str = eqx.field(static=True)

    def init(self, loss: Loss, params):
        return self.optimizer.init(params)

    def step(self, loss: Loss, params, state, batch, key):
        theta, unravel = ravel_pytree(params)
        loss_key, estimate_key = jax.random.split(key)
        flat_loss = lambda th: loss(unravel(th), batch, loss_key)  # noqa: E731 (same batch, same key)
        g, value, n_evals = self.estimator(flat_loss, theta, estimate_key)
        updates, state = self.optimizer.update(unravel(g), state, params)
        return optax.apply_updates(params, updates), state, {"loss": value, "loss_evals": jnp.asarray(n_evals)}

    @property
    def name(self) -> str:
        return self.label


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
    patience: int = eqx.field(static=True, default=5)

    def init(self, loss: Loss, params):
        return HybridState(self.coarse.init(loss, params), self.fine.init(loss, params),
                           jnp.asarray(0), jnp.asarray(jnp.inf), jnp.asarray(0))

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
        return eqx.tree_at(lambda h: (h.stage, h.best, h.stalls), state,
                           (jnp.asarray(stage), jnp.asarray(min(metric, float(state.best))), jnp.asarray(stalls)))

    @property
    def name(self) -> str:
        return "hybrid"
