"""The optax chain that turns a gradient (or its estimate) into an update, and its config keys."""

import dataclasses
from typing import Any

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


def _default(key: str) -> Any:
    return dataclasses.field(default=OPTIMIZER_FIELDS[key].default)


@dataclasses.dataclass(frozen=True, kw_only=True)
class OptimizerSettings:
    """The ``OPTIMIZER_FIELDS`` of a solver section (their defaults where a solver has no such key)."""

    learning_rate: float = _default("learning_rate")
    schedule: str = _default("schedule")
    end_factor: float = _default("end_factor")
    optimizer: str = _default("optimizer")
    momentum: float = _default("momentum")
    b1: float = _default("b1")
    b2: float = _default("b2")

    @classmethod
    def of(cls, settings: Any, **fixed: Any) -> "OptimizerSettings":
        """The optimiser keys of a solver's ``settings``, with ``fixed`` ones replacing them."""
        given = {f.name: getattr(settings, f.name) for f in dataclasses.fields(cls) if hasattr(settings, f.name)}
        return cls(**{**given, **fixed})


def build_optimizer(settings: OptimizerSettings, steps: int) -> optax.GradientTransformation:
    """The optax chain that turns a gradient estimate into an update (adam, sgd, sign, momentum),
    applied to the list of parameter leaves (see :func:`on_leaves`)."""
    return on_leaves(_chain(settings, steps))


def _chain(settings: OptimizerSettings, steps: int) -> optax.GradientTransformation:
    """The optax chain of ``build_optimizer``, on the parameters as given."""
    lr = learning_rate_schedule(settings.learning_rate, settings.schedule, settings.end_factor, steps)
    kind = settings.optimizer
    if kind == "adam":
        return optax.adam(lr, b1=settings.b1, b2=settings.b2)
    if kind == "sgd":
        return optax.sgd(lr, momentum=settings.momentum or None)
    if kind == "sign":
        return optax.sign_sgd(lr)
    if kind == "momentum":  # EMA of the estimate, as the reference's CGE + momentum
        return optax.chain(optax.ema(settings.momentum, debias=False), optax.scale_by_learning_rate(lr))
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
