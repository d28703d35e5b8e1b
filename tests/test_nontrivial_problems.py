"""The non-trivial benchmark problems (problems/nt_*.yaml): they load, their exact solutions solve
their PDEs and meet their conditions, and the exact-condition ansatz does not already contain them.

``python tests/test_nontrivial_problems.py`` prints the baseline table on the evaluation points.
"""

import functools
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from pdesolve import cli
from pdesolve.baselines import baseline_table, problem_baselines
from pdesolve.operators import AutodiffEngine
from pdesolve.problem import compile_problem, load_problem, problem_from_mapping
from pdesolve.sampling import PointSampler

ROOT = Path(__file__).resolve().parent.parent
NT_PROBLEMS = sorted((ROOT / "problems").glob("nt_*.yaml"))
IDS = [p.stem for p in NT_PROBLEMS]


@functools.cache
def _compiled(path):
    return compile_problem(load_problem(path))


def _points(problem, n: int, seed: int = 7):
    """n interior points (n, d) and times (n,) of the problem, float64."""
    x, t = PointSampler(problem.domain, problem.time, "uniform", seed).interior(n)
    return jnp.asarray(x), jnp.asarray(t)


def _n_points(dim: int) -> int:
    return 64 if dim <= 20 else 16 if dim <= 100 else 6


def _fd_operators(u, x, t, needs, h=1e-4):
    """Operators of ``u`` by central differences (no autodiff): an independent check. Shapes as
    in pdesolve.operators.OPERATOR_SHAPES for x (n, d), t (n,)."""
    u0, out = u(x, t), {}
    if needs & {"u_x", "u_xx", "lap_u"}:
        eye = jnp.eye(x.shape[1], dtype=x.dtype) * h
        plus = jax.lax.map(lambda e: u(x + e[None, :], t), eye).T  # (n, d)
        minus = jax.lax.map(lambda e: u(x - e[None, :], t), eye).T
        out["u_x"] = (plus - minus) / (2 * h)
        out["u_xx"] = (plus - 2 * u0[:, None] + minus) / h**2
        out["lap_u"] = jnp.sum(out["u_xx"], axis=1)
    if needs & {"u_t", "u_tt"}:
        up, um = u(x, t + h), u(x, t - h)
        out["u_t"], out["u_tt"] = (up - um) / (2 * h), (up - 2 * u0 + um) / h**2
    out["u"] = u0
    return {k: v for k, v in out.items() if k in needs}


def _scale(ops, f):
    """Size of the terms of the residual at each point: (n,)."""
    terms = [jnp.abs(f)] + [jnp.abs(v) if v.ndim == 1 else jnp.linalg.norm(v, axis=1) for v in ops.values()]
    return 1.0 + jnp.max(jnp.stack(terms), axis=0)


@pytest.mark.parametrize("path", NT_PROBLEMS, ids=IDS)
def test_loads_compiles_and_checks(path, capsys):
    problem = load_problem(path)
    assert problem.name == path.stem
    assert not problem.config, "no config: section, so the package default is what solves it"
    assert problem.exact is not None
    assert cli.main(["check", str(path)]) == 0
    assert capsys.readouterr().out.rstrip().endswith("ok")


def _relative_residual(compiled, x, t):
    """Max over points of |residual of the exact solution| / term size: (), with AD operators
    when f is written by hand or absent (an independent check), else with central differences
    (independent of the AD that manufactured f)."""
    f = jnp.zeros_like(t) if compiled.source is None else compiled.source(x, t)
    if compiled.problem.source == "from_exact":
        ops = _fd_operators(compiled.exact, x, t, compiled.needs)
    else:
        ops = AutodiffEngine()(compiled.exact, x, t, compiled.needs)
    return jnp.max(jnp.abs(compiled.residual(ops, x, t, f)) / _scale(ops, f))


@pytest.mark.parametrize("path", NT_PROBLEMS, ids=IDS)
def test_exact_solution_solves_the_pde(path):
    compiled = _compiled(path)
    x, t = _points(compiled.problem, _n_points(compiled.problem.dimension))
    relative = jax.jit(functools.partial(_relative_residual, compiled))(x, t)
    # AD: round-off only; central differences (h = 1e-4): O(h^2) truncation and eps / h^2 round-off.
    assert np.isfinite(relative) and relative < (1e-6 if compiled.problem.source == "from_exact" else 1e-9)


def _condition_and_exact(compiled, kind, x, t):
    """(condition values, exact values) at n points; for initial_velocity the exact u_t by AD."""
    if kind == "initial_velocity":
        exact = jax.jvp(lambda s: compiled.exact(x, s), (t,), (jnp.ones_like(t),))[1]
    else:
        exact = compiled.exact(x, t)
    return compiled.conditions[kind](x, t), exact


def test_residual_check_detects_a_wrong_coefficient():
    """The Burgers problem with beta off by 1/(2d) is not solved by its exact solution."""
    raw = dict(load_problem(ROOT / "problems" / "nt_burgers5_ball.yaml").raw)
    raw["equation"] = raw["equation"].replace("1 / (2 * d)", "1 / d")
    compiled = compile_problem(problem_from_mapping(raw))
    x, t = _points(compiled.problem, 64)
    assert jax.jit(functools.partial(_relative_residual, compiled))(x, t) > 1e-3


@pytest.mark.parametrize("path", NT_PROBLEMS, ids=IDS)
def test_conditions_equal_the_exact_solution(path):
    compiled = _compiled(path)
    problem, n = compiled.problem, 32
    sampler = PointSampler(problem.domain, problem.time, "uniform", 3)
    for kind in compiled.conditions:
        if kind == "boundary":
            x, t = sampler.boundary(n)
        else:
            x, t = sampler.at_time(n, problem.time[1] if kind == "terminal" else problem.time[0])
        values = jax.jit(functools.partial(_condition_and_exact, compiled, kind))
        condition, exact = values(jnp.asarray(x), jnp.asarray(t))
        np.testing.assert_allclose(condition, exact, atol=1e-12 * (1 + float(jnp.max(jnp.abs(exact)))))


@pytest.mark.parametrize("path", NT_PROBLEMS, ids=IDS)
def test_best_constant_network_is_not_already_accurate(path):
    row = problem_baselines(path, points=512)
    assert row["best_constant_rel_l2"] >= 1e-2
    assert row["zero_rel_l2"] >= row["best_constant_rel_l2"] - 1e-12


def test_catalogue_coverage():
    problems = [load_problem(p) for p in NT_PROBLEMS]
    assert len(problems) >= 12
    assert {2, 5, 10, 20, 50, 100, 1000} <= {p.dimension for p in problems}
    assert {type(p.domain).__name__ for p in problems} >= {"Box", "Annulus", "WholeSpace"}
    assert any("initial_velocity" in p.conditions for p in problems)
    assert any(p.has_time for p in problems) and any(not p.has_time for p in problems)


if __name__ == "__main__":
    jax.config.update("jax_enable_x64", True)
    print(baseline_table(NT_PROBLEMS))
