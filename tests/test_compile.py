"""Compiled residuals, exact solutions, conditions and sources against hand-written NumPy formulas."""

from pathlib import Path

import jax.numpy as jnp
import numpy as np
import pytest

from pdesolve.errors import ProblemError
from pdesolve.problem import compile_problem, load_problem, problem_from_mapping

ROOT = Path(__file__).resolve().parent.parent
P = ROOT / "problems"
N = 17


def random_inputs(d, seed=0, low=0.0, high=1.0, n=N):
    rng = np.random.default_rng(seed)
    x = rng.uniform(low, high, (n, d))
    t = rng.uniform(0, 1, n)
    ops = {
        "u": rng.normal(size=n),
        "u_t": rng.normal(size=n),
        "u_tt": rng.normal(size=n),
        "lap_u": rng.normal(size=n),
        "u_x": rng.normal(size=(n, d)),
        "u_xx": rng.normal(size=(n, d)),
    }
    f = rng.normal(size=n)
    return x, t, ops, f


def residual(compiled, ops, x, t, f):
    needed = {k: jnp.asarray(v) for k, v in ops.items() if k in compiled.needs}
    return np.asarray(compiled.residual(needed, jnp.asarray(x), jnp.asarray(t), jnp.asarray(f)))


def close(a, b, rtol=1e-12, atol=1e-12):
    np.testing.assert_allclose(np.asarray(a), np.asarray(b), rtol=rtol, atol=atol)


# ----- residuals -----


def test_hjb20_residual_exact_and_terminal():
    c = compile_problem(load_problem(P / "hjb20.yaml"))
    x, t, ops, f = random_inputs(20)
    d = 20
    expected = ops["u_t"] + ops["lap_u"] - np.sum(ops["u_x"] ** 2, axis=1) / d + 2
    close(residual(c, ops, x, t, f), expected)
    close(c.exact(jnp.asarray(x), jnp.asarray(t)), x.sum(axis=1) + 1 - t)
    close(c.conditions["terminal"](jnp.asarray(x), jnp.asarray(t)), x.sum(axis=1))
    assert c.source is None


@pytest.mark.parametrize("d", [7, 100])
def test_bsb_residual_and_exact(d):
    c = compile_problem(load_problem(P / "bsb100.yaml", overrides={"dimension": d}))
    assert c.problem.dimension == d
    x, t, ops, f = random_inputs(d, seed=d)
    r, sigma, T = 0.05, 0.4, 1.0
    expected = (
        ops["u_t"] + sigma**2 / 2 * np.sum(x**2 * ops["u_xx"], axis=1) - r * (ops["u"] - np.sum(x * ops["u_x"], axis=1))
    )
    close(residual(c, ops, x, t, f), expected)
    close(c.exact(jnp.asarray(x), jnp.asarray(t)), np.exp((r + sigma**2) * (T - t)) * np.sum(x**2, axis=1))
    close(c.conditions["terminal"](jnp.asarray(x), jnp.asarray(t)), np.sum(x**2, axis=1))


def test_bsb_parameter_override_reaches_the_residual():
    c = compile_problem(load_problem(P / "bsb100.yaml", overrides={"dimension": 3, "r": 0.3, "sigma": 1.5}))
    x, t, ops, f = random_inputs(3, seed=5)
    expected = (
        ops["u_t"] + 1.5**2 / 2 * np.sum(x**2 * ops["u_xx"], axis=1) - 0.3 * (ops["u"] - np.sum(x * ops["u_x"], axis=1))
    )
    close(residual(c, ops, x, t, f), expected)


def test_heat_ball100_residual_exact_conditions():
    c = compile_problem(load_problem(P / "heat_ball100.yaml"))
    d = 100
    x, t, ops, f = random_inputs(d, seed=1, low=-0.1, high=0.1)
    close(residual(c, ops, x, t, f), ops["u_t"] - ops["lap_u"])
    sq = np.sum(x**2, axis=1)
    close(c.exact(jnp.asarray(x), jnp.asarray(t)), sq / (2 * d) + t)
    close(c.conditions["initial"](jnp.asarray(x), jnp.asarray(t)), sq / (2 * d))
    close(c.conditions["boundary"](jnp.asarray(x), jnp.asarray(t)), 1 / (2 * d) + t)


def test_poisson_sin10_residual_and_exact():
    c = compile_problem(load_problem(P / "poisson_sin10.yaml"))
    d = 10
    x, t, ops, f = random_inputs(d, seed=2)
    s = np.sin(x.sum(axis=1))
    close(residual(c, ops, x, t, f), ops["lap_u"] + s)
    close(c.exact(jnp.asarray(x), jnp.asarray(t)), s / d)
    close(c.conditions["boundary"](jnp.asarray(x), jnp.asarray(t)), s / d)


# ----- the manufactured source of the two-body Allen-Cahn problem -----


