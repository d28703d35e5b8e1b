"""Smolyak sparse Gauss-Hermite grids against the 925-node test vector (k = 3, D = 21), Gaussian moments and chaospy."""

import itertools
import math

import chaospy
import numpy as np
import pytest

from pdesolve.operators import sparse_grid, symmetric_sparse_grid


def gaussian_moment(powers) -> float:
    """E prod_i delta_i^p_i for delta ~ N(0, I): prod of (p - 1)!! for even p, else 0."""
    if any(p % 2 for p in powers):
        return 0.0
    return float(np.prod([math.prod(range(p - 1, 0, -2)) for p in powers]))


def merged(nodes: np.ndarray, weights: np.ndarray, decimals: int = 9) -> dict:
    """{rounded node: summed weight}, zero weights dropped."""
    out: dict = {}
    for node, weight in zip(np.round(nodes + 0.0, decimals) + 0.0, weights):
        out[tuple(node)] = out.get(tuple(node), 0.0) + weight
    return {node: w for node, w in out.items() if abs(w) > 1e-10}


def test_level3_dim21_test_vector():
    nodes, weights = sparse_grid(21, 3)
    assert nodes.shape == (925, 21)
    nonzero = np.count_nonzero(nodes, axis=1)
    norms = np.sort(np.abs(nodes), axis=1)[:, ::-1]
    classes = {
        "centre": (nonzero == 0, 204.0),
        "+-e_i": ((nonzero == 1) & np.isclose(norms[:, 0], 1.0), -10.0),
        "+-sqrt3 e_i": ((nonzero == 1) & np.isclose(norms[:, 0], np.sqrt(3)), 1 / 6),
        "+-e_i +-e_j": ((nonzero == 2) & np.isclose(norms[:, 0], 1) & np.isclose(norms[:, 1], 1), 0.25),
    }
    counts = {"centre": 1, "+-e_i": 42, "+-sqrt3 e_i": 42, "+-e_i +-e_j": 840}
    covered = np.zeros(len(nodes), bool)
    for name, (mask, weight) in classes.items():
        assert mask.sum() == counts[name], name
        np.testing.assert_allclose(weights[mask], weight, rtol=1e-12, atol=1e-12)
        covered |= mask
    assert covered.all()
    assert len(merged(nodes, weights)) == 925  # no duplicate nodes


def test_two_dimensional_counts():
    assert [len(sparse_grid(2, level)[0]) for level in range(1, 6)] == [1, 5, 13, 29, 53]


@pytest.mark.parametrize("level, dim", [(1, 3), (2, 5), (3, 4), (3, 6), (4, 3), (5, 2), (6, 1)])
def test_exact_gaussian_moments(level, dim):
    nodes, weights = sparse_grid(dim, level)
    degree = 2 * level - 1
    for powers in itertools.product(range(degree + 1), repeat=dim):
        if sum(powers) <= degree:
            value = weights @ np.prod(nodes ** np.array(powers), axis=1)
            assert value == pytest.approx(gaussian_moment(powers), abs=1e-9), powers
    # Degree 2 level is not integrated exactly: the rule's degree is tight.
    powers = (2 * level,) + (0,) * (dim - 1)
    assert weights @ nodes[:, 0] ** (2 * level) != pytest.approx(gaussian_moment(powers), abs=1e-6)


@pytest.mark.parametrize("level, dim", [(2, 1), (2, 5), (3, 3), (3, 7), (4, 3), (4, 5), (5, 2)])
def test_agrees_with_chaospy(level, dim):
    ref_nodes, ref_weights = chaospy.generate_quadrature(
        level - 1, chaospy.Iid(chaospy.Normal(0, 1), dim), rule="gaussian", sparse=True
    )
    reference = merged(ref_nodes.T, ref_weights)
    ours = merged(*sparse_grid(dim, level))
    assert ours.keys() == reference.keys()
    for node, weight in ours.items():
        assert weight == pytest.approx(reference[node], rel=1e-8, abs=1e-10)


def test_sparse_form_matches_dense():
    rule = symmetric_sparse_grid(6, 4)
    nodes, weights = sparse_grid(6, 4)
    n_pairs = len(rule.weights)
    assert len(nodes) == 1 + 2 * n_pairs and weights[0] == rule.centre_weight
    np.testing.assert_array_equal(nodes[1 : 1 + n_pairs], -nodes[1 + n_pairs :])
    np.testing.assert_array_equal(weights[1 : 1 + n_pairs], rule.weights)
    assert rule.coords.shape[1] == 3  # at most level - 1 nonzeros per node


def test_level3_dim1000_sparse_form():
    """Two million nodes, built from the sparse structure; moments checked without densifying."""
    dim = 1000
    rule = symmetric_sparse_grid(dim, 3)
    assert 1 + 2 * len(rule.weights) == 1 + 4 * dim + 4 * math.comb(dim, 2)
    w, c, v = rule.weights, rule.coords, rule.values

    def moment(coordinate_powers: dict) -> float:
        """Sum over all nodes (both mirrors) of w * prod delta_i^p; the centre contributes only to p = 0."""
        term = np.ones(len(w))
        for i, p in coordinate_powers.items():
            term *= np.sum(np.where(c == i, v, 0.0) ** p, axis=1) if p else 1.0
        sign = (-1) ** sum(coordinate_powers.values())
        return (1 + sign) * (w @ term) + (rule.centre_weight if not any(coordinate_powers.values()) else 0)

    assert moment({}) == pytest.approx(1.0, abs=1e-7)
    assert moment({3: 2}) == pytest.approx(1.0, abs=1e-7)
    assert moment({3: 4}) == pytest.approx(3.0, abs=1e-7)
    assert moment({3: 2, 999: 2}) == pytest.approx(1.0, abs=1e-7)
    with pytest.raises(ValueError, match="symmetric_sparse_grid"):
        sparse_grid(dim, 3)
