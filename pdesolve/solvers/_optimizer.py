"""The optax chain that turns a gradient (or its estimate) into an update, and its config keys."""

import dataclasses
from typing import Any

import jax
import optax

from ..fields import NUMBER, schema_of, setting
from ._schedule import learning_rate_schedule

_UNIT = (0, 1 - 1e-12, "in [0, 1)")


@dataclasses.dataclass(frozen=True, kw_only=True)
class OptimizerSettings:
    """The optimiser keys of a solver section (``OPTIMIZER_FIELDS``; their defaults where a solver has no such key)."""

    learning_rate: float = setting(NUMBER, 1e-3, positive=True)
    schedule: str = setting((str,), "cosine", choices=("constant", "cosine", "exponential"))
    end_factor: float = setting(NUMBER, 0.05, positive=True)  # final lr / initial lr for cosine and exponential
    # momentum: an EMA of the estimate
    optimizer: str = setting((str,), "adam", choices=("adam", "sgd", "sign", "momentum"))
    momentum: float = setting(NUMBER, 0.9, bounds=_UNIT)  # sgd momentum, or the EMA factor of ``momentum``
    b1: float = setting(NUMBER, 0.9, bounds=_UNIT)
    b2: float = setting(NUMBER, 0.999, bounds=_UNIT)

    @classmethod
    def of(cls, settings: Any, **fixed: Any) -> "OptimizerSettings":
        """The optimiser keys of a solver's ``settings``, with ``fixed`` ones replacing them."""
        given = {f.name: getattr(settings, f.name) for f in dataclasses.fields(cls) if hasattr(settings, f.name)}
        return cls(**{**given, **fixed})


OPTIMIZER_FIELDS = schema_of(OptimizerSettings)


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
