"""AutodiffEngine operators against closed forms and against jax.hessian/jax.grad of a random MLP."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from pdesolve.config import MlpConfig
from pdesolve.operators import OPERATORS, AutodiffEngine
from pdesolve.run import build_network

D = 4
A = np.array([0.5, -1.0, 2.0, 0.25])


def field(x, t):
    """u = sin(2t) * sum_i a_i x_i^3 + t^2 cos(x_1 x_2), batched: x (n, d), t (n,)."""
    return jnp.sin(2 * t) * (x**3 @ A) + t**2 * jnp.cos(x[:, 0] * x[:, 1])


def closed_forms(x, t):
    s = np.sin(2 * t)
    cubic = x**3 @ A
    p = x[:, 0] * x[:, 1]
    u_x = s[:, None] * 3 * A * x**2
    u_x[:, 0] += -np.sin(p) * x[:, 1] * t**2
    u_x[:, 1] += -np.sin(p) * x[:, 0] * t**2
    u_xx = s[:, None] * 6 * A * x
    u_xx[:, 0] += -np.cos(p) * x[:, 1] ** 2 * t**2
    u_xx[:, 1] += -np.cos(p) * x[:, 0] ** 2 * t**2
    return {
        "u": s * cubic + t**2 * np.cos(p),
        "u_x": u_x,
        "u_xx": u_xx,
        "lap_u": u_xx.sum(axis=1),
        "u_t": 2 * np.cos(2 * t) * cubic + 2 * t * np.cos(p),
        "u_tt": -4 * s * cubic + 2 * np.cos(p),
    }


def points(n=9, d=D, seed=0):
    rng = np.random.default_rng(seed)
    return rng.normal(size=(n, d)), rng.uniform(-1, 1, n)


def test_all_operators_match_closed_forms():
    x, t = points()
    got = jax.jit(lambda x, t: AutodiffEngine()(field, x, t, frozenset(OPERATORS)))(jnp.asarray(x), jnp.asarray(t))
    expected = closed_forms(x, t)
    assert set(got) == set(OPERATORS)
    for name, value in expected.items():
        assert got[name].shape == value.shape, name
        np.testing.assert_allclose(np.asarray(got[name]), value, rtol=1e-11, atol=1e-11, err_msg=name)


@pytest.mark.parametrize(
    "needs", [{"u"}, {"u_x"}, {"lap_u"}, {"u_xx", "u"}, {"u_t"}, {"u_tt"}, {"u_x", "u_tt"}, {"lap_u", "u_x", "u_t"}]
)
def test_only_requested_operators_are_returned_and_correct(needs):
    x, t = points(seed=1)
    got = jax.jit(lambda x, t: AutodiffEngine()(field, x, t, frozenset(needs)))(jnp.asarray(x), jnp.asarray(t))
    assert set(got) == needs
    expected = closed_forms(x, t)
    for name in needs:
        np.testing.assert_allclose(np.asarray(got[name]), expected[name], rtol=1e-11, atol=1e-11, err_msg=name)


def test_random_mlp_against_jax_hessian():
    d = 5
    cfg = MlpConfig(widths=[16, 16], activation="tanh")
    net = build_network(cfg, d + 1, key=jax.random.PRNGKey(3), dtype=jnp.float64)

    def u(x, t):
        return net(jnp.concatenate([x, t[:, None]], axis=1))

    def scalar(z):  # one point z = (x, t)
        return net(z[None, :])[0]

    x, t = points(n=7, d=d, seed=2)
    z = np.concatenate([x, t[:, None]], axis=1)
    grad = np.asarray(jax.jit(jax.vmap(jax.grad(scalar)))(jnp.asarray(z)))
    hess = np.asarray(jax.jit(jax.vmap(jax.hessian(scalar)))(jnp.asarray(z)))
    got = jax.jit(lambda x, t: AutodiffEngine()(u, x, t, frozenset(OPERATORS)))(jnp.asarray(x), jnp.asarray(t))
    diag = np.diagonal(hess, axis1=1, axis2=2)
    np.testing.assert_allclose(np.asarray(got["u"]), np.asarray(jax.vmap(scalar)(jnp.asarray(z))), rtol=1e-12)
    np.testing.assert_allclose(np.asarray(got["u_x"]), grad[:, :d], rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(np.asarray(got["u_xx"]), diag[:, :d], rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(np.asarray(got["lap_u"]), diag[:, :d].sum(axis=1), rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(np.asarray(got["u_t"]), grad[:, d], rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(np.asarray(got["u_tt"]), diag[:, d], rtol=1e-10, atol=1e-12)
    # the network is not trivially linear: its Hessian diagonal is far from zero
    assert np.max(np.abs(diag)) > 1e-3


def test_points_are_independent():
    """Operators at one point do not depend on which other points share the batch."""
    x, t = points(n=6, seed=4)
    engine = AutodiffEngine()
    run = jax.jit(lambda x, t: engine(field, x, t, frozenset(OPERATORS)))
    full = run(jnp.asarray(x), jnp.asarray(t))
    one = run(jnp.asarray(x[2:3]), jnp.asarray(t[2:3]))
    for name in OPERATORS:
        np.testing.assert_allclose(np.asarray(full[name])[2], np.asarray(one[name])[0], rtol=1e-13, err_msg=name)


def test_evals_per_point_counts():
    e = AutodiffEngine()
    assert e.evals_per_point(frozenset({"u"}), 10) == 1
    assert e.evals_per_point(frozenset({"u", "u_x"}), 10) == 11
    assert e.evals_per_point(frozenset({"lap_u"}), 10) == 21
    assert e.evals_per_point(frozenset({"u_t", "u_tt"}), 10) == 4
    assert e.name == "ad"


@pytest.mark.parametrize("needs", [frozenset(OPERATORS), frozenset({"u_x"})])
def test_directions_in_chunks_match_closed_forms(monkeypatch, needs):
    """With a tangent budget below n d^2 the directions go in chunks (3 and a remainder of 1 for
    d = 4, n = 9: 36 tangent elements per direction); the values are the closed forms still."""
    from pdesolve.problem import _derivatives

    monkeypatch.setattr(_derivatives, "TANGENT_ELEMENTS", 3 * 9 * D)
    x, t = points()
    got = jax.jit(lambda x, t: AutodiffEngine()(field, x, t, needs))(jnp.asarray(x), jnp.asarray(t))
    expected = closed_forms(x, t)
    for name in needs:
        np.testing.assert_allclose(np.asarray(got[name]), expected[name], rtol=1e-11, atol=1e-11, err_msg=name)