def two_body_exact(x, c):
    """NumPy: (1 - |x|^2) sum_{i<d} c_i sin(x_i + cos(x_{i+1}) + x_{i+1} cos(x_i)); x (..., d)."""
    a, b = x[..., :-1], x[..., 1:]
    return (1 - np.sum(x**2, axis=-1)) * np.sum(c[:-1] * np.sin(a + np.cos(b) + b * np.cos(a)), axis=-1)


def fd_laplacian(fn, x, h):
    """Central second differences along each axis, summed: error h^2/12 * sum_i max|d^4 u/dx_i^4|."""
    total = np.zeros(len(x))
    u0 = fn(x)
    for i in range(x.shape[1]):
        e = np.zeros(x.shape[1])
        e[i] = h
        total += (fn(x + e) - 2 * u0 + fn(x - e)) / h**2
    return total


def test_two_body_allen_cahn_manufactured_source():
    d = 6
    problem = load_problem(P / "two_body_allen_cahn100.yaml", overrides={"dimension": d})
    c_vec = np.asarray(problem.parameters["c"])
    np.testing.assert_array_equal(c_vec, np.random.default_rng(0).standard_normal(d))  # "normal: {seed: 0}"
    compiled = compile_problem(problem)
    rng = np.random.default_rng(3)
    x = rng.normal(size=(25, d))
    x *= rng.uniform(0, 1, (25, 1)) / np.linalg.norm(x, axis=1, keepdims=True)  # inside the unit ball
    t = np.zeros(25)
    u = two_body_exact(x, c_vec)
    close(compiled.exact(jnp.asarray(x), jnp.asarray(t)), u)
    # h = 1e-3 in float64: truncation <= d * h^2/12 * max|u''''| (|u''''| is O(10) here: ~1e-5 in all),
    # round-off ~ 4 * d * eps * |u| / h^2 ~ 1e-8; 1e-5 absolute covers both with margin.
    lap = fd_laplacian(lambda y: two_body_exact(y, c_vec), x, 1e-3)
    expected = lap + u - u**3  # equation lap_u + u - u**3 = f
    got = np.asarray(compiled.source(jnp.asarray(x), jnp.asarray(t)))
    np.testing.assert_allclose(got, expected, rtol=0, atol=1e-5)
    # and the residual at the exact solution's operators, with that f, vanishes
    x2, t2, ops, f = random_inputs(d, seed=4)
    close(residual(compiled, ops, x2, t2, f), ops["lap_u"] + ops["u"] - ops["u"] ** 3 - f)


def test_manufactured_source_detects_a_wrong_laplacian():
    """The FD reference is sharp enough to tell the source apart from one missing a term."""
    d = 6
    problem = load_problem(P / "two_body_poisson100.yaml", overrides={"dimension": d})
    compiled = compile_problem(problem)
    c_vec = np.asarray(problem.parameters["c"])
    x = np.random.default_rng(6).uniform(-0.35, 0.35, (10, d))
    lap = fd_laplacian(lambda y: two_body_exact(y, c_vec), x, 1e-3)
    got = np.asarray(compiled.source(jnp.asarray(x), jnp.zeros(10)))
    np.testing.assert_allclose(got, lap, rtol=0, atol=1e-5)
    assert np.max(np.abs(got - lap)) < 1e-3 * np.max(np.abs(lap))


# ----- a 1000-d problem -----


def test_thousand_dimensional_problem_compiles_and_evaluates():
    c = compile_problem(load_problem(P / "hjb20.yaml", overrides={"dimension": 1000}))
    x, t, ops, f = random_inputs(1000, seed=7, n=4)
    close(residual(c, ops, x, t, f), ops["u_t"] + ops["lap_u"] - np.sum(ops["u_x"] ** 2, axis=1) / 1000 + 2)
    close(c.exact(jnp.asarray(x), jnp.asarray(t)), x.sum(axis=1) + 1 - t)


# ----- Piecewise, Min, Max, Abs and friends -----


def _mapping(exact, d=3, **extra):
    return {
        "dimension": d,
        "domain": {"type": "box", "low": -1, "high": 1},
        "equation": "lap_u = 0",
        "conditions": {"boundary": "0"},
        "exact": exact,
        **extra,
    }


