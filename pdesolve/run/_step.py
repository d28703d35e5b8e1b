"""One training step with the divergence check on the device: the loss and the new parameters
must be finite, or the step changes nothing."""

import equinox as eqx
import jax
import jax.numpy as jnp
from jaxtyping import Array, Bool, Int, PyTree

from ..solvers import AbstractSolver

#: The device flag of the guard: (every step finite so far, how many steps were).
Flag = tuple[Bool[Array, ""], Int[Array, ""]]


def fresh_flag() -> Flag:
    """The flag of a verified point: every step finite so far, none counted yet."""
    return jnp.asarray(True), jnp.asarray(0, jnp.int32)


def all_finite(tree: PyTree) -> Bool[Array, ""]:
    """Whether every floating-point leaf of ``tree`` is finite."""
    leaves = [jnp.all(jnp.isfinite(a)) for a in jax.tree.leaves(eqx.filter(tree, eqx.is_inexact_array))]
    return jnp.all(jnp.stack(leaves)) if leaves else jnp.asarray(True)


def _select(ok: Bool[Array, ""], new: PyTree, old: PyTree) -> PyTree:
    """``new`` where ``ok``, else ``old``, over the array leaves (other leaves from ``new``)."""
    new_arrays, static = eqx.partition(new, eqx.is_array)
    old_arrays = eqx.filter(old, eqx.is_array)
    return eqx.combine(jax.tree.map(lambda a, b: jnp.where(ok, a, b), new_arrays, old_arrays), static)


def make_guarded_step(solver: AbstractSolver, loss):
    """``step(params, state, flag, batch, key) -> (params, state, flag, stats)``, jitted.

    One solver step that also checks, on the device, that the loss and the new parameters are
    finite. ``flag = (ok, n_ok)``: ``ok`` (scalar bool) turns False at the first non-finite step
    and stays False, and from then on the parameters and state no longer change; ``n_ok`` counts
    the finite steps. The host reads the flag only when it logs or checkpoints, so the check
    costs no host sync per step.

    Jitted with ``jax.jit``, whose compiled code is freed with the closure at the end of the run
    (issue 14). ``eqx.filter_jit`` of a closure never frees it: JAX's caches, weakly keyed on
    Equinox's wrapper, hold the closure (a static argument of the wrapper), and Equinox's cache,
    weakly keyed on the closure, holds the wrapper; every solve's executables stayed in memory.
    The step's arguments and results are arrays (None where a parameter is not one).
    """

    def step(params, state, flag, batch, key):
        ok, n_ok = flag
        new_params, new_state, stats = solver.step(loss, params, state, batch, key)
        ok = ok & jnp.isfinite(stats["loss"]) & all_finite(new_params)
        flag = (ok, n_ok + ok.astype(n_ok.dtype))
        return _select(ok, new_params, params), _select(ok, new_state, state), flag, stats

    return jax.jit(step)
