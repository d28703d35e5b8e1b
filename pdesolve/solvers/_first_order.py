"""First-order (autodiff) reference training with an optax optimiser."""

import equinox as eqx
import jax
import jax.numpy as jnp
import optax

from ._base import AbstractSolver, Loss
from ._optimizer import OPTIMIZER_FIELDS, OptimizerSettings, build_optimizer
from ._spec import AbstractSolverSpec


class FirstOrder(AbstractSolver):
    """Reverse-mode gradients of the loss fed to an optax transformation (the reference path)."""

    optimizer: optax.GradientTransformation = eqx.field(static=True)

    def init(self, loss: Loss, params):
        return self.optimizer.init(params)

    def step(self, loss: Loss, params, state, batch, key):
        value, grads = jax.value_and_grad(loss)(params, batch, key)
        updates, state = self.optimizer.update(grads, state, params)
        params = optax.apply_updates(params, updates)
        return params, state, {"loss": value, "loss_evals": jnp.asarray(1)}

    @property
    def name(self) -> str:
        return "first_order"

    @property
    def uses_backprop(self) -> bool:
        return True


class AdamSpec(AbstractSolverSpec):
    """``adam``: autodiff gradients with Adam, one loss evaluation per step."""

    name = "adam"
    fields = {k: v for k, v in OPTIMIZER_FIELDS.items() if k not in ("optimizer", "momentum")}
    learning_rates = ("learning_rate",)

    def build(self, settings, steps):
        return FirstOrder(build_optimizer(OptimizerSettings.of(settings, optimizer="adam"), steps))

    def perturbations(self, settings, n_params):
        return 1