@pytest.mark.parametrize(
    "text, numpy_fn",
    [
        (
            "Piecewise((x[1], x[1] < 0.3), (x[2]**2, x[2] > 0.5), (-x[3], True))",
            lambda x: np.where(x[:, 0] < 0.3, x[:, 0], np.where(x[:, 1] > 0.5, x[:, 1] ** 2, -x[:, 2])),
        ),
        (
            "Piecewise((1, x[1] <= 0 and x[2] >= 0), (2, x[1] > 0.5 or x[3] < -0.5), (3, True))",
            lambda x: np.select([(x[:, 0] <= 0) & (x[:, 1] >= 0), (x[:, 0] > 0.5) | (x[:, 2] < -0.5)], [1.0, 2.0], 3.0),
        ),
        (
            "Min(x[1], x[2]) + Max(x[3], 0.4) + Abs(x[1] - x[2])",
            lambda x: np.minimum(x[:, 0], x[:, 1]) + np.maximum(x[:, 2], 0.4) + np.abs(x[:, 0] - x[:, 1]),
        ),
        ("Min(x[1], x[2], x[3]) * Max(x[1], x[2], x[3])", lambda x: np.min(x, axis=1) * np.max(x, axis=1)),
        (
            "sign(x[1]) * sqrt(Abs(x[2])) + 1 / sqrt(2 + x[3])",
            lambda x: np.sign(x[:, 0]) * np.sqrt(np.abs(x[:, 1])) + 1 / np.sqrt(2 + x[:, 2]),
        ),
        (
            "exp(x[1]) * log(2 + x[2]) - atan2(x[3], 0.5) + erf(x[1]) + tanh(x[2])**3",
            lambda x: (
                np.exp(x[:, 0]) * np.log(2 + x[:, 1])
                - np.arctan2(x[:, 2], 0.5)
                + np.array([__import__("math").erf(v) for v in x[:, 0]])
                + np.tanh(x[:, 1]) ** 3
            ),
        ),
        (
            "floor(3 * x[1]) + ceiling(2 * x[2]) + x[3]**(-2) + (2 + x[1])**1.5",
            lambda x: np.floor(3 * x[:, 0]) + np.ceil(2 * x[:, 1]) + x[:, 2] ** -2.0 + (2 + x[:, 0]) ** 1.5,
        ),
        (
            "Sum(i * x[i], (i, 1, d)) + Sum(x[i] * x[i + 1], (i, 1, d - 1)) + x[d]",
            lambda x: x @ np.arange(1, 4) + np.sum(x[:, :-1] * x[:, 1:], axis=1) + x[:, -1],
        ),
    ],
)
def test_elementwise_functions_match_numpy(text, numpy_fn):
    c = compile_problem(problem_from_mapping(_mapping(text)))
    x = np.random.default_rng(8).uniform(-1, 1, (64, 3))
    close(c.exact(jnp.asarray(x), jnp.zeros(64)), numpy_fn(x))


def test_piecewise_without_default_is_undefined_outside_its_pieces():
    """sympy's Piecewise is undefined (nan) where no condition holds; the compiler must not
    silently extend the last piece."""
    c = compile_problem(problem_from_mapping(_mapping("Piecewise((1, x[1] < 0), (2, x[1] < 0.5))")))
    x = np.array([[-0.5, 0, 0], [0.2, 0, 0], [0.8, 0, 0]])
    got = np.asarray(c.exact(jnp.asarray(x), jnp.zeros(3)))
    close(got[:2], [1.0, 2.0])
    assert np.isnan(got[2])


def test_heaviside_value_at_zero_follows_sympy():
    import sympy as sp

    c = compile_problem(problem_from_mapping(_mapping("Heaviside(x[1]) + 10 * Heaviside(x[2], 1)")))
    x = np.array([[0.0, 0.0, 0], [-0.5, 0.5, 0], [0.5, -0.5, 0]])
    expected = [float(sp.Heaviside(0)) + 10 * float(sp.Heaviside(0, 1)), 10.0, 1.0]
    close(c.exact(jnp.asarray(x), jnp.zeros(3)), expected)


def test_vector_parameters_reach_the_compiled_function():
    mapping = _mapping("dot(a, x) + b", parameters={"a": [1, 2, 3], "b": 0.5})
    c = compile_problem(problem_from_mapping(mapping))
    x = np.random.default_rng(9).uniform(-1, 1, (8, 3))
    close(c.exact(jnp.asarray(x), jnp.zeros(8)), x @ np.array([1.0, 2.0, 3.0]) + 0.5)


def test_nested_sums_and_products_reduce_over_their_own_axes():
    c = compile_problem(
        problem_from_mapping(
            _mapping(
                "Sum(Sum(x[i] * x[j] / (i + j), (j, 1, d)), (i, 1, d)) + Product(1 + x[k], (k, 1, d))"
                " + Sum(x[i] * x[j], (i, 1, 2), (j, 2, 3))"
            )
        )
    )
    x = np.random.default_rng(4).uniform(-1, 1, (6, 3))
    k = np.arange(1, 4)
    expected = (
        np.einsum("ni,nj,ij->n", x, x, 1.0 / (k[:, None] + k[None, :]))
        + np.prod(1 + x, axis=1)
        + (x[:, 0] + x[:, 1]) * (x[:, 1] + x[:, 2])
    )
    close(c.exact(jnp.asarray(x), jnp.zeros(6)), expected)


def test_sum_bounds_that_depend_on_another_index_are_a_problem_error():
    with pytest.raises(ProblemError) as err:
        compile_problem(problem_from_mapping(_mapping("Sum(Sum(x[i] * x[j], (j, 1, i)), (i, 1, d))")))
    assert err.value.field == "exact" and "depend on another index" in str(err.value)
