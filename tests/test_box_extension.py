"""The box ansatz's extension of Dirichlet data (the transfinite Boolean sum of the face
interpolations), checked against closed forms: it equals the data on every face, reproduces
functions that the Boolean sum keeps, reads the data on the boundary only, is smooth at edges; and
above ``COONS_MAX_DIM`` dimensions ``ansatz: auto`` leaves x-dependent box data to a loss."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from pdesolve.config import MlpConfig
from pdesolve.models import build_solution
from pdesolve.models._ansatz import _box_data_is_exact
from pdesolve.problem import Ball, Box, compile_problem, problem_from_mapping
from pdesolve.problem._boundary import COONS_MAX_DIM
from pdesolve.run import build_network


def box(d: int) -> Box:
    """A box with unequal, off-origin sides."""
    return Box(d, -0.5 + 0.25 * np.arange(d), 0.5 + 0.5 * np.arange(d))


def interior(domain: Box, n: int, seed: int) -> np.ndarray:
    u = np.random.default_rng(seed).uniform(0.02, 0.98, (n, domain.dim))
    return domain.low + u * (domain.high - domain.low)


def on_faces(domain: Box, n: int, seed: int) -> np.ndarray:
    """n points on the faces: each has one coordinate set to low or high, and every fifth point a
    second one too (a point on an edge, or again on a face)."""
    rng = np.random.default_rng(seed)
    x = interior(domain, n, seed + 1)
    for rows in (np.arange(n), np.arange(0, n, 5)):
        axes = rng.integers(0, domain.dim, len(rows))
        x[rows, axes] = np.where(rng.random(len(rows)) < 0.5, domain.low[axes], domain.high[axes])
    return x


def data(x, t):
    """exp(x1) cos(x2 + x3) + x_d^2 (1 + t), with absent coordinates left out."""
    d = x.shape[1]
    angle = sum(x[:, i] for i in range(1, min(d, 3)))
    return jnp.exp(x[:, 0]) * jnp.cos(angle) + x[:, d - 1] ** 2 * (1 + t)


@pytest.mark.parametrize("d", [2, 3, 5])
def test_extension_equals_the_data_on_every_face(d):
    domain = box(d)
    x = on_faces(domain, 400, seed=d)
    t = np.random.default_rng(10 + d).uniform(0, 1, 400)
    x, t = jnp.asarray(x), jnp.asarray(t)
    np.testing.assert_allclose(domain.extension(data)(x, t), data(x, t), rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("d", [3, 4, 5])
def test_extension_reproduces_sums_of_one_coordinate_functions_and_multilinear_functions(d):
    """Each term is independent of, or affine in, some coordinate, so 1 - P_i removes it and the
    Boolean sum gives it back everywhere, not just on the faces."""
    domain = box(d)

    def u(x, t):
        return jnp.sum(jnp.sin(np.pi * x), axis=1) + x[:, 0] * x[:, 1] * x[:, 2] * (2 - t) + jnp.exp(x[:, d - 1] * t)

    x, t = jnp.asarray(interior(domain, 300, seed=d)), jnp.linspace(0.0, 1.0, 300)
    np.testing.assert_allclose(domain.extension(u)(x, t), u(x, t), rtol=1e-12, atol=1e-12)


def test_extension_of_other_data_is_not_the_data_inside():
    """A product of non-affine factors of every coordinate is not kept: E differs from b inside."""
    domain = box(3)

    def b(x, t):
        return jnp.prod(jnp.sin(1 + 2 * x), axis=1)

    x, t = jnp.asarray(interior(domain, 100, seed=4)), jnp.zeros(100)
    assert np.max(np.abs(domain.extension(b)(x, t) - b(x, t))) > 1e-2


def test_extension_reads_the_data_on_the_boundary_only():
    domain = box(4)
    low, high = domain.low[None, :], domain.high[None, :]

    def nan_off(x, t):  # the data, NaN at every point off the boundary
        on = jnp.any((jnp.abs(x - low) < 1e-12) | (jnp.abs(x - high) < 1e-12), axis=1)
        return jnp.where(on, data(x, t), jnp.nan)

    x, t = jnp.asarray(interior(domain, 200, seed=5)), jnp.full(200, 0.5)
    assert np.all(np.isfinite(domain.extension(nan_off)(x, t)))


def _hessian(extension, point):
    def single(p):
        return extension(p[None, :], jnp.zeros(1))[0]

    return np.asarray(jax.hessian(single)(jnp.asarray(point)))


@pytest.mark.parametrize(
    "b",
    [
        lambda x, t: x[:, 0] ** 2 * x[:, 1] + jnp.cos(x[:, 0]),
        lambda x, t: jnp.sin(1 + 2 * x[:, 0]) * jnp.cos(3 * x[:, 1]) * jnp.exp(x[:, 2]),
    ],
    ids=["kept", "not_kept"],
)
def test_extension_is_smooth_at_an_edge(b):
    """Second derivatives at points approaching the edge x1 = x2 = 0 of [0, 1]^3 along two
    directions tend to the same value, the Hessian on the edge itself."""
    domain = Box(3, np.zeros(3), np.ones(3))
    extension = domain.extension(b)
    on_edge = _hessian(extension, np.array([0.0, 0.0, 0.4]))
    assert np.all(np.isfinite(on_edge))
    for eps in (1e-3, 1e-5):
        for angle in (0.2, 1.3):
            near = _hessian(extension, np.array([eps * np.cos(angle), eps * np.sin(angle), 0.4]))
            np.testing.assert_allclose(near, on_edge, rtol=0, atol=50 * eps)


# ----- which Dirichlet data auto mode builds in -----


def _box_problem(d: int, conditions: dict, **changes):
    """Laplace's equation on [0, 1]^d with ``conditions``; ``changes`` replace other fields."""
    return compile_problem(
        problem_from_mapping(
            {
                "dimension": d,
                "domain": {"type": "box", "low": 0, "high": 1},
                "equation": "lap_u = 0",
                "conditions": conditions,
            }
            | changes
        )
    )


