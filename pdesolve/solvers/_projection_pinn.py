"""PINN constraints on network outputs, and the closed-form least-squares fit of the read-out.

With a stencil engine (sparse-grid or Monte Carlo Stein, finite differences) the residual at a
collocation point is a function of the network outputs N at its K stencil nodes (through the
ansatz ``base + factor * N``, at the nodes or, for Stein with ``smooth: network``, at the point).
Linearising at the current outputs N0,

    R(N) ~= R(N0) + J (N - N0) = c.N + e,   c = J,  e = R(N0) - J N0,

which is exact for a PDE linear in u (then J does not depend on N0) and a Gauss-Newton step
otherwise (e.g. |grad u|^2). J is the stencil's own linear functional (K forward-mode tangents
through the ansatz, the estimator and the residual, never through the network), so no back-propagation.
"""

import dataclasses
import itertools
from collections.abc import Callable

import equinox as eqx
import jax
import jax.numpy as jnp
from jaxtyping import Array, Float

from ..models import ACTIVATIONS, MLP, Solution

#: ``functional(field, x (1, d), t (1,), data (1,)) -> (1,)``: a residual or condition value
#: computed from a batched field through the operator engine.
Functional = Callable[..., Float[Array, " 1"]]


class ConstraintBlock(eqx.Module):
    """Constraints ``coefficients[i] . N(inputs[i]) + offset[i] = 0`` for n points with K stencil
    nodes each, entering the loss as ``scale * sum_i (residual_i)^2`` (scale = weight / n)."""

    inputs: Float[Array, "n k z"]
    coefficients: Float[Array, "n k"]
    offset: Float[Array, " n"]
    residual: Float[Array, " n"]  # at the current parameters
    scale: float = eqx.field(static=True)

    @property
    def loss(self) -> Float[Array, ""]:
        return self.scale * jnp.sum(self.residual**2)


def linearised_block(
    functional: Functional,
    solution: Solution,
    x: Float[Array, "n d"],
    t: Float[Array, " n"],
    data: Float[Array, " n"],
    weight: float = 1.0,
) -> ConstraintBlock:
    """The constraint block of ``functional`` at points ``(x, t)``, linearised at ``solution`` in
    the network outputs at every node the functional evaluates the network at (over all its
    calls: e.g. two coordinate sets of a randomised residual)."""

    def one(xi, ti, di):
        seen = []

        def recorder(z):  # learns the network inputs the engine evaluates (the ansatz is kept)
            seen.append(z)
            return jnp.zeros(z.shape[0], z.dtype)

        functional(dataclasses.replace(solution, network=recorder), xi[None], ti[None], di[None])
        ends = list(itertools.accumulate(len(z) for z in seen))[:-1]
        inputs = jnp.concatenate(seen)

        def value(v):
            parts = iter(jnp.split(v, ends))
            field = dataclasses.replace(solution, network=lambda z: next(parts))
            return functional(field, xi[None], ti[None], di[None])[0]

        n0 = solution.network(inputs)
        r0, jac = value(n0), jax.jacfwd(value)(n0)
        return inputs, jac, r0 - jac @ n0, r0

    inputs, coefficients, offset, residual = jax.vmap(one)(x, t, data)
    return ConstraintBlock(inputs, coefficients, offset, residual, weight / x.shape[0])


def hidden_features(network: MLP, z: Float[Array, "m in"]) -> Float[Array, "m h"]:
    """The last hidden layer's activations (the read-out layer's inputs)."""
    act = ACTIVATIONS[network.activation]
    for layer in network.layers[:-1]:
        z = act(layer(z))
    return z


def least_squares_rows(network: MLP, blocks: list[ConstraintBlock]) -> tuple[Float[Array, "r h1"], Float[Array, " r"]]:
    """Rows ``A``, right-hand side ``y`` with ``loss(w) = |A w - y|^2`` for read-out weights
    ``w = [weight, bias]`` (h + 1), the hidden layers fixed: each constraint is affine in w."""
    rows, rhs = [], []
    for block in blocks:
        n, k, z = block.inputs.shape
        phi = hidden_features(network, block.inputs.reshape(n * k, z)).reshape(n, k, -1)
        phi = jnp.concatenate([phi, jnp.ones((n, k, 1), phi.dtype)], axis=-1)
        root = jnp.sqrt(block.scale)
        rows.append(root * jnp.einsum("nk,nkh->nh", block.coefficients, phi))
        rhs.append(-root * block.offset)
    return jnp.concatenate(rows), jnp.concatenate(rhs)


def fit_readout(
    rows: Float[Array, "r h1"], rhs: Float[Array, " r"], previous: Float[Array, " h1"], ridge: float
) -> tuple[Float[Array, " h1"], Float[Array, ""]]:
    """``argmin_w |A w - y|^2 + lam |w - previous|^2`` with ``lam = ridge * trace(A^T A) / (h + 1)``
    (a regularised least-squares solve; with fewer rows than unknowns and a small ridge it is the
    projection of ``previous`` onto ``{A w = y}``, one block-Kaczmarz step). Returns (w, loss(w))."""
    gram = rows.T @ rows
    lam = ridge * jnp.trace(gram) / gram.shape[0]
    eye = jnp.eye(gram.shape[0], dtype=gram.dtype)
    w = jnp.linalg.solve(gram + lam * eye, rows.T @ rhs + lam * previous)
    return w, jnp.sum((rows @ w - rhs) ** 2)
