"""Finite differences: the default step by precision, random coordinate stencils (unbiased
against the full stencil and autodiff) and the stencil-aware first layer (same numbers)."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from pdesolve.config import resolve
from pdesolve.errors import ConfigError
from pdesolve.models import Solution
from pdesolve.operators import AutodiffEngine, FiniteDifferenceEngine, default_step
from pdesolve.operators._finite_diff import node_values
from pdesolve.run import build_engine, build_network

ALL = frozenset({"u", "u_x", "u_xx", "lap_u", "u_t", "u_tt"})
STEPS = [1e-4, 3e-4, 1e-3, 3e-3, 1e-2, 3e-2, 1e-1]


def smooth(x, t):
    """A field with O(1) derivatives of every order: (n, d), (n,) -> (n,)."""
    return jnp.sum(jnp.sin(2 * x), 1) * jnp.exp(-t) + jnp.exp(-jnp.sum(x**2, 1) / x.shape[1]) * (1 + t**2)


def _points(n, d, seed=0):
    x = jax.random.uniform(jax.random.key(seed), (n, d), jnp.float64, -1, 1)
    return x, jnp.linspace(0.0, 1.0, n)


@pytest.mark.parametrize("d", [5, 100])
@pytest.mark.parametrize("dtype, rel_bound", [(jnp.float64, 1e-6), (jnp.float32, 1e-2)])
def test_default_step_is_near_best_for_precision(d, dtype, rel_bound):
    x, t = _points(64, d)
    ref = AutodiffEngine()(smooth, x, t, frozenset({"lap_u"}))["lap_u"]

    def error(step):
        lap = FiniteDifferenceEngine(step=step)(smooth, x.astype(dtype), t.astype(dtype), frozenset({"lap_u"}))["lap_u"]
        return float(jnp.sqrt(jnp.mean((lap - ref) ** 2)) / jnp.sqrt(jnp.mean(ref**2)))

    default = error(None)
    assert default == error(default_step(dtype))
    assert default < rel_bound
    best = min(error(h) for h in STEPS)
    assert default < (20 if dtype == jnp.float64 else 3) * best  # float64 trades 1e-3 for robustness


def test_full_stencil_matches_autodiff():
    x, t = _points(6, 7)
    ad = AutodiffEngine()(smooth, x, t, ALL)
    fd = FiniteDifferenceEngine()(smooth, x, t, ALL)
    for name in ALL:
        np.testing.assert_allclose(fd[name], ad[name], atol=2e-5, err_msg=name)


def _random_draws(engine, u, x, t, needs, n_keys):
    keys = jax.random.split(jax.random.key(7), n_keys)
    return jax.lax.map(lambda k: engine(u, x, t, needs, k), keys)


def _assert_unbiased(samples, target, name):
    """|mean - target| within 5 standard errors (per entry; a small floor for zero variance)."""
    mean, se = jnp.mean(samples, 0), jnp.std(samples, 0) / np.sqrt(samples.shape[0])
    assert bool(jnp.all(jnp.abs(mean - target) <= 5 * se + 1e-9)), name


def test_random_coordinates_are_unbiased():
    x, t = _points(3, 12)
    needs = frozenset({"u_x", "u_xx", "lap_u", "u"})
    full = FiniteDifferenceEngine()(smooth, x, t, needs)
    draws = _random_draws(FiniteDifferenceEngine(coordinates=3), smooth, x, t, needs, 4000)
    for name in ("u_x", "u_xx", "lap_u"):
        _assert_unbiased(draws[name], full[name], name)
    np.testing.assert_allclose(draws["u"][0], full["u"], rtol=1e-14)
    assert bool(jnp.all(jnp.sum(draws["u_x"] != 0, axis=-1) == 3))  # 3 distinct coordinates per point
    ad = AutodiffEngine()(smooth, x, t, frozenset({"lap_u"}))["lap_u"]
    _assert_unbiased(draws["lap_u"], ad, "lap_u vs autodiff")  # FD error (1e-6) << standard error


def hjb_residual(ops, x, t, f):
    """u_t + lap_u - |grad u|^2 / d (grad_u_sq is compiled as sum u_x[i]^2)."""
    return ops["u_t"] + ops["lap_u"] - jnp.sum(ops["u_x"] ** 2, 1) / x.shape[1]


def test_random_residual_is_unbiased_for_grad_u_sq():
    x, t = _points(3, 12, seed=1)
    needs = frozenset({"u_t", "lap_u", "u_x"})
    target = hjb_residual(AutodiffEngine()(smooth, x, t, needs), x, t, None)
    engine = FiniteDifferenceEngine(coordinates=3)
    keys = jax.random.split(jax.random.key(3), 4000)
    polarised = jax.lax.map(lambda k: engine.residual(hjb_residual, smooth, x, t, None, needs, k), keys)
    _assert_unbiased(polarised, target, "two-set residual")
    one_set = jax.lax.map(lambda k: hjb_residual(engine(smooth, x, t, needs, k), x, t, None), keys)
    assert float(jnp.max(jnp.abs(jnp.mean(one_set, 0) - target))) > 0.1  # one set: biased (d/k |grad u|^2)
    assert engine.evals_per_point(needs, 12) == 2 * (1 + 2 * 3 + 2)  # two sets of centre, 2k, t +- h


def test_random_coordinates_chunk_and_all():
    x, t = _points(7, 10)
    key = jax.random.key(4)
    plain = FiniteDifferenceEngine(coordinates=4)(smooth, x, t, ALL, key)
    chunked = FiniteDifferenceEngine(coordinates=4, chunk_size=3)(smooth, x, t, ALL, key)
    for name in ALL:
        np.testing.assert_allclose(chunked[name], plain[name], rtol=1e-9, atol=1e-9, err_msg=name)
    full = FiniteDifferenceEngine()(smooth, x, t, ALL)
    as_many = FiniteDifferenceEngine(coordinates=10)(smooth, x, t, ALL, key)  # k >= d: the full stencil
    for name in ALL:
        np.testing.assert_array_equal(as_many[name], full[name])
    with pytest.raises(ValueError, match="key"):
        FiniteDifferenceEngine(coordinates=4)(smooth, x, t, ALL)


def _solution(model_type, d, has_time):
    model = resolve({"model": {"type": model_type, "widths": [64, 64]}}).model
    network = build_network(model, d + int(has_time), key=jax.random.key(0), dtype=jnp.float64)
    base = lambda x, t: jnp.sum(x, 1) * (1 - t)  # noqa: E731
    factor = lambda x, t: (1.5 - t) * jnp.cos(jnp.mean(x, 1))  # noqa: E731
    return Solution(network, base, factor, has_time)


@pytest.mark.parametrize(
    "model_type, d", [("mlp", 20), pytest.param("tt_mlp", 50, marks=pytest.mark.slow)]
)  # TT: 51 inputs, padded; 18 s, -m slow
@pytest.mark.parametrize("coordinates", ["all", 5])
def test_stencil_aware_first_layer_gives_the_same_numbers(model_type, d, coordinates):
    u = _solution(model_type, d, has_time=True)
    x, t = _points(4, d)
    coords = jax.random.randint(jax.random.key(1), (4, 9), 0, d + 1)  # index d moves t
    shifts = jax.random.normal(jax.random.key(2), (4, 9)) * 1e-2
    aware, plain = (node_values(u, x, t, coords, shifts, aware=a) for a in (True, False))
    np.testing.assert_allclose(aware, plain, rtol=1e-12, atol=1e-12)
    key = jax.random.key(5)
    ops = [FiniteDifferenceEngine(coordinates=coordinates, aware=a)(u, x, t, ALL, key) for a in (True, False)]
    for name in ALL:  # node values agree to ~1e-15 relative; second differences divide by h^2 = 1e-6
        np.testing.assert_allclose(ops[0][name], ops[1][name], rtol=1e-7, atol=1e-7, err_msg=name)
    if coordinates == "all":
        ad = AutodiffEngine()(u, x, t, ALL)
        np.testing.assert_allclose(ops[0]["lap_u"], ad["lap_u"], rtol=1e-4, atol=1e-4)


@pytest.mark.parametrize("coordinates, chunk_size", [("all", None), ("all", 3), (5, None), (5, 2)])
def test_prepared_ansatz_parts_give_the_same_residual(coordinates, chunk_size):
    """``prepare`` (the base and factor at the nodes, computed once for a batch and key) against
    the residual that evaluates them itself: the same combination of nodes, for every coordinate
    set of the random stencil and with chunks."""
    u = _solution("mlp", 12, has_time=True)
    x, t = _points(7, 12)
    key = jax.random.key(6)
    engine = FiniteDifferenceEngine(coordinates=coordinates, chunk_size=chunk_size)
    residual = lambda ops, x, t, f: ops["u_t"] - ops["lap_u"] + jnp.sum(ops["u_x"] ** 2, 1) - f  # noqa: E731
    f = jnp.cos(t)
    prepared = engine.prepare(u, x, t, ALL, key)
    assert len(prepared) == (1 if coordinates == "all" else 2)  # one per coordinate set the residual combines
    plain = engine.residual(residual, u, x, t, f, ALL, key)
    reused = engine.residual(residual, u, x, t, f, ALL, key, prepared=prepared)
    # node values agree to ~1e-15 relative (fused differently); second differences divide by h^2 = 1e-6
    np.testing.assert_allclose(reused, plain, rtol=1e-8, atol=1e-8 * float(jnp.max(jnp.abs(plain))))
    assert FiniteDifferenceEngine().prepare(smooth, x, t, ALL) is None  # not an ansatz: nothing to reuse


def test_config_builds_fd_engines():
    base = {"method": "fd"}
    operators = resolve({"operators": base}).operators
    assert operators.step is None and operators.coordinates == "all"
    engine = build_engine(operators, dim=3, has_time=False)
    assert engine.step is None and engine.coordinates == "all"
    engine = build_engine(
        resolve({"operators": {**base, "coordinates": 8, "step": 1e-3}}).operators, dim=100, has_time=False
    )
    assert (engine.coordinates, engine.step, engine.name) == (8, 1e-3, "fd8")
    for bad in (0, "some", 2.5):
        with pytest.raises(ConfigError, match=r"operators\.coordinates"):
            resolve({"operators": {**base, "coordinates": bad}})
    assert build_engine(resolve({"operators": {"method": "sg"}}).operators, dim=3, has_time=False).time_step == 1e-2