def _network(in_size: int):
    return build_network(MlpConfig(widths=[8]), in_size, key=jax.random.PRNGKey(0), dtype=jnp.float64)


def test_which_data_are_exact():
    assert _box_data_is_exact(box(COONS_MAX_DIM), True)
    assert not _box_data_is_exact(box(COONS_MAX_DIM + 1), True)
    assert _box_data_is_exact(box(COONS_MAX_DIM + 1), False)
    assert _box_data_is_exact(Ball(50, np.zeros(50), 1.0), True)  # two evaluations per point on a ball


def test_x_dependent_box_data_above_the_limit_are_a_loss():
    d = COONS_MAX_DIM + 1
    compiled = _box_problem(d, {"boundary": "x[1] * x[2] + sin(x[3])"})
    _, soft = build_solution(compiled, _network(d), "soft")
    u, kinds = build_solution(compiled, _network(d), "auto")
    assert kinds == soft == ("boundary",)
    x = jnp.asarray(interior(Box(d, np.zeros(d), np.ones(d)), 20, seed=6))
    z = np.asarray(u.network(x))
    np.testing.assert_allclose(u(x, jnp.zeros(20)), z, rtol=1e-14)  # neither factor nor extension


def test_x_independent_box_data_above_the_limit_stay_exact():
    d = COONS_MAX_DIM + 1
    u, kinds = build_solution(_box_problem(d, {"boundary": "0"}), _network(d), "auto")
    assert kinds == ()
    x = on_faces(Box(d, np.zeros(d), np.ones(d)), 50, seed=7)
    np.testing.assert_allclose(u(jnp.asarray(x), jnp.zeros(50)), 0.0, atol=1e-14)


def test_above_the_limit_initial_data_stay_exact_and_boundary_data_are_a_loss():
    d = COONS_MAX_DIM + 1
    compiled = _box_problem(
        d, {"initial": "x[1]", "boundary": "x[1] + t"}, time={"start": 0, "end": 1}, equation="u_t = lap_u"
    )
    u, kinds = build_solution(compiled, _network(d + 1), "auto")
    assert kinds == ("boundary",)
    x = jnp.asarray(interior(Box(d, np.zeros(d), np.ones(d)), 20, seed=8))
    t = jnp.full(20, 0.5)
    network = np.asarray(u.network(jnp.concatenate([x, t[:, None]], axis=1)))
    np.testing.assert_allclose(u(x, t), x[:, 0] + 0.5 * network, rtol=1e-14)  # time factor only


def test_at_the_limit_the_exact_solution_is_the_base():
    """At COONS_MAX_DIM dimensions the data are built in, and for u = sum_i sin(pi x_i) + x1 x2 x3
    (kept by the Boolean sum) the base is u itself."""
    d = COONS_MAX_DIM
    u_text = " + ".join(f"sin(pi * x[{i}])" for i in range(1, d + 1)) + " + x[1] * x[2] * x[3]"
    compiled = _box_problem(d, {"boundary": u_text})
    u, kinds = build_solution(compiled, _network(d), "auto")
    assert kinds == ()
    x = interior(Box(d, np.zeros(d), np.ones(d)), 50, seed=9)
    expected = np.sin(np.pi * x).sum(axis=1) + x[:, 0] * x[:, 1] * x[:, 2]
    np.testing.assert_allclose(u.base(jnp.asarray(x), jnp.zeros(50)), expected, rtol=1e-12, atol=1e-12)
    xb = jnp.asarray(on_faces(Box(d, np.zeros(d), np.ones(d)), 50, seed=10))
    np.testing.assert_allclose(
        u(xb, jnp.zeros(50)), np.sin(np.pi * xb).sum(axis=1) + xb[:, 0] * xb[:, 1] * xb[:, 2], rtol=1e-12, atol=1e-12
    )
