"""Training stages: solvers run one after another on the same network (``train.stages``).

Stage k runs for ``lengths[k]`` steps (the last one until the run ends) or, where ``budgets[k]``
is set, until its training time passes that many seconds (checked at each validation check). The
stage index, the steps and seconds spent in it and every stage's own state live in the solver
state, so checkpoints and resume know the stage; a stage's state is initialised from the
parameters it starts with.
"""

import dataclasses
import math
from typing import Any

import equinox as eqx
import jax
import jax.numpy as jnp
from jax.flatten_util import ravel_pytree
from jaxtyping import Array, Float, Int, PyTree

from ._base import AbstractSolver, Loss, SolverContext


class StagedState(eqx.Module):
    """The running stage, the steps taken in it, the training time it started at (NaN until the
    first check after it started) and each stage's own solver state."""

    stage: Int[Array, ""]
    stage_steps: Int[Array, ""]
    stage_start: Float[Array, ""]
    inner: tuple[PyTree, ...]


def _padded(stats: dict, shapes: dict) -> dict:
    """``stats`` with every key of ``shapes`` (NaN, or 0 for integers, where it has none), cast to their dtypes."""
    out = {}
    for key, shape in shapes.items():
        if key in stats:
            out[key] = jnp.asarray(stats[key]).astype(shape.dtype)
        else:
            fill = jnp.nan if jnp.issubdtype(shape.dtype, jnp.inexact) else 0
            out[key] = jnp.full(shape.shape, fill, shape.dtype)
    return out


def _union(all_stats: list[dict]) -> dict:
    """The keys of all the stages' stats with one shape and dtype each (the promoted one)."""
    shapes: dict[str, Any] = {}
    for stats in all_stats:
        for name, shape in stats.items():
            dtype = jnp.result_type(shapes[name].dtype, shape.dtype) if name in shapes else shape.dtype
            shapes[name] = jax.ShapeDtypeStruct(shape.shape, dtype)
    return shapes


class StagedSolver(AbstractSolver):
    """``stages[k]`` for ``lengths[k]`` steps (None: to the end of the run) or ``budgets[k]`` seconds."""

    stages: tuple[AbstractSolver, ...]
    lengths: tuple[int | None, ...] = eqx.field(static=True)
    budgets: tuple[float | None, ...] = eqx.field(static=True)

    def __check_init__(self):
        if not len(self.stages) == len(self.lengths) == len(self.budgets) or not self.stages:
            raise ValueError("train.stages: one length and one time budget per stage, at least one stage")

    def bind(self, context: SolverContext) -> "StagedSolver":
        return dataclasses.replace(self, stages=tuple(s.bind(context) for s in self.stages))

    def init(self, loss: Loss, params) -> StagedState:
        inner = tuple(s.init(loss, params) for s in self.stages)
        dtype = ravel_pytree(params)[0].dtype
        return StagedState(jnp.asarray(0), jnp.asarray(0), jnp.asarray(jnp.nan, dtype), inner)

    def _starting(self, loss: Loss, params, state: StagedState) -> StagedState:
        """``state`` moved to the next stage (its state initialised from ``params``) when the
        running one has taken its steps."""
        limits = jnp.asarray([n if n is not None else jnp.iinfo(jnp.int32).max for n in self.lengths])
        advance = (state.stage_steps >= limits[state.stage]) & (state.stage < len(self.stages) - 1)
        stage = state.stage + advance.astype(state.stage.dtype)
        inner = tuple(
            jax.tree.map(
                lambda fresh, old: jnp.where(advance & (stage == k), fresh, old),  # noqa: B023 (mapped at once)
                s.init(loss, params),
                state.inner[k],
            )
            for k, s in enumerate(self.stages)
        )
        start = jnp.where(advance, jnp.nan, state.stage_start)
        return StagedState(stage, jnp.where(advance, 0, state.stage_steps), start, inner)

    def step(self, loss: Loss, params, state: StagedState, batch, key):
        state = self._starting(loss, params, state)

        def branch(k):
            def run(operands):
                p, inner = operands
                p, new, stats = self.stages[k].step(loss, p, inner[k], batch, key)
                return p, (*inner[:k], new, *inner[k + 1 :]), stats

            return run

        runs = [branch(k) for k in range(len(self.stages))]
        shapes = _union([jax.eval_shape(run, (params, state.inner))[2] for run in runs])

        def padded(run):  # every branch returns the same stats keys (lax.switch needs one structure)
            def out(operands):
                p, inner, stats = run(operands)
                return p, inner, _padded(stats, shapes)

            return out

        params, inner, stats = jax.lax.switch(state.stage, [padded(run) for run in runs], (params, state.inner))
        state = StagedState(state.stage, state.stage_steps + 1, state.stage_start, inner)
        return params, state, {**stats, "train_stage": state.stage}

    def observe(self, state: StagedState, metric: float) -> StagedState:
        """The running stage's own ``observe`` (a hybrid's switch, say)."""
        k = int(state.stage)
        inner = (*state.inner[:k], self.stages[k].observe(state.inner[k], metric), *state.inner[k + 1 :])
        return eqx.tree_at(lambda s: s.inner, state, inner)

    def observe_time(self, state: StagedState, seconds: float) -> StagedState:
        """At a validation check, ``seconds`` of training so far: starts the running stage's clock,
        or ends the stage (its step count is set to its length) once its time budget is spent."""
        k = int(state.stage)
        start = float(state.stage_start)
        if math.isnan(start):
            return eqx.tree_at(lambda s: s.stage_start, state, jnp.asarray(seconds, state.stage_start.dtype))
        budget = self.budgets[k]
        if budget is None or seconds - start < budget or k == len(self.stages) - 1:
            return state
        ended = jnp.asarray(jnp.iinfo(jnp.int32).max, state.stage_steps.dtype)  # at least any length
        return eqx.tree_at(lambda s: s.stage_steps, state, ended)

    @property
    def name(self) -> str:
        return "+".join(s.name for s in self.stages)

    @property
    def uses_backprop(self) -> bool:
        return any(s.uses_backprop for s in self.stages)
