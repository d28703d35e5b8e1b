"""Trivial baselines of an exact-condition ansatz: how good is a network that learns nothing?

For ``u = base + factor * N`` the zero network gives ``u = base`` and the best constant network
gives ``u = base + factor * c*`` with ``c*`` the least-squares optimal constant. A problem whose
best-constant error is already small does not test whether a solver can learn.
"""

import numpy as np
from jaxtyping import Array, Float

from .metrics import error_metrics
from .models import Solution


def constant_baselines(
    solution: Solution,
    x: Float[Array, "n d"],
    t: Float[Array, " n"],
    u_ref: Float[Array, " n"],
) -> dict[str, float]:
    """Relative L2 errors of the zero network and of the best constant network.

    Arguments:
        solution: the ansatz ``u = base(x, t) + factor(x, t) * network(z)`` (its network unused).
        x: points (n, d); t: times (n,) (zeros for a stationary problem).
        u_ref: reference values (n,), e.g. the exact solution at (x, t).

    Returns:
        ``{"zero_rel_l2", "best_constant", "best_constant_rel_l2"}``: the rel L2 (as in
        ``pdesolve.metrics``) of ``u = base``, the least-squares constant
        ``c* = <factor, u_ref - base> / <factor, factor>`` and the rel L2 of ``base + factor * c*``.
    """
    base = np.asarray(solution.base(x, t), np.float64)
    factor = np.broadcast_to(np.asarray(solution.factor(x, t), np.float64), base.shape)
    u_ref = np.asarray(u_ref, np.float64)
    norm2 = float(np.dot(factor, factor))
    best = float(np.dot(factor, u_ref - base) / norm2) if norm2 > 0 else 0.0
    return {
        "zero_rel_l2": error_metrics(base, u_ref)["rel_l2"],
        "best_constant": best,
        "best_constant_rel_l2": error_metrics(base + factor * best, u_ref)["rel_l2"],
    }
