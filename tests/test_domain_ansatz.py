"""Samplers put points in the domain and on its boundary with the right law; the ansatz meets the
conditions exactly for an untrained network."""

from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from scipy import stats

from pdesolve.config import MlpConfig
from pdesolve.models import build_solution
from pdesolve.problem import Annulus, Ball, Box, compile_problem, load_problem, problem_from_mapping
from pdesolve.run import build_network
from pdesolve.sampling import PointSampler

ROOT = Path(__file__).resolve().parent.parent
SAMPLERS = ("uniform", "sobol", "halton")
N = 512  # a power of two, so Sobol is balanced

BOX = Box(3, np.array([0.0, -1.0, 2.0]), np.array([1.0, 1.0, 6.0]))
BALL = Ball(5, np.array([0.5, 0.0, -1.0, 0.0, 2.0]), 2.0)
ANNULUS = Annulus(4, np.array([1.0, 0.0, 0.0, -1.0]), 0.5, 1.5)
DOMAINS = {"box": BOX, "ball": BALL, "annulus": ANNULUS}


def radii(domain, x):
    return np.linalg.norm(x - domain.center, axis=1)


@pytest.mark.parametrize("kind", SAMPLERS)
@pytest.mark.parametrize("name", DOMAINS)
def test_interior_points_lie_inside(name, kind):
    domain = DOMAINS[name]
    x, t = PointSampler(domain, (0.5, 2.0), kind, seed=1).interior(N)
    assert x.shape == (N, domain.dim) and t.shape == (N,)
    assert np.all((t >= 0.5) & (t <= 2.0))
    if name == "box":
        assert np.all((x >= BOX.low) & (x <= BOX.high))
        # spread over the whole box, not a corner of it
        assert np.all(x.min(axis=0) < BOX.low + 0.1 * (BOX.high - BOX.low))
        assert np.all(x.max(axis=0) > BOX.high - 0.1 * (BOX.high - BOX.low))
    else:
        r = radii(domain, x)
        assert np.all((r >= domain.inner - 1e-12) & (r <= domain.outer + 1e-12))
        assert r.max() > 0.95 * domain.outer


@pytest.mark.parametrize("kind", SAMPLERS)
@pytest.mark.parametrize("name", DOMAINS)
def test_boundary_points_lie_on_the_boundary(name, kind):
    domain = DOMAINS[name]
    x, t = PointSampler(domain, None, kind, seed=2).boundary(N)
    np.testing.assert_array_equal(t, 0.0)
    if name == "box":
        assert np.all((x >= BOX.low) & (x <= BOX.high))
        on_face = (x == BOX.low) | (x == BOX.high)
        assert np.all(on_face.any(axis=1))
        assert on_face.any(axis=0).all()  # every axis has points on its faces
    else:
        r = radii(domain, x)
        on_inner = np.isclose(r, domain.inner, rtol=0, atol=1e-12)
        on_outer = np.isclose(r, domain.outer, rtol=0, atol=1e-12)
        assert np.all(on_inner | on_outer)
        if name == "annulus":
            assert on_inner.any() and on_outer.any()


def test_at_time_fixes_time():
    x, t = PointSampler(BALL, (0.0, 1.0), "sobol", seed=3).at_time(64, 1.0)
    np.testing.assert_array_equal(t, 1.0)
    assert np.all(radii(BALL, x) <= BALL.outer + 1e-12)


def test_unknown_sampler_is_refused():
    with pytest.raises(ValueError, match="unknown sampler"):
        PointSampler(BOX, None, "latin")


def test_same_seed_same_points_other_seed_other_points():
    a = PointSampler(BALL, None, "uniform", seed=4).interior(32)[0]
    b = PointSampler(BALL, None, "uniform", seed=4).interior(32)[0]
    c = PointSampler(BALL, None, "uniform", seed=5).interior(32)[0]
    np.testing.assert_array_equal(a, b)
    assert not np.allclose(a, c)


@pytest.mark.parametrize("d", [2, 10])
def test_ball_radii_follow_the_r_to_the_d_law(d):
    ball = Ball(d, np.zeros(d), 1.5)
    x, _ = PointSampler(ball, None, "uniform", seed=6).interior(4000)
    s = np.linalg.norm(x, axis=1) / 1.5
    # P(|x|/R <= s) = s^d for a uniform ball; a fixed seed, so the p-value is deterministic
    assert stats.kstest(s, lambda v: np.clip(v, 0, 1) ** d).pvalue > 1e-3
    # the test has power: the wrong exponent is rejected
    assert stats.kstest(s, lambda v: np.clip(v, 0, 1) ** (d - 1)).pvalue < 1e-6
    # directions are uniform too: each coordinate of x/|x| has mean 0 and variance 1/d
    u = x / np.linalg.norm(x, axis=1, keepdims=True)
    assert np.all(np.abs(u.mean(axis=0)) < 5 * np.sqrt(1 / d / 4000))
    np.testing.assert_allclose((u**2).mean(axis=0), 1 / d, rtol=0.15)


def test_annulus_radii_follow_their_law_and_boundary_split_by_area():
    x, _ = PointSampler(ANNULUS, None, "halton", seed=7).interior(4096)
    a, b, d = ANNULUS.inner, ANNULUS.outer, ANNULUS.dim
    cdf = lambda r: (np.clip(r, a, b) ** d - a**d) / (b**d - a**d)  # noqa: E731
    assert stats.kstest(radii(ANNULUS, x), cdf).pvalue > 1e-3
    xb, _ = PointSampler(ANNULUS, None, "uniform", seed=8).boundary(20000)
    inner_share = np.mean(np.isclose(radii(ANNULUS, xb), a))
    expected = a ** (d - 1) / (a ** (d - 1) + b ** (d - 1))  # sphere areas ~ r^(d-1)
    assert abs(inner_share - expected) < 4 * np.sqrt(expected * (1 - expected) / 20000)


