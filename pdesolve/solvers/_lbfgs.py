"""L-BFGS with optax's zoom line search on autodiff gradients (the usual PINN fine stage after Adam).

The loss of a batch must be one fixed function while L-BFGS works on it: its curvature pairs and
the line search compare values and gradients of that function. The state therefore keeps a
fingerprint of the batch and the loss key it was first seen with; while the batch stays
(``train.resample_every`` > 1, or a fixed batch), the loss uses that key and the value and gradient
stored by the last line search are reused (``optax.value_and_grad_from_state``); a new batch gets a
fresh value and gradient. L-BFGS is meant for fixed or rarely resampled points.
"""

import equinox as eqx
import jax
import jax.numpy as jnp
import optax
from jax.flatten_util import ravel_pytree
from jaxtyping import Array, Float, PRNGKeyArray, PyTree

from ..fields import schema_of
from ._base import AbstractSolver, Loss
from ._spec import AbstractSolverSpec, solver_setting


class LbfgsState(eqx.Module):
    """optax's L-BFGS state (on the flat parameter vector), the fingerprint of the batch it belongs
    to (NaN before the first step) and the loss key used on that batch."""

    inner: optax.OptState
    fingerprint: Float[Array, ""]
    key: PRNGKeyArray


def fingerprint(batch: PyTree) -> Float[Array, ""]:
    """A number that changes when any value of the batch does: the sum of every leaf's values, each
    weighted by its position (1, 2, ... along the flattened leaf) and the leaf's rank in the tree."""
    total = jnp.asarray(0.0)
    for rank, leaf in enumerate(jax.tree.leaves(batch)):
        flat = jnp.ravel(leaf).astype(total.dtype)
        weights = 1.0 + jnp.arange(flat.shape[0], dtype=flat.dtype) / max(flat.shape[0], 1)
        total = total + (rank + 1) * jnp.sum(weights * flat)
    return total


class Lbfgs(AbstractSolver):
    """``optax.lbfgs`` (memory ``memory_size``) with the zoom line search of at most
    ``max_linesearch_steps`` evaluations (strong Wolfe conditions), reverse-mode gradients."""

    memory_size: int = solver_setting((int,), 10, bounds=(1, 1000, "between 1 and 1000"))  # curvature pairs kept
    # zoom evaluations per step
    max_linesearch_steps: int = solver_setting((int,), 20, bounds=(1, 200, "between 1 and 200"))

    @property
    def _optimizer(self) -> optax.GradientTransformationExtraArgs:
        search = optax.scale_by_zoom_linesearch(
            max_linesearch_steps=self.max_linesearch_steps, initial_guess_strategy="one"
        )
        return optax.lbfgs(memory_size=self.memory_size, linesearch=search)

    def init(self, loss: Loss, params) -> LbfgsState:
        theta = ravel_pytree(params)[0]
        return LbfgsState(self._optimizer.init(theta), jnp.asarray(jnp.nan, theta.dtype), jax.random.PRNGKey(0))

    def step(self, loss: Loss, params, state: LbfgsState, batch, key):
        theta, unravel = ravel_pytree(params)
        mark = fingerprint(batch).astype(theta.dtype)
        same = mark == state.fingerprint
        key = jnp.where(same, state.key, key)
        # a new batch: the stored value and gradient are another function's (inf: compute afresh)
        inner = optax.tree.set(state.inner, value=jnp.where(same, optax.tree.get(state.inner, "value"), jnp.inf))
        fn = lambda th: loss(unravel(th), batch, key)  # noqa: E731 (one function per batch)
        value, grad = optax.value_and_grad_from_state(fn)(theta, state=inner)
        updates, inner = self._optimizer.update(grad, inner, theta, value=value, grad=grad, value_fn=fn)
        searched = optax.tree.get(inner, "info").num_linesearch_steps
        stats = {"loss": value, "loss_evals": jnp.where(same, 0, 1) + searched}
        return unravel(theta + updates), LbfgsState(inner, mark, key), stats

    @property
    def name(self) -> str:
        return "lbfgs"

    @property
    def uses_backprop(self) -> bool:
        return True


class LbfgsSpec(AbstractSolverSpec):
    """``lbfgs``: L-BFGS with a zoom line search on autodiff gradients; no learning rate."""

    name = "lbfgs"
    fields = schema_of(Lbfgs)
    learning_rates = ()

    def build(self, settings, steps):
        return Lbfgs(settings.memory_size, settings.max_linesearch_steps)

    def perturbations(self, settings, n_params):
        return 1

    def evaluations_per_step(self, settings, n_params, hidden_units, rows):
        """A value and gradient, and at most ``max_linesearch_steps`` more in the line search."""
        return 1 + settings.max_linesearch_steps
