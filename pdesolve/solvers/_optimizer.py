"""The optax chain that turns a gradient (or its estimate) into an update, and its config keys."""

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
    """The optax chain that turns a gradient estimate into an update (adam, sgd, sign, momentum)."""
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
