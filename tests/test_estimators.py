"""BP-free derivative estimators against closed-form Gaussian smoothing, autodiff and each other."""

import itertools
import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from numpy.polynomial import Polynomial

from pdesolve.config import resolve
from pdesolve.errors import ConfigError
from pdesolve.operators import (
    OPERATORS,
    AutodiffEngine,
    FiniteDifferenceEngine,
    MonteCarloSteinEngine,
    SparseGridSteinEngine,
    sparse_grid,
)
from pdesolve.run import build_engine

D_SPACE = 3
ALL = frozenset(OPERATORS)
SPACE = frozenset({"u", "u_x", "u_xx", "lap_u"})


def run(engine, u, x, t, needs, key=None):
    """One compiled call (much faster in tests than op-by-op dispatch)."""
    return jax.jit(lambda x, t, key: engine(u, x, t, needs, key=key))(x, t, key)


def points(n=6, seed=0):
    kx, kt = jax.random.split(jax.random.key(seed))
    return 0.7 * jax.random.normal(kx, (n, D_SPACE)), jax.random.uniform(kt, (n,))


# ----- random polynomials in z = (x, t) and their Gaussian smoothing in closed form -----


def random_polynomial(degree: int, t_degree: int, seed: int):
    """Every monomial of total degree <= ``degree`` (t-degree <= ``t_degree``), random coefficients."""
    exponents = [
        e for e in itertools.product(range(degree + 1), repeat=D_SPACE + 1) if sum(e) <= degree and e[-1] <= t_degree
    ]
    exponents = np.array(exponents)
    coefficients = np.random.default_rng(seed).normal(size=len(exponents))

    def field(x, t):
        z = jnp.concatenate([x, t[:, None]], axis=1)
        return jnp.prod(z[:, None, :] ** exponents[None], axis=-1) @ coefficients

    return field, exponents, coefficients


def smoothed_reference(exponents, coefficients, s, smooth_time):
    """Every operator of E f(z + s delta) (space only unless ``smooth_time``), in closed form.

    A monomial smooths coordinate by coordinate: E prod_i (z_i + s delta_i)^a_i = prod_i p_a_i(z_i)
    with p_a(y) = sum_j C(a, j) y^(a-j) s^j E delta^j, so derivatives act on one factor each.
    """
    smoothed = list(range(D_SPACE)) + ([D_SPACE] if smooth_time else [])

    def factor(a: int, coordinate: int) -> Polynomial:
        if coordinate not in smoothed:
            return Polynomial([0] * a + [1])
        coef = np.zeros(a + 1)  # coef[a - j] = C(a, j) s^j E delta^j
        for j in range(0, a + 1, 2):
            coef[a - j] = math.comb(a, j) * s**j * math.prod(range(j - 1, 0, -2))
        return Polynomial(coef)

    def evaluate(name, x, t_values):
        z = np.concatenate([np.asarray(x), np.asarray(t_values)[:, None]], axis=1)
        result = np.zeros((len(z), D_SPACE + 1, 3))  # per coordinate: value, first and second derivative
        for e, c in zip(exponents, coefficients):
            polys = [factor(int(a), i) for i, a in enumerate(e)]
            values = np.stack([p(z[:, i]) for i, p in enumerate(polys)], axis=1)
            for order in (1, 2):
                derivs = np.stack([p.deriv(order)(z[:, i]) for i, p in enumerate(polys)], axis=1)
                others = np.stack([np.prod(np.delete(values, i, axis=1), axis=1) for i in range(D_SPACE + 1)], 1)
                result[:, :, order] += c * derivs * others
            result[:, :, 0] += c * np.prod(values, axis=1)[:, None]
        return {
            "u": result[:, 0, 0],
            "u_x": result[:, :D_SPACE, 1],
            "u_xx": result[:, :D_SPACE, 2],
            "lap_u": result[:, :D_SPACE, 2].sum(axis=1),
            "u_t": result[:, D_SPACE, 1],
            "u_tt": result[:, D_SPACE, 2],
        }[name]

    return evaluate


@pytest.mark.parametrize("level", [3, 4])
@pytest.mark.parametrize("smooth_time", [True, False])
@pytest.mark.parametrize("order, names", [(0, ["u"]), (1, ["u_x", "u_t"]), (2, ["u_xx", "lap_u", "u_tt"])])
def test_sparse_grid_exact_for_polynomials(level, smooth_time, order, names):
    """Value exact to degree 2k-1, first derivatives to 2k-2, second to 2k-3 (k = level)."""
    degree = 2 * level - 1 - order
    # With t differenced, u_t is exact for t-degree <= 2 and u_tt for t-degree <= 3.
    t_degree = degree if smooth_time else 2
    field, exponents, coefficients = random_polynomial(degree, t_degree, seed=level + order)
    s, step = 0.3, 0.1
    engine = SparseGridSteinEngine(sigma=s, level=level, smooth_time=smooth_time, step=step)
    x, t = points()
    out = run(engine, field, x, t, frozenset(names))
    reference = smoothed_reference(exponents, coefficients, s, smooth_time)
    assert set(out) == set(names)
    for name in names:
        np.testing.assert_allclose(out[name], reference(name, x, t), rtol=1e-9, atol=1e-9, err_msg=name)


