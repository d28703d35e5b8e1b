"""constant_baselines against an independent computation (scipy's scalar minimiser)."""

import equinox as eqx
import jax.numpy as jnp
import numpy as np
import pytest
from scipy.optimize import minimize_scalar

from pdesolve.baselines import constant_baselines
from pdesolve.models import Solution, build_solution
from pdesolve.problem import compile_problem, problem_from_mapping


class _Zero(eqx.Module):
    """A network that outputs 0 at every point: (n, k) -> (n,)."""

    def __call__(self, z):
        return jnp.zeros(z.shape[0], z.dtype)


def _heat_ball(dim: int):
    problem = problem_from_mapping(
        {
            "name": "t",
            "dimension": dim,
            "time": {"start": 0, "end": 1},
            "domain": {"type": "ball", "radius": 1},
            "equation": "u_t = lap_u",
            "conditions": {
                "initial": "Sum(sin(x[i]), (i, 1, d)) / d",
                "boundary": "exp(-t) * sqnorm(x) * Sum(sin(x[i]), (i, 1, d)) / d",
            },
            "exact": "exp(-t) * Sum(sin(x[i]), (i, 1, d)) / d",
        }
    )
    compiled = compile_problem(problem)
    return compiled, build_solution(compiled, _Zero(), "auto")[0]


def _points(dim: int, n: int = 200, seed: int = 0):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, dim))
    x *= (rng.random(n) ** (1 / dim) / np.linalg.norm(x, axis=1))[:, None]
    return jnp.asarray(x), jnp.asarray(rng.random(n))


def _rel_l2(pred, ref):
    return np.sqrt(np.sum((pred - ref) ** 2) / np.sum(ref**2))


@pytest.mark.parametrize("dim", [2, 7])
def test_against_scalar_minimiser(dim):
    compiled, solution = _heat_ball(dim)
    x, t = _points(dim)
    u_ref = np.asarray(compiled.exact(x, t))
    out = constant_baselines(solution, x, t, u_ref)
    base, factor = np.asarray(solution.base(x, t)), np.asarray(solution.factor(x, t))
    found = minimize_scalar(lambda c: _rel_l2(base + factor * c, u_ref), bracket=(-10, 10), tol=1e-12)
    assert out["best_constant"] == pytest.approx(found.x, rel=1e-5, abs=1e-8)
    assert out["best_constant_rel_l2"] == pytest.approx(found.fun, rel=1e-8)
    assert out["zero_rel_l2"] == pytest.approx(_rel_l2(base, u_ref), rel=1e-12)
    assert out["best_constant_rel_l2"] <= out["zero_rel_l2"]


def test_exact_solution_in_the_ansatz_gives_zero_error():
    base = lambda x, t: jnp.sin(x[:, 0]) + t  # noqa: E731
    factor = lambda x, t: 1.0 - jnp.sum(x**2, axis=1)  # noqa: E731
    solution = Solution(_Zero(), base, factor, True)
    x, t = _points(3, seed=1)
    u_ref = base(x, t) + factor(x, t) * 0.37
    out = constant_baselines(solution, x, t, u_ref)
    assert out["best_constant"] == pytest.approx(0.37, rel=1e-12)
    assert out["best_constant_rel_l2"] < 1e-13
    assert out["zero_rel_l2"] == pytest.approx(_rel_l2(np.asarray(base(x, t)), np.asarray(u_ref)), rel=1e-12)


def test_zero_factor_gives_constant_zero():
    solution = Solution(_Zero(), lambda x, t: jnp.zeros_like(t), lambda x, t: jnp.zeros_like(t), False)
    x, t = _points(2, seed=2)
    out = constant_baselines(solution, x, t, jnp.ones_like(t))
    assert out == {"zero_rel_l2": 1.0, "best_constant": 0.0, "best_constant_rel_l2": 1.0}
