"""The Jacobian columns of an inverse problem's unknowns, beside the layerwise network columns (BP-free).

An unknown enters the residual vector through the compiled equation only (its value multiplies
operator values, e.g. kappa lap_u), not through the network, so the activity-perturbation Jacobian
(``_layerwise``) has no column for it. Its columns are forward differences of the residual vector in
the unknowns' unconstrained numbers: one more residual evaluation per unknown component, no
derivative of the network. The solver's parameters ravel as (network, unknowns), and so do the columns.
"""

import dataclasses

import jax.numpy as jnp
from jax.flatten_util import ravel_pytree

from ._jacobian import jacobian
from ._layerwise import layerwise_jacobian


def layerwise_with_unknowns(residuals_of, solution, step: float | None, chunk_size: int | None):
    """``(r, J, cost)`` as ``layerwise_jacobian(residuals_of, solution, ...)``, with the columns of
    ``solution.unknowns`` (forward differences, their own precision-based step) appended when it has any."""
    unknowns = getattr(solution, "unknowns", None)
    if not unknowns:
        return layerwise_jacobian(residuals_of, solution, step, chunk_size)
    bare = dataclasses.replace(solution, unknowns=None)
    r, network_columns, cost = layerwise_jacobian(
        lambda u: residuals_of(dataclasses.replace(u, unknowns=unknowns)), bare, step, chunk_size
    )
    theta, unravel = ravel_pytree(unknowns)

    def moved(th):  # the residual with the unknowns at th, the network as it is
        return residuals_of(dataclasses.replace(solution, unknowns=unravel(th)))

    columns, evals = jacobian("forward_difference", moved, theta, r, chunk_size=chunk_size)
    return r, jnp.concatenate([network_columns, columns], axis=1), cost + evals