def test_sparse_grid_second_derivatives_not_exact_beyond_degree():
    """The degree bound above is tight, so the exactness test has power."""
    field, exponents, coefficients = random_polynomial(4, 4, seed=1)
    x, t = points()
    out = run(SparseGridSteinEngine(sigma=0.3, level=3), field, x, t, frozenset({"lap_u"}))
    reference = smoothed_reference(exponents, coefficients, 0.3, True)("lap_u", x, t)
    assert np.max(np.abs(out["lap_u"] - reference)) > 1e-4


def test_sparse_grid_solution_is_the_weighted_sum():
    field, *_ = random_polynomial(3, 3, seed=2)
    nodes, weights = sparse_grid(D_SPACE + 1, 3)
    x, t = points()
    z = np.concatenate([x, t[:, None]], axis=1)[:, None, :] + 0.2 * nodes
    expected = np.asarray(field(jnp.asarray(z[..., :D_SPACE].reshape(-1, D_SPACE)), jnp.asarray(z[..., -1].ravel())))
    expected = expected.reshape(len(x), -1) @ weights
    got = SparseGridSteinEngine(sigma=0.2, level=3).solution(field)(x, t)
    np.testing.assert_allclose(got, expected, rtol=1e-12)


# ----- a smooth non-polynomial field with closed-form smoothing -----

A = jnp.array([0.9, -0.6, 0.4])
B = 0.7


def wave(x, t):
    return jnp.sin(x @ A + B * t)


def smoothed_wave(x, t, s, smooth_time):
    """Operators of E sin(a.x + b t + s (a, b).delta) = exp(-s^2 |(a, b)|^2 / 2) sin(a.x + b t)."""
    norm2 = jnp.sum(A**2) + (B**2 if smooth_time else 0.0)
    damp = jnp.exp(-(s**2) * norm2 / 2)
    phase = x @ A + B * t
    sin, cos = damp * jnp.sin(phase), damp * jnp.cos(phase)
    return {
        "u": sin,
        "u_t": B * cos,
        "u_tt": -(B**2) * sin,
        "u_x": cos[:, None] * A[None, :],
        "u_xx": -sin[:, None] * A[None, :] ** 2,
        "lap_u": -jnp.sum(A**2) * sin,
    }


@pytest.mark.parametrize("smooth_time", [True, False])
def test_monte_carlo_unbiased(smooth_time):
    """The mean over independent keys is within CLT bounds of the smoothed closed form."""
    s, repeats = 0.5, 400
    engine = MonteCarloSteinEngine(sigma=s, samples=64, smooth_time=smooth_time, step=1e-3)
    x, t = points(n=4)
    keys = jax.random.split(jax.random.key(0), repeats)
    estimates = jax.jit(jax.vmap(lambda k: engine(wave, x, t, ALL, key=k)))(keys)
    truth = smoothed_wave(x, t, s, smooth_time)
    for name in ALL:
        mean = np.mean(estimates[name], axis=0)
        half_width = 4.5 * np.std(estimates[name], axis=0) / np.sqrt(repeats) + 1e-6
        assert np.all(np.abs(mean - truth[name]) < half_width), name
    assert not np.allclose(estimates["u_x"][0], estimates["u_x"][1])  # fresh samples per key


def errors_to_autodiff(engine, needs=ALL):
    x, t = points()
    reference = run(AutodiffEngine(), wave, x, t, needs)
    out = run(engine, wave, x, t, needs, key=jax.random.key(3))
    return {name: float(jnp.max(jnp.abs(out[name] - reference[name]))) for name in needs}


def test_finite_differences_second_order():
    coarse = errors_to_autodiff(FiniteDifferenceEngine(step=0.04))
    fine = errors_to_autodiff(FiniteDifferenceEngine(step=0.02))
    assert fine["u"] == 0.0
    for name in ALL - {"u"}:
        assert 3.6 < coarse[name] / fine[name] < 4.4, name
        assert fine[name] < 1e-3


@pytest.mark.parametrize("level, smooth_time", [(3, True), (3, False), (4, True)])
def test_sparse_grid_converges_to_autodiff(level, smooth_time):
    """The smoothing bias is O(s^2): the error to the raw field's derivatives drops ~4x per halving."""

    def make(s):
        return SparseGridSteinEngine(sigma=s, level=level, smooth_time=smooth_time, step=s / 4)

    coarse, fine = errors_to_autodiff(make(0.1)), errors_to_autodiff(make(0.05))
    for name in ALL:
        assert 3.5 < coarse[name] / fine[name] < 4.5, name
        assert fine[name] < 5e-3, name


