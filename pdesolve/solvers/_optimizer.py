"""The optax chain that turns a gradient (or its estimate) into an update, and its config keys."""

import jax
import optax

from ..fields import NUMBER, Field
from ._schedule import learning_rate_schedule

_UNIT = (0, 1 - 1e-12, "in [0, 1)")

OPTIMIZER_FIELDS = {
    "learning_rate": Field(NUMBER, 1e-3, positive=True),
    "schedule": Field((str,), "cosine", ("constant", "cosine", "exponential")),
    "end_factor": Field(NUMBER, 0.05, positive=True),  # final lr / initial lr for cosine and exponential
    "optimizer": Field((str,), "adam", ("adam", "sgd", "sign", "momentum")),  # momentum: EMA of the estimate
    "momentum": Field(NUMBER, 0.9, bounds=_UNIT),  # sgd momentum, or the EMA factor of ``momentum``
    "b1": Field(NUMBER, 0.9, bounds=_UNIT),
    "b2": Field(NUMBER, 0.999, bounds=_UNIT),
}


def build_optimizer(config: dict, steps: int, learning_rate: float | None = None) -> optax.GradientTransformation:
    """The optax chain that turns a gradient estimate into an update (adam, sgd, sign, momentum),
    applied to the list of parameter leaves (see :func:`on_leaves`)."""
    return on_leaves(_chain(config, steps, learning_rate))


def _chain(config: dict, steps: int, learning_rate: float | None) -> optax.GradientTransformation:
    """The optax chain of ``build_optimizer``, on the parameters as given."""
    if learning_rate is not None:
        config = {**config, "learning_rate": learning_rate}
    lr = learning_rate_schedule(config, steps)
    kind = config.get("optimizer", "adam")
    if kind == "adam":
        return optax.adam(lr, b1=config["b1"], b2=config["b2"])
    if kind == "sgd":
        return optax.sgd(lr, momentum=config["momentum"] or None)
    if kind == "sign":
        return optax.sign_sgd(lr)
    if kind == "momentum":  # EMA of the estimate, as the reference's CGE + momentum
        return optax.chain(optax.ema(config["momentum"], debias=False), optax.scale_by_learning_rate(lr))
    raise ValueError(f"solver.optimizer: unknown optimizer {kind!r}")


def on_leaves(inner: optax.GradientTransformation) -> optax.GradientTransformation:
    """``inner`` on the list of the parameters' array leaves, updates returned in the parameters' tree.

    The parameters' tree holds the run's own ansatz closures (static fields), so optax's jitted
    helpers (Adam's ``tree_bias_correction``), traced with the state's tree, would keep every run's
    model and problem in JAX's tracing cache (issue 14). Same arithmetic and state leaves as on the tree.
    """

    def init(params):
        return inner.init(jax.tree.leaves(params))

    def update(updates, state, params=None):
        leaves, tree = jax.tree.flatten(updates)
        leaves, state = inner.update(leaves, state, None if params is None else jax.tree.leaves(params))
        return jax.tree.unflatten(tree, leaves), state

    return optax.GradientTransformation(init, update)