def test_box_boundary_faces_in_proportion_to_area():
    x, _ = PointSampler(BOX, None, "uniform", seed=9).boundary(30000)
    widths = BOX.high - BOX.low
    areas = np.array([np.prod(np.delete(widths, i)) for i in range(3)])
    share = np.array([np.mean((x[:, i] == BOX.low[i]) | (x[:, i] == BOX.high[i])) for i in range(3)])
    expected = areas / areas.sum()
    assert np.all(np.abs(share - expected) < 4 * np.sqrt(expected * (1 - expected) / 30000))


# ----- the ansatz -----


def network(in_size, seed):
    cfg = MlpConfig(widths=[16, 16])
    return build_network(cfg, in_size, key=jax.random.PRNGKey(seed), dtype=jnp.float64)


def solutions(path, **overrides):
    compiled = compile_problem(load_problem(path, overrides=overrides or None))
    p = compiled.problem
    nets = [network(p.dimension + int(p.has_time), seed) for seed in (0, 1)]
    return compiled, [build_solution(compiled, net, "auto") for net in nets]


def _interior_differs(u1, u2, x, t):
    a, b = np.asarray(u1(x, t)), np.asarray(u2(x, t))
    assert np.max(np.abs(a - b)) > 1e-3  # the network shapes the interior


def test_hjb20_terminal_condition_is_exact():
    compiled, built = solutions(ROOT / "problems/hjb20.yaml")
    sampler = PointSampler(compiled.problem.domain, compiled.problem.time, "uniform", seed=0)
    x, _ = sampler.interior(64)
    x = jnp.asarray(x)
    for u, soft in built:
        assert soft == ()
        np.testing.assert_allclose(np.asarray(u(x, jnp.ones(64))), np.asarray(x).sum(axis=1), rtol=1e-13, atol=1e-13)
    _interior_differs(built[0][0], built[1][0], x, jnp.full(64, 0.3))


def test_heat_ball100_initial_and_boundary_conditions_are_exact():
    compiled, built = solutions(ROOT / "problems/heat_ball100.yaml")
    p = compiled.problem
    d = p.dimension
    sampler = PointSampler(p.domain, p.time, "sobol", seed=0)
    xi, _ = sampler.interior(64)
    xb, tb = sampler.boundary(64)
    for u, soft in built:
        assert soft == ()
        u0 = np.asarray(u(jnp.asarray(xi), jnp.zeros(64)))
        np.testing.assert_allclose(u0, np.sum(xi**2, axis=1) / (2 * d), rtol=1e-12, atol=1e-13)
        ub = np.asarray(u(jnp.asarray(xb), jnp.asarray(tb)))
        np.testing.assert_allclose(ub, 1 / (2 * d) + tb, rtol=1e-12, atol=1e-12)
    _interior_differs(built[0][0], built[1][0], jnp.asarray(xi), jnp.full(64, 0.5))


def test_poisson2d_boundary_condition_is_exact():
    compiled, built = solutions(ROOT / "problems/poisson2d.yaml")
    sampler = PointSampler(compiled.problem.domain, None, "halton", seed=0)
    xb, tb = sampler.boundary(64)
    for u, _ in built:
        np.testing.assert_allclose(np.asarray(u(jnp.asarray(xb), jnp.asarray(tb))), 0.0, atol=1e-14)
    xi, ti = sampler.interior(64)
    _interior_differs(built[0][0], built[1][0], jnp.asarray(xi), jnp.asarray(ti))


def test_annulus_boundary_condition_is_exact_on_both_spheres():
    mapping = {
        "dimension": 3,
        "domain": {"type": "annulus", "inner": 0.5, "outer": 2, "center": [1, 0, 0]},
        "equation": "lap_u = 0",
        "conditions": {"boundary": "x[1] + x[2]**2"},
    }
    compiled = compile_problem(problem_from_mapping(mapping))
    u, _soft = build_solution(compiled, network(3, 0), "auto")
    xb, tb = PointSampler(compiled.problem.domain, None, "uniform", seed=1).boundary(200)
    np.testing.assert_allclose(
        np.asarray(u(jnp.asarray(xb), jnp.asarray(tb))), xb[:, 0] + xb[:, 1] ** 2, rtol=1e-12, atol=1e-12
    )


def test_soft_mode_leaves_conditions_to_losses():
    compiled = compile_problem(load_problem(ROOT / "problems/heat_ball100.yaml"))
    net = network(101, 0)
    u, soft = build_solution(compiled, net, "soft")
    assert set(soft) == {"initial", "boundary"}
    x, t = PointSampler(compiled.problem.domain, compiled.problem.time, "uniform", seed=0).interior(16)
    z = jnp.concatenate([jnp.asarray(x), jnp.asarray(t)[:, None]], axis=1)
    np.testing.assert_allclose(np.asarray(u(jnp.asarray(x), jnp.asarray(t))), np.asarray(net(z)), rtol=1e-14)
    with pytest.raises(ValueError, match="unknown mode"):
        build_solution(compiled, net, "hard")