@pytest.mark.parametrize("level", [3, 4])
def test_sparse_grid_quadrature_error_order(level):
    """Against the closed-form smoothed field, the quadrature error is O(s^(2k)) for the value,
    O(s^(2k-2)) for first and O(s^(2k-4)) for second derivatives. At level 3 the latter is O(s^2),
    the same order as the smoothing bias itself."""
    x, t = points()
    orders = {"u": 2 * level, "u_x": 2 * level - 2, "u_t": 2 * level - 2}
    errors = []
    for s in (0.1, 0.05):
        out = run(SparseGridSteinEngine(sigma=s, level=level), wave, x, t, ALL)
        exact = smoothed_wave(x, t, s, True)
        errors.append({name: float(jnp.max(jnp.abs(out[name] - exact[name]))) for name in ALL})
    for name in ALL:
        expected = 2.0 ** orders.get(name, 2 * level - 4)
        assert expected / 1.3 < errors[0][name] / errors[1][name] < expected * 1.3, name


def test_monte_carlo_near_autodiff():
    """With many samples and small s only the sampling error remains (about 1/sqrt(N))."""
    errors = errors_to_autodiff(MonteCarloSteinEngine(sigma=0.01, samples=20_000))
    for name in ALL:
        assert errors[name] < {"u": 1e-4, "u_t": 0.02, "u_x": 0.03}.get(name, 0.1), name


#: Stein engines smoothing plain fields (``smooth: solution``; the ansatz path: test_stein_ansatz.py).
ENGINES = {
    "fd": lambda chunk: FiniteDifferenceEngine(step=1e-2, chunk_size=chunk),
    "sg-joint": lambda chunk: SparseGridSteinEngine(sigma=0.1, level=3, chunk_size=chunk, smooth="solution"),
    "sg-fd": lambda chunk: SparseGridSteinEngine(
        sigma=0.1, level=3, smooth_time=False, chunk_size=chunk, smooth="solution"
    ),
    "se-joint": lambda chunk: MonteCarloSteinEngine(sigma=0.1, samples=16, chunk_size=chunk, smooth="solution"),
    "se-fd": lambda chunk: MonteCarloSteinEngine(
        sigma=0.1, samples=16, smooth_time=False, chunk_size=chunk, smooth="solution"
    ),
}


@pytest.mark.parametrize("engine", ENGINES)
def test_chunked_equals_unchunked(engine):
    x, t = points(n=7)
    key = jax.random.key(5)
    whole = run(ENGINES[engine](None), wave, x, t, ALL, key=key)
    chunked = run(ENGINES[engine](3), wave, x, t, ALL, key=key)
    for name in ALL:
        # Second differences amplify round-off by 1/h^2 = 1e4, which compiled layouts order differently.
        np.testing.assert_allclose(chunked[name], whole[name], rtol=1e-12, atol=1e-10, err_msg=name)


NEEDS = [
    ALL,
    SPACE,
    frozenset({"u_x"}),
    frozenset({"u", "u_t", "u_x", "lap_u"}),
    frozenset({"u_t"}),
    frozenset({"u_tt"}),
]


@pytest.mark.parametrize("engine", ENGINES)
@pytest.mark.parametrize("needs", NEEDS, ids=lambda n: "+".join(sorted(n)))
def test_returns_needs_and_counts_evaluations(engine, needs):
    rows = []

    def counted(x, t):
        rows.append(x.shape[0])
        return wave(x, t)

    x, t = points(n=5)
    engine = ENGINES[engine](None)
    out = jax.eval_shape(lambda x, t: engine(counted, x, t, needs, key=jax.random.key(0)), x, t)  # traces once
    assert set(out) == set(needs)
    assert sum(rows) == len(x) * engine.evals_per_point(needs, D_SPACE)
    for name, value in out.items():
        assert value.shape == ((5, D_SPACE) if name in ("u_x", "u_xx") else (5,))


def test_evaluation_counts():
    hjb = frozenset({"u", "u_t", "u_x", "lap_u"})
    assert SparseGridSteinEngine(sigma=0.1, level=3).evals_per_point(hjb, 20) == 925
    assert MonteCarloSteinEngine(sigma=0.1, samples=1024).evals_per_point(hjb, 20) == 2049
    assert FiniteDifferenceEngine(step=0.01).evals_per_point(hjb, 20) == 43


def test_build_engine_and_errors():
    def engine(has_time, **operators):
        return build_engine(resolve({"operators": operators}).operators, dim=3, has_time=has_time)

    kinds = {
        "ad": AutodiffEngine,
        "fd": FiniteDifferenceEngine,
        "sg": SparseGridSteinEngine,
        "se": MonteCarloSteinEngine,
    }
    for method, cls in kinds.items():
        assert type(engine(True, method=method)) is cls
    assert engine(True, method="sg").smooth_time
    assert not engine(True, method="sg", time="fd").smooth_time
    assert not engine(False, method="se").smooth_time
    bad = [("sg", "sigma", -1), ("sg", "level", 2), ("se", "samples", 0), ("fd", "step", 0.0), ("sg", "chunk_size", 0)]
    for method, key, value in bad:  # refused when the config is read, before any engine is built
        with pytest.raises(ConfigError, match=f"operators.{key}: must be") as err:
            resolve({"operators": {"method": method, key: value}})
        assert err.value.field == f"operators.{key}"
    with pytest.raises(ValueError, match="needs a PRNG key"):
        MonteCarloSteinEngine(sigma=0.1, samples=4)(wave, *points(), ALL)
