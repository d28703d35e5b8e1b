"""Zeroth-order and forward-gradient estimates against the true gradient of a quadratic, the
hybrid switch, multi-device equivalence, and a small BP-free training run."""

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import pdesolve
from pdesolve.config import resolve
from pdesolve.run import build_solver
from pdesolve.solvers import (
    CoordinateGradientEstimator,
    ForwardGradientEstimator,
    HybridSolver,
    RandomGradientEstimator,
)

POISSON = str(Path(__file__).parent / "data" / "poisson2d_ad.yaml")  # the AD-era default config
D = 12
_rng = np.random.default_rng(0)
_M = _rng.standard_normal((D, D))
A = jnp.asarray(_M @ _M.T / D + np.eye(D))
B = jnp.asarray(_rng.standard_normal(D))
THETA = jnp.asarray(_rng.standard_normal(D))


def quadratic(theta):
    return 0.5 * theta @ A @ theta + B @ theta


TRUE_GRAD = np.asarray(A @ THETA + B)


@pytest.mark.parametrize("directions", ["gaussian", "rademacher"])
@pytest.mark.parametrize("antithetic", [True, False])
def test_rge_is_unbiased_within_clt_bounds(directions, antithetic):
    # For a quadratic the antithetic difference is exactly u.grad; the one-sided one adds
    # mu/2 u^T A u, which averages to a bias of order mu. Both are unbiased to O(mu) = 1e-6 here.
    estimator = RandomGradientEstimator(samples=8, mu=1e-6, directions=directions, antithetic=antithetic)
    keys = jax.random.split(jax.random.PRNGKey(1), 4000)
    estimates = np.asarray(jax.vmap(lambda k: estimator(quadratic, THETA, k)[0])(keys))
    mean, stderr = estimates.mean(0), estimates.std(0) / np.sqrt(len(keys))
    assert np.all(np.abs(mean - TRUE_GRAD) < 5 * stderr + 1e-4)
    # And the estimate is not trivially right: single estimates scatter.
    assert np.mean(np.abs(estimates[0] - TRUE_GRAD)) > 1e-2


def test_rge_counts_loss_evaluations():
    _, value, evals = RandomGradientEstimator(samples=5, antithetic=True)(quadratic, THETA, jax.random.PRNGKey(0))
    assert evals == 11 and np.isclose(value, quadratic(THETA))
    assert RandomGradientEstimator(samples=5, antithetic=False)(quadratic, THETA, jax.random.PRNGKey(0))[2] == 6


def test_cge_one_sided_is_exact_up_to_order_mu():
    mu = 0.1
    g, _, evals = CoordinateGradientEstimator(mu=mu)(quadratic, THETA, jax.random.PRNGKey(0))
    # (L(th + mu e_j) - L(th)) / mu = grad_j + mu/2 A_jj exactly for a quadratic.
    np.testing.assert_allclose(g, TRUE_GRAD + mu / 2 * np.diag(np.asarray(A)), rtol=1e-10, atol=1e-10)
    assert evals == D + 1


def test_cge_central_is_exact_and_block_touches_only_its_coordinates():
    g, _, _ = CoordinateGradientEstimator(mu=0.3, central=True)(quadratic, THETA, jax.random.PRNGKey(0))
    np.testing.assert_allclose(g, TRUE_GRAD, rtol=1e-10, atol=1e-10)
    block = CoordinateGradientEstimator(mu=0.3, central=True, block_size=4)
    g, _, evals = block(quadratic, THETA, jax.random.PRNGKey(3))
    nonzero = np.flatnonzero(np.asarray(g))
    assert len(nonzero) == 4 and evals == 9
    np.testing.assert_allclose(np.asarray(g)[nonzero], TRUE_GRAD[nonzero], rtol=1e-10)


@pytest.mark.parametrize("combine", ["plain", "projection"])
def test_forward_gradient_matches_projection_of_true_gradient(combine):
    key = jax.random.PRNGKey(7)
    k = 3
    g, value, evals = ForwardGradientEstimator(tangents=k, combine=combine)(quadratic, THETA, key)
    v = np.asarray(jax.random.normal(key, (k, D)))  # the estimator's tangents (same key)
    if combine == "projection":
        q, _ = np.linalg.qr(v.T)  # orthonormal basis of span(V), by numpy
        expected = q @ (q.T @ TRUE_GRAD)
    else:
        expected = v.T @ (v @ TRUE_GRAD) / k
    np.testing.assert_allclose(g, expected, rtol=1e-9, atol=1e-9)
    assert evals == k and np.isclose(value, quadratic(THETA))


