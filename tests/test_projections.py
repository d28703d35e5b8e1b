"""Elementary projections against brute-force minimisation of the distance (scipy.optimize)."""

import jax.numpy as jnp
import numpy as np
import pytest
from scipy import optimize

from pdesolve.solvers import _graph_projections as proj

rng = np.random.default_rng(0)


@pytest.mark.parametrize("k", [1, 3, 8])
def test_dot_is_the_nearest_point_of_the_bilinear_set(k):
    for trial in range(6):
        a, b = rng.normal(size=k) * 1.5, rng.normal(size=k) * 1.5
        z = rng.normal() * 3
        pa, pb, pz = (np.asarray(v) for v in proj.dot(jnp.asarray(a), jnp.asarray(b), jnp.asarray(z)))
        assert abs(pa @ pb - pz) < 1e-10  # on the set
        ours = np.sum((pa - a) ** 2) + np.sum((pb - b) ** 2) + (pz - z) ** 2

        def distance(v):  # z' = a'.b' eliminated
            return np.sum((v[:k] - a) ** 2) + np.sum((v[k:] - b) ** 2) + (v[:k] @ v[k:] - z) ** 2  # noqa: B023 (used in this trial)

        starts = [np.concatenate([a, b])] + [rng.normal(size=2 * k) * 2 for _ in range(20)]
        brute = min(optimize.minimize(distance, s, method="BFGS", options={"gtol": 1e-12}).fun for s in starts)
        assert ours <= brute + 1e-9, (trial, ours, brute)


def test_hyperplane_matches_constrained_minimisation_in_a_weighted_metric():
    for metric in (None, rng.uniform(0.2, 3.0, size=5)):
        x, c, e = rng.normal(size=5), rng.normal(size=5), rng.normal()
        ours = np.asarray(
            proj.hyperplane(
                jnp.asarray(x), jnp.asarray(c), jnp.asarray(e), None if metric is None else jnp.asarray(metric)
            )
        )
        w = np.ones(5) if metric is None else metric
        ref = optimize.minimize(
            lambda v: np.sum(w * (v - x) ** 2),  # noqa: B023 (minimised at once)
            x,
            method="SLSQP",
            constraints={"type": "eq", "fun": lambda v: c @ v - e},  # noqa: B023 (as above)
            options={"ftol": 1e-14, "maxiter": 500},
        ).x
        np.testing.assert_allclose(ours, ref, atol=1e-6)
        assert abs(c @ ours - e) < 1e-12


def test_total_matches_constrained_minimisation():
    x, z = rng.normal(size=4), rng.normal()
    px, pz = (np.asarray(v) for v in proj.total(jnp.asarray(x), jnp.asarray(z)))
    ref = optimize.minimize(
        lambda v: np.sum((v[:4] - x) ** 2) + (v[4] - z) ** 2,
        np.append(x, z),
        method="SLSQP",
        constraints={"type": "eq", "fun": lambda v: np.sum(v[:4]) - v[4]},
        options={"ftol": 1e-14},
    ).x
    np.testing.assert_allclose(np.append(px, pz), ref, atol=1e-6)


def _brute_graph(f, x, y):
    """min over s of (s - x)^2 + (f(s) - y)^2: a fine grid, then a bounded scalar refinement."""
    grid = np.linspace(x - 12, x + 12, 200_001)
    d = (grid - x) ** 2 + (f(grid) - y) ** 2
    s0 = grid[np.argmin(d)]
    res = optimize.minimize_scalar(
        lambda s: (s - x) ** 2 + (f(s) - y) ** 2,
        bounds=(s0 - 1e-3, s0 + 1e-3),
        method="bounded",
        options={"xatol": 1e-12},
    )
    return res.fun


@pytest.mark.parametrize("name, f", [("tanh", np.tanh), ("sin", np.sin), ("relu", lambda s: np.maximum(s, 0))])
def test_activation_projection_is_the_nearest_graph_point(name, f):
    xs, ys = rng.normal(size=40) * 3, rng.normal(size=40) * 2
    px, py = (np.asarray(v) for v in proj.ACTIVATION_PROJECTIONS[name](jnp.asarray(xs), jnp.asarray(ys)))
    np.testing.assert_allclose(py, f(px), atol=1e-12)  # on the graph
    ours = (px - xs) ** 2 + (py - ys) ** 2
    brute = np.array([_brute_graph(f, x, y) for x, y in zip(xs, ys)])
    assert np.all(ours <= brute + 1e-9), np.max(ours - brute)
