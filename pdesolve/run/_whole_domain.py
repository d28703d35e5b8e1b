"""Errors that see the whole domain, with an exact solution.

The evaluation points follow the volume law, which in high dimension puts them all in a thin shell
at the boundary, where the exact-condition ansatz is exact already. So the report adds the errors
under the radius-uniform law (a second, independent point set), by equal-width band of the
normalised radius, at the domain's centre, at the points of ``evaluation.at`` and along the
diagonal line.
"""

from typing import Any

import jax.numpy as jnp
import numpy as np

from ..analysis import point_rows, radius_bands
from ..baselines import constant_baselines
from ..metrics import error_metrics
from ..problem import CompiledProblem, Problem
from ..sampling import PointSampler

#: The radius-uniform points: as many as the evaluation points, at most this many.
MAX_RADIUS_UNIFORM_POINTS = 10_000
#: Their seed is the evaluation seed plus this (plus 1 draws the validation points).
RADIUS_UNIFORM_SEED_OFFSET = 2


def radius_uniform_points(problem: Problem, n: int) -> tuple[np.ndarray, np.ndarray]:
    """min(n, ``MAX_RADIUS_UNIFORM_POINTS``) points x (m, d), t (m,) under the radius-uniform law."""
    evaluation = problem.evaluation
    sampler = PointSampler.for_law(
        problem.domain,
        problem.time,
        evaluation["sampling"],
        evaluation["seed"] + RADIUS_UNIFORM_SEED_OFFSET,
        "radius_uniform",
    )
    return sampler.interior(min(n, MAX_RADIUS_UNIFORM_POINTS))


def centre_times(problem: Problem) -> np.ndarray:
    """The times (k,) at which the centre is reported: start, middle and end (0 when stationary)."""
    if problem.time is None:
        return np.zeros(1)
    t0, t1 = problem.time
    return np.array([t0, 0.5 * (t0 + t1), t1])


def at_points(problem: Problem) -> tuple[np.ndarray, np.ndarray, list[dict]] | None:
    """The points of ``evaluation.at``, each with each of its times: x (m, d), t (m,) and per pair
    its label {point (index in evaluation.at.points), x}; None when not given."""
    at = problem.evaluation.get("at")
    if at is None:
        return None
    times = np.zeros(1) if at["t"] is None else at["t"]
    index = np.repeat(np.arange(len(at["x"])), len(times))
    labels = [{"point": int(i), "x": at["x"][i].tolist()} for i in index]
    return at["x"][index], np.tile(times, len(at["x"])), labels


def whole_domain_errors(
    problem: Problem, compiled: CompiledProblem, evaluate_at, u_exact: np.ndarray, line: dict, dtype, solution
) -> dict:
    """Report entries ``radius_uniform``, ``by_radius_band``, ``centre``, ``at_points`` (with
    ``evaluation.at``) and ``line_max_abs_error``. ``evaluate_at(x, t, desc=...) -> (u_pred, u_raw)``
    predicts in chunks; ``u_exact`` (n,) is the exact solution on the evaluation points (their
    number sizes the radius-uniform set, their RMS scales the errors at single points); ``line`` is
    :func:`pdesolve.run._evaluate.diagonal_line`'s; ``solution`` the trained ansatz, whose best
    constant network is measured under the radius-uniform law too."""

    exact = compiled.exact
    assert exact is not None  # whole-domain errors are measured against an exact solution

    def values(x, t, desc) -> tuple[np.ndarray, np.ndarray]:  # (u_pred, u_exact) at x (m, d), t (m,), run's dtype
        x, t = np.asarray(x, dtype), np.asarray(t, dtype)
        return evaluate_at(x, t, desc=desc)[0], np.asarray(exact(jnp.asarray(x), jnp.asarray(t)))

    x, t = radius_uniform_points(problem, len(u_exact))  # at most MAX_RADIUS_UNIFORM_POINTS: bounded
    u_pred, u_ref = values(x, t, "radius-uniform points")
    best = constant_baselines(solution, np.asarray(x, dtype), np.asarray(t, dtype), u_ref)["best_constant_rel_l2"]
    out: dict[str, Any] = {
        "radius_uniform": {**error_metrics(u_pred, u_ref), "points": len(x), "best_constant_rel_l2": best},
        "by_radius_band": radius_bands(problem.domain, x, u_pred, u_ref),
    }
    scale = float(np.sqrt(np.mean(np.square(np.asarray(u_exact, np.float64)))))
    times = centre_times(problem)
    centre = np.tile(problem.domain.centre, (len(times), 1))
    out["centre"] = point_rows(
        [{"x": "centre"}] * len(times), times if problem.has_time else None, *values(centre, times, "centre"), scale
    )
    listed = at_points(problem)
    if listed is not None:
        x, t, labels = listed
        out["at_points"] = point_rows(labels, t if problem.has_time else None, *values(x, t, "evaluation.at"), scale)
    out["line_max_abs_error"] = float(np.max(np.abs(np.asarray(line["u_pred"], np.float64) - line["u_exact"])))
    return out
