"""BP-free solvers: a gradient estimate (zeroth order or forward mode) fed to an optax chain."""

import equinox as eqx
import jax
import jax.numpy as jnp
import optax
from jax.flatten_util import ravel_pytree

from ._base import AbstractSolver, Loss
from ._estimators import (
    CGE_FIELDS,
    FORWARD_FIELDS,
    RGE_FIELDS,
    AbstractGradientEstimator,
    CoordinateGradientEstimator,
    ForwardGradientEstimator,
    random_estimator,
    random_evaluations,
)
from ._optimizer import OPTIMIZER_FIELDS, OptimizerSettings, build_optimizer
from ._spec import AbstractSolverSpec


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


class RgeSpec(AbstractSolverSpec):
    """``rge``: the randomised gradient estimate with an optax optimiser."""

    name = "rge"
    fields = {**OPTIMIZER_FIELDS, **RGE_FIELDS}
    learning_rates = ("learning_rate",)

    def build(self, settings, steps):
        optimizer = build_optimizer(OptimizerSettings.of(settings), steps)
        return EstimatedGradientSolver(random_estimator(settings), optimizer, self.name)

    def perturbations(self, settings, n_params):
        return random_evaluations(settings)


class SignRgeSpec(RgeSpec):
    """``sign_rge``: RGE with sign steps (Gaussian directions, a larger mu, a constant rate)."""

    name = "sign_rge"
    fields = {
        **RgeSpec.fields,
        "optimizer": OPTIMIZER_FIELDS["optimizer"]._replace(default="sign"),
        "mu": RGE_FIELDS["mu"]._replace(default=0.1),
        "directions": RGE_FIELDS["directions"]._replace(default="gaussian"),
        "schedule": OPTIMIZER_FIELDS["schedule"]._replace(default="constant"),
    }


class CgeSpec(AbstractSolverSpec):
    """``cge``: the coordinate gradient estimate with momentum (EMA) steps."""

    name = "cge"
    fields = {
        **OPTIMIZER_FIELDS,
        **CGE_FIELDS,
        "optimizer": OPTIMIZER_FIELDS["optimizer"]._replace(default="momentum"),
        "schedule": OPTIMIZER_FIELDS["schedule"]._replace(default="constant"),
    }
    learning_rates = ("learning_rate",)

    def build(self, settings, steps):
        estimator = CoordinateGradientEstimator(settings.mu, settings.central, settings.block_size, settings.chunk_size)
        return EstimatedGradientSolver(estimator, build_optimizer(OptimizerSettings.of(settings), steps), self.name)

    def perturbations(self, settings, n_params):
        return 1 + (settings.block_size or n_params) * (2 if settings.central else 1)


class ForwardGradientSpec(AbstractSolverSpec):
    """``forward_gradient``: multi-tangent forward gradients (jvps) with an optax optimiser."""

    name = "forward_gradient"
    fields = {**OPTIMIZER_FIELDS, **FORWARD_FIELDS}
    learning_rates = ("learning_rate",)

    def build(self, settings, steps):
        estimator = ForwardGradientEstimator(settings.tangents, settings.combine)
        return EstimatedGradientSolver(estimator, build_optimizer(OptimizerSettings.of(settings), steps), self.name)

    def perturbations(self, settings, n_params):
        return 2 * settings.tangents  # a value and a tangent per direction
