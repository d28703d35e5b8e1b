"""The PINN objective as a least-squares problem: a residual vector whose squared norm is the loss.

``residuals(params, batch, key)`` stacks the PDE residual at the n collocation points, scaled by
1/sqrt(n), and each soft condition's misfit at its n_c points, scaled by sqrt(weight / n_c), so that

    loss = |residuals|^2 = mean(pde residual^2) + sum_c weight * mean((u - g_c)^2)
                           + data weight * mean((u(x_k, t_k) - u_k)^2)   (observations, ``data:``).

The residual uses the unknowns' values (an inverse problem's) that the solution carries.

First-order and zeroth-order solvers call the loss; Gauss-Newton solvers use the vector.
"""

import abc
import functools

import equinox as eqx
import jax.numpy as jnp
from jaxtyping import Array, Float, PRNGKeyArray, PyTree

from .models import condition_values
from .operators import AbstractOperatorEngine
from .problem import CompiledProblem, unknown_values


class AbstractResidualLoss(abc.ABC):
    """A least-squares loss, ``loss(params, batch, key) = |residuals(params, batch, key)|^2``: what
    Gauss-Newton solvers take. ``prepare(batch, key)`` is the batch with the parameter-independent
    data of its residuals computed once (here: the batch itself, nothing to reuse)."""

    @abc.abstractmethod
    def residuals(self, params: PyTree, batch: dict, key: PRNGKeyArray | None) -> Float[Array, " m"]:
        """The residual vector (m,) whose squared norm is the loss."""

    def prepare(self, batch: dict, key: PRNGKeyArray | None) -> dict:
        return batch

    def __call__(self, params: PyTree, batch: dict, key: PRNGKeyArray | None) -> Float[Array, ""]:
        return jnp.sum(self.residuals(params, batch, key) ** 2)


class PinnLoss(AbstractResidualLoss):
    """``loss(params, batch, key) -> scalar`` with ``loss.residuals(params, batch, key) -> (m,)``,
    and ``residuals_of(u, batch, key)`` of a whole solution (the layerwise Jacobian perturbs its network).

    ``batch`` is ``{"x": (n, d), "t": (n,), "f": (n,), "conditions": {kind: (x, t, g)}}``, with
    ``"data": (x (k, d), t (k,), u (k,))`` when the problem has observations;
    m = n + sum of the condition batch sizes (+ k). ``static`` is the solution's non-parameter part.
    """

    def __init__(
        self,
        compiled: CompiledProblem,
        engine: AbstractOperatorEngine,
        static: PyTree,
        soft_kinds: tuple[str, ...],
        weight: float,
    ):
        self.compiled, self.engine, self.static = compiled, engine, static
        self.soft_kinds, self.weight = tuple(soft_kinds), weight
        self.values = {k: condition_values(compiled, k) for k in self.soft_kinds}  # u, u_n or a u + b u_n
        data = compiled.problem.data
        self.data_weight = data["weight"] if data else 0.0  # the misfit's weight (batch["data"] present)

    def residuals(self, params: PyTree, batch: dict, key: PRNGKeyArray | None) -> Float[Array, " m"]:
        """The scaled residual vector (see the module docstring)."""
        return self.residuals_of(eqx.combine(params, self.static), batch, key)

    def residuals_of(self, u: PyTree, batch: dict, key: PRNGKeyArray | None) -> Float[Array, " m"]:
        """``residuals`` of the whole solution ``u`` (parameters and static parts combined)."""
        x, t = batch["x"], batch["t"]
        pde = self.engine.residual(
            self.equation(u), u, x, t, batch["f"], self.compiled.needs, key, prepared=batch.get("prepared")
        )
        parts = [pde / jnp.sqrt(x.shape[0])]
        if self.soft_kinds:
            field = self.engine.solution(u)
            for kind, (xc, tc, g) in batch["conditions"].items():
                parts.append((self.values[kind](field, xc, tc) - g) * jnp.sqrt(self.weight / xc.shape[0]))
        if "data" in batch:  # observations of u: sqrt(w / n_data) (u(x_k, t_k) - u_k)
            xd, td, ud = batch["data"]
            parts.append((self.engine.solution(u)(xd, td) - ud) * jnp.sqrt(self.data_weight / xd.shape[0]))
        return jnp.concatenate(parts)

    def equation(self, u: PyTree):
        """The compiled residual ``(ops, x, t, f) -> (n,)`` with the unknowns' values held by ``u``."""
        if not getattr(u, "unknowns", None):
            return self.compiled.residual
        values = unknown_values(self.compiled.problem.unknowns, u.unknowns)
        return functools.partial(self.compiled.residual, unknowns=values)

    def pde_residual(
        self,
        params: PyTree,
        x: Float[Array, "n d"],
        t: Float[Array, " n"],
        f: Float[Array, " n"],
        key: PRNGKeyArray | None,
    ) -> Float[Array, " n"]:
        """The unscaled PDE residual at points x (n, d), t (n,) with source values f (n,)."""
        u = eqx.combine(params, self.static)
        return self.engine.residual(self.equation(u), u, x, t, f, self.compiled.needs, key)

    def prepare(self, batch: dict, key: PRNGKeyArray | None) -> dict:
        """``batch`` with the engine's parameter-independent data for this key (``"prepared"``: for
        finite differences the ansatz's base and factor at the stencil nodes), so that the residuals
        a solver evaluates on one batch and key compute it once (Gauss-Newton: the Jacobian and the
        line search). The residuals are the same with or without it."""
        x, t = batch["x"], batch["t"]
        return {**batch, "prepared": self.engine.prepare(self.static, x, t, self.compiled.needs, key)}
