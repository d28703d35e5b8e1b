"""How far a parabolic problem's solution looks from where it is evaluated, on whole space.

u_t = a lap u + ... (or u_t + a lap u + ... = 0, backward) on R^d: the value at (x, t) depends on
the data and the residual along x + sqrt(2 a) W, whose squared distance from the mean grows by
2 a d per unit of time. At large d the normal law's points all lie at |x - mean|^2 ~ d std^2, so
a solution evaluated there depends on a shell the law never samples, out to
|x - mean|^2 / (d std^2) ~ 1 + 2 a (T - t0) / std^2. Training points must reach it too, or a
small residual on the law's shell leaves a large error on it.
"""

import dataclasses

import numpy as np
import sympy as sp

from ._domain import Domain, WholeSpace
from ._spec import Problem
from ._vocabulary import SCALAR_OPERATORS


def diffusion_reach(problem: Problem) -> float:
    """2 a (T - t0) / std^2: the growth of the normalised squared radius that diffusion brings over
    the time horizon (a = |coefficient of lap_u / coefficient of u_t| where both are constants);
    0 for a stationary problem, a bounded domain, or an equation without that form."""
    if not isinstance(problem.domain, WholeSpace) or problem.time is None:
        return 0.0
    lap, u_t = SCALAR_OPERATORS["lap_u"], SCALAR_OPERATORS["u_t"]
    ratio = sp.simplify(sp.diff(problem.residual, lap) / sp.diff(problem.residual, u_t))
    if ratio.free_symbols or not ratio.is_finite:
        return 0.0
    horizon = problem.time[1] - problem.time[0]
    return 2.0 * abs(float(ratio)) * horizon / float(np.mean(problem.domain.std)) ** 2


def training_domain(problem: Problem) -> Domain:
    """The problem's domain with its radius-uniform law widened by ``diffusion_reach`` (training
    points only: errors are still reported under the problem's own laws)."""
    domain = problem.domain
    if not isinstance(domain, WholeSpace):  # only whole space has a reach
        return domain
    return dataclasses.replace(domain, reach=diffusion_reach(problem))
