"""Stein engines with ``smooth: network``: the operators of g + phi * N_s against autodiff of a
closed-form smoothed network, the exact conditions kept, and ``smooth: solution`` unchanged."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from pdesolve.config import resolve, upgrade_saved
from pdesolve.errors import ConfigError
from pdesolve.models import Solution
from pdesolve.operators import OPERATORS, AutodiffEngine, MonteCarloSteinEngine, SparseGridSteinEngine
from pdesolve.operators._product import expanded_needs
from pdesolve.run import build_engine

ALL = frozenset(OPERATORS)
S, STEP = 0.3, 0.1


def network(z):
    """A cubic in z = (x1, x2, t): the level-3 sparse grid smooths it (and its derivatives) exactly."""
    x1, x2, t = z[:, 0], z[:, 1], z[:, 2]
    return x1**3 + 2 * x1 * x2 - x2**2 + 0.5 * t**2 * x1 + 0.3 * t


def smoothed_network(x, t, smooth_time):
    """E N(z + S delta) in closed form (E d^2 = 1, E d^3 = 0), over (x, t) or x only."""
    x1, x2 = x[:, 0], x[:, 1]
    t2 = t**2 + (S**2 if smooth_time else 0.0)
    return x1**3 + 3 * S**2 * x1 + 2 * x1 * x2 - (x2**2 + S**2) + 0.5 * t2 * x1 + 0.3 * t


def base(x, t):  # not a polynomial: the ansatz's g and phi are never smoothed, so need not be
    return jnp.sin(x[:, 0]) * jnp.cos(t) + x[:, 1]


def factor(x, t):  # 0 on x1 = 0 and x1 = 1
    return x[:, 0] * (1 - x[:, 0]) * (1 + t**2) * jnp.exp(x[:, 1])


ANSATZ = Solution(network, base, factor, True)


def points(n=5):
    kx, kt = jax.random.split(jax.random.key(3))
    return jax.random.uniform(kx, (n, 2), jnp.float64), jax.random.uniform(kt, (n,), jnp.float64)


def run(engine, u, x, t, needs, key=None):
    return jax.jit(lambda x, t: engine(u, x, t, needs, key))(x, t)


@pytest.mark.parametrize("smooth_time", [True, False], ids=["joint", "time-fd"])
def test_operators_are_those_of_base_plus_factor_times_smoothed_network(smooth_time):
    """Against autodiff of g + phi * N_s with N_s in closed form (independent of the product rule)."""
    engine = SparseGridSteinEngine(sigma=S, level=3, smooth_time=smooth_time, step=STEP)
    x, t = points()
    got = run(engine, ANSATZ, x, t, ALL)
    reference = AutodiffEngine()(
        lambda x, t: base(x, t) + factor(x, t) * smoothed_network(x, t, smooth_time), x, t, ALL
    )
    assert set(got) == ALL
    for name in ALL:  # u_t, u_tt of N_s by central differences: exact for t-degree 2
        np.testing.assert_allclose(got[name], reference[name], rtol=1e-9, atol=1e-9, err_msg=name)


@pytest.mark.parametrize(
    "needs",
    [frozenset({"u"}), frozenset({"lap_u"}), frozenset({"u_x", "u_t"}), frozenset({"u_tt"})],
    ids=lambda n: "+".join(sorted(n)),
)
def test_returns_only_the_needs(needs):
    out = run(SparseGridSteinEngine(sigma=S, level=3), ANSATZ, *points(), needs)
    assert set(out) == needs


def test_solution_keeps_the_exact_conditions():
    """On x1 = 0 (phi = 0) the reported field is g exactly; smoothing the solution misses it by O(s^2)."""
    x, t = points()
    x = x.at[:, 0].set(0.0)
    network_smoothed = SparseGridSteinEngine(sigma=S, level=3).solution(ANSATZ)(x, t)
    np.testing.assert_allclose(network_smoothed, base(x, t), rtol=1e-14, atol=1e-14)
    whole = SparseGridSteinEngine(sigma=S, level=3, smooth="solution").solution(ANSATZ)(x, t)
    assert np.max(np.abs(whole - base(x, t))) > 1e-3


def test_smooth_solution_treats_the_ansatz_as_a_field():
    engine = SparseGridSteinEngine(sigma=S, level=3, smooth="solution")
    x, t = points()
    got = run(engine, ANSATZ, x, t, ALL)
    plain = run(engine, lambda x, t: ANSATZ(x, t), x, t, ALL)
    for name in ALL:
        np.testing.assert_allclose(got[name], plain[name], rtol=1e-12, atol=1e-12, err_msg=name)


def test_monte_carlo_network_smoothing_matches_the_sparse_grid_in_expectation():
    """Many antithetic samples: the MC estimate of g + phi * N_s's operators approaches the exact ones."""
    engine = MonteCarloSteinEngine(sigma=S, samples=200_000)
    x, t = points(3)
    got = run(engine, ANSATZ, x, t, frozenset({"u", "u_x", "lap_u"}), key=jax.random.key(0))
    exact = run(SparseGridSteinEngine(sigma=S, level=3), ANSATZ, x, t, frozenset({"u", "u_x", "lap_u"}))
    for name in got:
        np.testing.assert_allclose(got[name], exact[name], rtol=0, atol=0.05, err_msg=name)


@pytest.mark.parametrize(
    "needs", [frozenset({"u"}), frozenset({"u_x"}), frozenset({"lap_u", "u_t"}), ALL], ids=lambda n: "+".join(sorted(n))
)
def test_evaluation_count_is_that_of_the_network_calls(needs):
    rows = []

    def counted(z):
        rows.append(z.shape[0])
        return network(z)

    engine = SparseGridSteinEngine(sigma=S, level=3)
    x, t = points()
    jax.eval_shape(lambda x, t: engine(Solution(counted, base, factor, True), x, t, needs), x, t)
    assert sum(rows) == len(x) * engine.evals_per_point(needs, 2)
    assert expanded_needs(needs) >= needs


def test_config_smooth():
    stein = {"method": "sg", "sigma": 0.1, "level": 3, "time": "joint", "chunk_size": None}
    configured = resolve({"operators": {**stein, "smooth": "network"}}).operators
    assert build_engine(configured, dim=2, has_time=False).smooth == "network"
    saved = resolve(upgrade_saved({"operators": stein})).operators  # a run saved before the option
    assert build_engine(saved, dim=2, has_time=False).smooth == "solution"
    with pytest.raises(ConfigError, match=r"operators\.smooth"):
        resolve({"operators": {**stein, "smooth": "both"}})
