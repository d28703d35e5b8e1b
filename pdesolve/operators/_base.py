"""The operator-engine interface shared by autodiff and the BP-free estimators."""

import abc
from collections.abc import Callable
from typing import Protocol, runtime_checkable

import equinox as eqx
from jaxtyping import Array, Float, PRNGKeyArray, PyTree

from ..problem import Subspace

#: Operator names a compiled residual may ask for, with the shape of their values at n points
#: in d dimensions. ``u`` is the (possibly smoothed) solution itself.
OPERATOR_SHAPES: dict[str, str] = {
    "u": "(n,)",
    "u_t": "(n,)",
    "u_tt": "(n,)",
    "u_x": "(n, d)",  # gradient components du/dx_i
    "u_xx": "(n, d)",  # Hessian diagonal d2u/dx_i^2
    "lap_u": "(n,)",  # Laplacian, sum_i d2u/dx_i^2
}
OPERATORS = frozenset(OPERATOR_SHAPES)

#: A batched scalar field: points x of shape (n, d) and times t of shape (n,) to values (n,).
BatchedField = Callable[[Float[Array, "n d"], Float[Array, " n"]], Float[Array, " n"]]


@runtime_checkable
class Ansatz(Protocol):
    """A field ``u(x, t) = base(x, t) + factor(x, t) * network(z)``, z = (x, t) if ``has_time``
    else x (``pdesolve.models.Solution``): engines that smooth may smooth the network alone."""

    network: Callable
    base: BatchedField
    factor: BatchedField
    has_time: bool


class AbstractOperatorEngine(eqx.Module):
    """Computes the operator values of a field ``u`` at collocation points.

    Engines see only a batched function of points; they never see parameters. For
    time-independent problems ``t`` is an array of zeros that ``u`` ignores, and no time
    operator is requested.
    """

    @abc.abstractmethod
    def __call__(
        self,
        u: BatchedField,
        x: Float[Array, "n d"],
        t: Float[Array, " n"],
        needs: frozenset[str],
        key: PRNGKeyArray | None = None,
    ) -> dict[str, Array]:
        """Returns ``{name: values}`` for every operator in ``needs`` (shapes in OPERATOR_SHAPES).

        ``key`` drives randomised estimators (Monte Carlo Stein); deterministic ones ignore it.
        """

    @abc.abstractmethod
    def evals_per_point(self, needs: frozenset[str], dim: int) -> int:
        """Network evaluations (forward passes or forward-mode passes) per point for ``needs``."""

    def residual(
        self,
        residual: Callable,
        u: BatchedField,
        x: Float[Array, "n d"],
        t: Float[Array, " n"],
        f: Float[Array, " n"],
        needs: frozenset[str],
        key: PRNGKeyArray | None = None,
        prepared: PyTree = None,
    ) -> Float[Array, " n"]:
        """``residual(ops, x, t, f)`` with this engine's operator values: shape (n,).

        Randomised engines override it to combine independent draws (see FiniteDifferenceEngine).
        ``prepared``: ``prepare(u, x, t, needs, key)`` for the same arguments, or None.
        """
        return residual(self(u, x, t, needs, key), x, t, f)

    def prepare(
        self,
        u: BatchedField,
        x: Float[Array, "n d"],
        t: Float[Array, " n"],
        needs: frozenset[str],
        key: PRNGKeyArray | None = None,
    ) -> PyTree:
        """The parameter-independent part of ``residual`` at these points and key (e.g. an ansatz's
        base and factor at the stencil nodes), or None: a solver that evaluates the residual several
        times on one batch computes it once and passes it as ``residual(..., prepared=...)``. ``u``
        needs only its non-parameter parts. None here: nothing to reuse."""
        return None

    def on_symmetry(self, subspace: Subspace) -> "AbstractOperatorEngine":
        """This engine for fields of ``subspace``'s symmetry features (a network with
        ``model.inputs: subspace`` and data the symmetry search accepted): itself, unless the engine
        can use the symmetry (finite differences: along its directions)."""
        return self

    def solution(self, u: BatchedField) -> BatchedField:
        """The field reported as the solution: ``u`` itself, or its smoothed version for Stein
        estimators (whose operators are those of the smoothed field)."""
        return u

    @property
    def prediction(self) -> str:
        """What ``solution`` reports, for run reports: ``network`` when it is u itself."""
        return "network"

    @property
    def name(self) -> str:
        """Short method name recorded in reports (``ad``, ``fd``, ``sg``, ``se``)."""
        return type(self).__name__

    @property
    @abc.abstractmethod
    def differentiates_network(self) -> bool:
        """Whether the operators come from derivatives of the network (autodiff, which back-propagates)
        rather than from its values at nodes around each point (a stencil or a smoothing rule):
        solvers that work on network values at the nodes (projection, layerwise Jacobian) need False."""

    @property
    def point_chunk(self) -> int | None:
        """Points per vectorised network call (``operators.chunk_size``; None: the whole batch)."""
        return None
