"""Finite differences along a symmetry's directions (``operators._symmetric``): the operators of a
field of the symmetry features against autodiff and against the full coordinate stencil."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from pdesolve.operators import AutodiffEngine, FiniteDifferenceEngine
from pdesolve.problem import Subspace

DIM, DIRECTIONS = 40, 2
NEEDS = frozenset({"u", "u_x", "lap_u", "u_t", "u_tt"})


@pytest.fixture(scope="module")
def symmetric_field():
    """Q (d, 2) orthonormal, a centre c, and u = U(Q^T (x - c), |x - c|^2 / d, t) with mixed terms."""
    rng = np.random.default_rng(1)
    basis, _ = np.linalg.qr(rng.standard_normal((DIM, DIRECTIONS)))
    centre = 0.1 * rng.standard_normal(DIM)
    subspace = Subspace(basis, centre, 1.0, float(DIM))

    def u(x, t):
        z = (x - centre[None, :]) @ basis
        r = jnp.sum((x - centre[None, :]) ** 2, axis=1) / DIM
        return jnp.sin(z[:, 0]) * jnp.cos(z[:, 1] * r) + jnp.exp(-r) * (1 + t) + t**2 * z[:, 0]

    x = rng.standard_normal((6, DIM))
    x[0] = centre + basis @ np.array([0.3, -0.2])  # x - c in span(Q): no radial direction
    x[1] = centre  # the centre itself
    return subspace, u, jnp.asarray(x), jnp.asarray(rng.uniform(size=6))


def test_operators_match_autodiff_and_the_coordinate_stencil(symmetric_field):
    """2 (k + 2) + 1 nodes give what all 2 d + 1 coordinates give, to the differences' O(h^2)."""
    subspace, u, x, t = symmetric_field
    step = 1e-3
    symmetric = FiniteDifferenceEngine(step=step, coordinates="all", chunk_size=None).on_symmetry(subspace)
    coordinates = FiniteDifferenceEngine(step=step, coordinates="all", chunk_size=None)
    exact = AutodiffEngine()(u, x, t, NEEDS)
    ours, full = symmetric(u, x, t, NEEDS), coordinates(u, x, t, NEEDS)
    for name in NEEDS:
        scale = float(jnp.max(jnp.abs(exact[name])))
        assert float(jnp.max(jnp.abs(ours[name] - exact[name]))) < 1e-6 * scale, name
        assert float(jnp.max(jnp.abs(ours[name] - full[name]))) < 1e-6 * scale, name


def test_chunked_and_prepared_evaluations_agree(symmetric_field):
    """``chunk_size`` and ``prepare``'s parts change the work, not the numbers (up to round-off that
    the second differences amplify by d / h^2: a different evaluation order)."""
    from pdesolve.models import MLP, DenseLinear, ProjectedInput, Solution

    subspace, _u, x, t = symmetric_field
    keys = jax.random.split(jax.random.PRNGKey(0), 2)
    first = ProjectedInput(subspace, DIM + 1, 6, key=keys[0], dtype=x.dtype)
    network = MLP([first, DenseLinear(6, 1, key=keys[1], dtype=x.dtype)], "tanh")
    solution = Solution(network, base=lambda x, t: 0 * t, factor=lambda x, t: 1 + t, has_time=True)
    whole = FiniteDifferenceEngine(step=1e-3, coordinates=16, chunk_size=None).on_symmetry(subspace)
    chunked = FiniteDifferenceEngine(step=1e-3, coordinates=16, chunk_size=4).on_symmetry(subspace)
    f = jnp.zeros(x.shape[0], x.dtype)
    residual = lambda ops, x, t, f: ops["u_t"] + ops["lap_u"] - jnp.sum(ops["u_x"] ** 2, axis=1)  # noqa: E731
    needs = frozenset({"u_t", "lap_u", "u_x"})
    plain = whole.residual(residual, solution, x, t, f, needs)
    prepared = chunked.residual(residual, solution, x, t, f, needs, prepared=chunked.prepare(solution, x, t, needs))
    np.testing.assert_allclose(prepared, plain, rtol=DIM * 1e-16 / 1e-3**2)


def test_node_count_does_not_grow_with_the_dimension(symmetric_field):
    subspace = symmetric_field[0]
    engine = FiniteDifferenceEngine(step=None, coordinates=16, chunk_size=None).on_symmetry(subspace)
    assert engine.name == "fd-symmetric"
    assert engine.evals_per_point(NEEDS, DIM) == 1 + 2 * (DIRECTIONS + 2) + 2  # one set: nothing is drawn
    assert engine.evals_per_point(frozenset({"lap_u"}), 10 * DIM) == 1 + 2 * (DIRECTIONS + 2)


def test_operators_the_symmetry_does_not_keep_are_refused(symmetric_field):
    subspace, u, x, t = symmetric_field
    engine = FiniteDifferenceEngine(step=1e-3, coordinates="all", chunk_size=None).on_symmetry(subspace)
    with pytest.raises(ValueError, match="cannot compute u_xx"):
        engine(u, x, t, frozenset({"u_xx"}))