def test_forward_gradient_with_all_tangents_is_the_gradient():
    g, _, _ = ForwardGradientEstimator(tangents=D, combine="projection")(quadratic, THETA, jax.random.PRNGKey(2))
    np.testing.assert_allclose(g, TRUE_GRAD, rtol=1e-8)


def _hybrid(patience):
    section = {
        "name": "hybrid",
        "patience": patience,
        "coarse_learning_rate": 1e-2,
        "coarse_mu": 0.1,
        "coarse_samples": 4,
        "coarse_directions": "gaussian",
        "fine_learning_rate": 1e-2,
        "fine_mu": 0.1,
        "fine_block_size": None,
        "momentum": 0.9,
        "chunk_size": None,
    }
    solver = build_solver(resolve({"solver": section}).solver, steps=10)
    assert isinstance(solver, HybridSolver)
    return solver


def test_hybrid_switches_after_patience_stalled_checks():
    solver = _hybrid(patience=3)
    loss = lambda params, batch, key: quadratic(params)  # noqa: E731
    state = solver.init(loss, THETA)
    for metric, expected_stage in [(1.0, 0), (0.5, 0), (0.6, 0), (0.5, 0), (0.7, 1), (0.1, 1)]:
        state = solver.observe(state, metric)
        assert int(state.stage) == expected_stage
    _, _, stats = solver.step(loss, THETA, state, None, jax.random.PRNGKey(0))
    assert int(stats["stage"]) == 1 and int(stats["loss_evals"]) == D + 1  # CGE over all coordinates


def test_hybrid_coarse_stage_uses_signrge():
    solver = _hybrid(patience=3)
    loss = lambda params, batch, key: quadratic(params)  # noqa: E731
    state = solver.init(loss, THETA)
    params, _, stats = solver.step(loss, THETA, state, None, jax.random.PRNGKey(0))
    assert int(stats["stage"]) == 0 and int(stats["loss_evals"]) == 9
    np.testing.assert_allclose(np.abs(np.asarray(params - THETA)), 1e-2)  # sign update: every step is lr


def test_small_problem_trains_bp_free():
    """poisson2d with ZO-signRGE (no back-propagation, AD operators replaced by FD): measured
    rel L2 0.05 at 600 steps (float64, seed 0); the bound leaves a 2x margin."""
    run = pdesolve.solve(
        POISSON,
        {
            "train": {"steps": 600, "progress": False, "log_every": 100},
            "solver": {"name": "sign_rge", "learning_rate": 1e-3},
            "operators": {"method": "fd", "step": 1e-2},
        },
    )
    assert run.report["backprop"] is False
    assert run.history.rel_l2.values[0] > 0.3  # it did start far away
    assert run.report["rel_l2"] < 0.10


MULTI_DEVICE = textwrap.dedent("""
    import os, sys
    os.environ["XLA_FLAGS"] = "--xla_force_host_platform_device_count=4"
    import jax, numpy as np, pdesolve
    assert len(jax.devices()) == 4
    out = {}
    for devices in (1, 4):
        run = pdesolve.solve(sys.argv[2], {"train": {"steps": 30, "progress": False,
                             "devices": devices}, "solver": {"name": sys.argv[1]}})
        out[devices] = run.solution.u_pred.values
    print(float(np.max(np.abs(out[1] - out[4]))), float(np.max(np.abs(out[1]))))
""")


@pytest.mark.parametrize("solver", ["adam", pytest.param("rge", marks=pytest.mark.slow)])  # rge: -m slow
def test_four_host_devices_match_one(solver):
    env = {**os.environ, "JAX_PLATFORMS": "cpu"}
    result = subprocess.run(
        [sys.executable, "-c", MULTI_DEVICE, solver, POISSON], capture_output=True, text=True, env=env, timeout=300
    )
    assert result.returncode == 0, result.stderr[-2000:]
    difference, scale = map(float, result.stdout.split()[-2:])
    assert difference <= 1e-5 * scale  # float32 reductions in a different order
