"""The solver interface every training method implements (first-order, zeroth-order, projection).

A solver sees only a loss of parameters: ``loss(params, batch, key) -> scalar``. The training
loop drives it through ``init`` and ``step``; a new method is one new module.
"""

import abc
from collections.abc import Callable
from typing import Any

import equinox as eqx
from jaxtyping import Array, PRNGKeyArray, PyTree, Scalar

from ..operators import AbstractOperatorEngine

Loss = Callable[[PyTree, Any, PRNGKeyArray], Scalar]


class SolverContext(eqx.Module):
    """What a solver may need beyond the loss: the solution's static part (combine it with the
    parameters), the operator engine, the compiled problem, the soft condition kinds and their
    weight in the loss (``train.condition_weight``). Handed to ``AbstractSolver.bind`` by the
    training loop."""

    static: PyTree
    engine: AbstractOperatorEngine
    compiled: Any = eqx.field(static=True)
    soft_kinds: tuple[str, ...] = eqx.field(static=True)
    condition_weight: float = eqx.field(static=True)


class AbstractSolver(eqx.Module):
    """Updates parameters one step at a time from a loss."""

    @abc.abstractmethod
    def init(self, loss: Loss, params: PyTree) -> PyTree:
        """Returns the initial solver state (optimiser moments, stage flags, ...)."""

    @abc.abstractmethod
    def step(
        self, loss: Loss, params: PyTree, state: PyTree, batch: Any, key: PRNGKeyArray
    ) -> tuple[PyTree, PyTree, dict[str, Array]]:
        """One update. Returns ``(params, state, stats)``; stats holds at least ``loss`` (the loss
        at the incoming parameters) and ``loss_evals`` (loss evaluations spent this step)."""

    def bind(self, context: SolverContext) -> "AbstractSolver":
        """Returns the solver with the problem structure it needs (the projection solver); the
        loss-only solvers ignore it."""
        return self

    def observe(self, state: PyTree, metric: float) -> PyTree:
        """Receives each validation check (relative L2 error, or the loss when no exact solution
        is known) between steps; solvers with schedules driven by validation override this."""
        return state

    def observe_time(self, state: PyTree, seconds: float) -> PyTree:
        """Receives the training time so far at each validation check (training stages with time
        budgets override this)."""
        return state

    @property
    @abc.abstractmethod
    def name(self) -> str:
        """Short name recorded in reports."""

    @property
    def uses_backprop(self) -> bool:
        """Whether the solver differentiates the loss in reverse mode."""
        return False
