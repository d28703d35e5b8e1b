"""Trivial baselines of an exact-condition ansatz: how good is a network that learns nothing?

For ``u = base + factor * N`` the zero network gives ``u = base`` and the best constant network
gives ``u = base + factor * c*`` with ``c*`` the least-squares optimal constant. A problem whose
best-constant error is already small does not test whether a solver can learn.
"""

from pathlib import Path

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
from jaxtyping import Array, Float

from .metrics import error_metrics
from .models import Solution, build_solution
from .problem import Problem, compile_problem, load_problem
from .sampling import PointSampler

#: Points per call of the ansatz's base and factor in :func:`constant_baselines`.
CHUNK = 2**16


def constant_baselines(
    solution: Solution,
    x: Float[Array, "n d"] | np.ndarray,
    t: Float[Array, " n"] | np.ndarray,
    u_ref: Float[Array, " n"] | np.ndarray,
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

    base and factor are computed ``CHUNK`` points at a time (x may be a numpy array): their
    temporaries, copies of the coordinates, stay bounded however many points there are.
    """
    n = len(x)
    base, factor = np.empty(n), np.empty(n)
    for i in range(0, n, CHUNK):
        xs, ts = jnp.asarray(x[i : i + CHUNK]), jnp.asarray(t[i : i + CHUNK])
        base[i : i + len(xs)] = np.asarray(solution.base(xs, ts), np.float64)
        factor[i : i + len(xs)] = np.asarray(solution.factor(xs, ts), np.float64)  # broadcast if constant
    return _baseline_errors(base, factor, u_ref)


def _baseline_errors(
    base: Float[Array, " n"] | np.ndarray,
    factor: Float[Array, " n"] | np.ndarray,
    u_ref: Float[Array, " n"] | np.ndarray,
) -> dict[str, float]:
    """The dict of ``constant_baselines`` from base, factor and reference values at n points."""
    base = np.asarray(base, np.float64)
    factor = np.broadcast_to(np.asarray(factor, np.float64), base.shape)
    u_ref = np.asarray(u_ref, np.float64)
    norm2 = float(np.dot(factor, factor))
    best = float(np.dot(factor, u_ref - base) / norm2) if norm2 > 0 else 0.0
    return {
        "zero_rel_l2": error_metrics(base, u_ref)["rel_l2"],
        "best_constant": best,
        "best_constant_rel_l2": error_metrics(base + factor * best, u_ref)["rel_l2"],
    }


class _ZeroNetwork(eqx.Module):
    """The network N = 0: inputs (n, k) -> zeros (n,)."""

    def __call__(self, z: Float[Array, "n k"]) -> Float[Array, " n"]:
        return jnp.zeros(z.shape[0], z.dtype)


def problem_baselines(
    problem: Problem | str | Path, points: int | None = None, law: str = "volume", seed_offset: int = 0
) -> dict[str, float]:
    """``constant_baselines`` of a problem's exact-condition ansatz on its evaluation points.

    Arguments:
        problem: a Problem or a problem file (it needs an ``exact`` solution).
        points: how many evaluation points (default: the problem's ``evaluation.points``); the
            points are the first ``points`` of the problem's evaluation sampler, as ``solve`` draws.
        law: the interior law of the points (``pdesolve.problem.INTERIOR_LAWS``), drawn with the
            evaluation seed plus ``seed_offset``.

    Returns:
        the dict of ``constant_baselines``.
    """
    problem = problem if isinstance(problem, Problem) else load_problem(problem)
    if problem.exact is None:
        raise ValueError(f"{problem.name}: no exact solution, so no baseline errors")
    compiled = compile_problem(problem)
    exact = compiled.exact
    assert exact is not None  # problem.exact is checked above
    solution, _ = build_solution(compiled, _ZeroNetwork(), "auto")
    evaluation = problem.evaluation
    sampler = PointSampler.for_law(
        problem.domain, problem.time, evaluation["sampling"], evaluation["seed"] + seed_offset, law
    )
    x, t = (jnp.asarray(a) for a in sampler.interior(points or evaluation["points"]))
    values = jax.jit(lambda x, t: (solution.base(x, t), solution.factor(x, t), exact(x, t)))
    return _baseline_errors(*values(x, t))


def baseline_table(paths: list[str | Path], points: int | None = None) -> str:
    """A markdown table: problem, d, zero-network and best-constant rel L2 for each problem file."""
    lines = ["| problem | d | zero rel L2 | best constant | best-constant rel L2 |", "|---|---|---|---|---|"]
    for path in paths:
        problem = load_problem(path)
        row = problem_baselines(problem, points)
        lines.append(
            f"| {problem.name} | {problem.dimension} | {row['zero_rel_l2']:.3g} | "
            f"{row['best_constant']:.3g} | {row['best_constant_rel_l2']:.3g} |"
        )
    return "\n".join(lines)
