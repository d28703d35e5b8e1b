"""Jacobians of a residual vector with respect to a flat parameter vector, four ways.

``forward_difference`` and ``central_difference`` query the residual at perturbed parameters only
(inference, no derivative of the network: the BP-free path); ``jvp`` pushes unit tangents forward
(forward mode, no backward pass); ``ad`` pulls back unit cotangents (``jax.jacrev`` row by row,
reverse mode, the reference). Columns (rows for ``ad``) are computed ``chunk_size`` at a time
(``jax.lax.map`` over vmapped chunks) to bound memory.
"""

from collections.abc import Callable

import jax
import jax.numpy as jnp
from jaxtyping import Array, Float

Residuals = Callable[[Float[Array, " p"]], Float[Array, " m"]]

#: Jacobians of a residual function (the Gauss-Newton solver's ``layerwise`` one, which needs the
#: network's layers, is in ``_layerwise``).
JACOBIANS = ("forward_difference", "central_difference", "jvp", "ad")


def default_difference_step(kind: str, dtype) -> float:
    """The relative step that balances truncation and round-off: eps^(1/2) for a forward
    difference, eps^(1/3) for a central one (eps the machine epsilon of ``dtype``)."""
    eps = float(jnp.finfo(dtype).eps)
    return eps ** (1 / 2) if kind == "forward_difference" else eps ** (1 / 3)


def columns(column: Callable[[Array], Float[Array, " m"]], p: int, chunk_size: int | None) -> Float[Array, "m p"]:
    """``[column(0), ..., column(p - 1)]`` as the columns of an (m, p) matrix (vectors of length m)."""
    index = jnp.arange(p)
    rows = jax.vmap(column)(index) if chunk_size is None else jax.lax.map(column, index, batch_size=chunk_size)
    return rows.T


def jacobian(
    kind: str,
    fn: Residuals,
    theta: Float[Array, " p"],
    r0: Float[Array, " m"],
    *,
    step: float | None = None,
    chunk_size: int | None = None,
) -> tuple[Float[Array, "m p"], int]:
    """The Jacobian of ``fn`` at ``theta`` (``r0 = fn(theta)``) and the number of residual-vector
    evaluations (or tangent passes) it cost.

    Finite differences use the step ``h_j = step * max(1, |theta_j|)``, rounded so that
    ``theta_j + h_j`` is exactly representable (the divided difference then uses the true step).
    """
    p, m = theta.shape[0], r0.shape[0]
    if kind == "ad":  # reverse mode: one pullback per residual row
        pullback = jax.vjp(fn, theta)[1]
        cotangent = lambda i: jax.nn.one_hot(i, m, dtype=r0.dtype)  # noqa: E731
        return columns(lambda i: pullback(cotangent(i))[0], m, chunk_size).T, m
    if kind == "jvp":
        basis = lambda j: jax.nn.one_hot(j, p, dtype=theta.dtype)  # noqa: E731
        return columns(lambda j: jax.jvp(fn, (theta,), (basis(j),))[1], p, chunk_size), p
    if kind not in ("forward_difference", "central_difference"):
        raise ValueError(f"unknown Jacobian {kind!r}; choose one of {', '.join(JACOBIANS)}")
    step = default_difference_step(kind, theta.dtype) if step is None else step
    h = ((theta + step * jnp.maximum(1.0, jnp.abs(theta))) - theta).astype(theta.dtype)

    def forward(j):
        return (fn(theta.at[j].add(h[j])) - r0) / h[j]

    def central(j):
        return (fn(theta.at[j].add(h[j])) - fn(theta.at[j].add(-h[j]))) / (2 * h[j])

    if kind == "forward_difference":
        return columns(forward, p, chunk_size), p
    return columns(central, p, chunk_size), 2 * p
