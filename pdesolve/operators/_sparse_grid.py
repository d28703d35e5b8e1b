"""Smolyak sparse Gauss-Hermite grids for E f(delta), delta ~ N(0, I_D), kept in sparse form.

A level-k grid is built from the 1-D probabilists' Gauss-Hermite rules U^1..U^k (l points at
level l, weights summing to 1) by the combination formula

    A(k, D) = sum_{q = max(0, k-D)}^{k-1} (-1)^(k-1-q) C(D-1, k-1-q) sum_{|i| = D+q} U^i1 x ... x U^iD.

Only the excess levels e_j = i_j - 1 (summing to q <= k-1) matter and U^1 is the single node 0, so
every node has at most k-1 nonzero coordinates, and by symmetry of the formula the weight of a
node depends only on the multiset of its nonzero values. The weight of a node with nonzero values
v_1..v_m is therefore a coefficient of a product of generating functions in the excess t:

    W = sum_q c_q [t^q] ( prod_j h_{v_j}(t) * g(t)^(D-m) ),
    h_v(t) = sum_{e>=1} w_{1+e}(v) t^e,   g(t) = sum_{e>=0} w_{1+e}(0) t^e,

with w_l(v) the weight of v in U^l. Nodes are enumerated as (coordinate subset) x (value pattern),
never over the level^D multi-indices, and stored as mirror pairs (the rule is symmetric).
"""

import functools
import itertools
import math
from typing import NamedTuple

import numpy as np
from jaxtyping import Array, Float, Int
from numpy.polynomial.hermite_e import hermegauss

from ..errors import ConfigError

#: Largest number of entries (nodes x dim) the dense ``sparse_grid`` will materialise.
MAX_DENSE_ENTRIES = 50_000_000
#: Largest number of mirror pairs ``symmetric_sparse_grid`` will build.
MAX_PAIRS = 20_000_000
# A weight is zero when it is this small relative to the sum of absolute terms that formed it.
_ZERO_WEIGHT = 1e-10
# 1-D nodes of different levels closer than this are the same node.
_SAME_NODE = 1e-12


class SymmetricRule(NamedTuple):
    """A quadrature rule for N(0, I_D) that is symmetric under delta -> -delta, in sparse form.

    The nodes are the centre (weight ``centre_weight``, possibly 0) and the pairs
    ``+delta_p, -delta_p`` (each of weight ``weights[p]``), where ``delta_p`` is zero except
    ``delta_p[coords[p, j]] = values[p, j]``. Rows shorter than ``r`` are padded with value 0.

    Fields: ``centre_weight`` float, ``coords`` (p, r) int, ``values`` (p, r), ``weights`` (p,);
    numpy arrays for sparse grids, JAX arrays for Monte Carlo samples.
    """

    centre_weight: float
    coords: Int[np.ndarray, "p r"]
    values: Float[np.ndarray, "p r"] | Float[Array, "p r"]
    weights: Float[np.ndarray, " p"] | Float[Array, " p"]


def _rules_1d(level: int) -> list[tuple[np.ndarray, np.ndarray]]:
    """Probabilists' Gauss-Hermite rules with 1..level points, weights normalised to 1."""
    rules = []
    for points in range(1, level + 1):
        nodes, weights = hermegauss(points)
        nodes = np.where(np.abs(nodes) < _SAME_NODE, 0.0, nodes)
        rules.append((nodes, weights / weights.sum()))
    return rules


def _truncated_power(poly: np.ndarray, power: int) -> np.ndarray:
    """``poly ** power`` keeping degrees below ``len(poly)`` (binary exponentiation)."""
    size = len(poly)
    result = np.zeros(size)
    result[0] = 1.0
    base = poly
    while power:
        if power & 1:
            result = np.convolve(result, base)[:size]
        base = np.convolve(base, base)[:size]
        power >>= 1
    return result


def _smolyak_coefficients(dim: int, level: int) -> np.ndarray:
    """``c_q`` for q = 0..level-1 (zero where q < level - dim)."""
    coef = np.zeros(level)
    for q in range(max(0, level - dim), level):
        coef[q] = (-1) ** (level - 1 - q) * math.comb(dim - 1, level - 1 - q)
    return coef


def _positive_nodes(rules: list[tuple[np.ndarray, np.ndarray]]) -> list[float]:
    """The distinct positive 1-D nodes over all ``rules``, ascending."""
    magnitudes: list[float] = []
    for nodes, _ in rules:
        for v in nodes[nodes > 0]:
            if not any(abs(v - m) <= _SAME_NODE * max(1.0, v) for m in magnitudes):
                magnitudes.append(float(v))
    return sorted(magnitudes)


def _weight_series(rules: list[tuple[np.ndarray, np.ndarray]], value: float) -> np.ndarray:
    """The weight of the 1-D node ``value`` in U^(1+e), e = 0..level-1 (0 where it is no node): (level,)."""
    series = np.zeros(len(rules))
    for e, (nodes, weights) in enumerate(rules):
        hit = np.abs(nodes - value) <= _SAME_NODE * max(1.0, abs(value))
        series[e] = weights[hit].sum()
    return series


class _NodeWeights:
    """The weight W of a node from the multiset of its nonzero values (module docstring), with the
    series g (of 0) and h_v (of each positive node v) and the Smolyak coefficients c_q."""

    def __init__(self, dim: int, level: int):
        rules = _rules_1d(level)
        self.dim, self.level = dim, level
        self.magnitudes = _positive_nodes(rules)
        self.g = _weight_series(rules, 0.0)
        self.h = {v: _weight_series(rules, v) for v in self.magnitudes}
        self.min_excess = {v: int(np.flatnonzero(self.h[v])[0]) for v in self.magnitudes}  # lowest level - 1 of v
        self.coef = _smolyak_coefficients(dim, level)

    def _sum(self, values: tuple[float, ...], absolute: bool) -> float:
        """W for nonzero values ``values``, or (``absolute``) the sum of the absolute terms that form it."""
        fix = np.abs if absolute else (lambda a: a)
        series = _truncated_power(fix(self.g), self.dim - len(values))
        for v in values:
            series = np.convolve(series, fix(self.h[v]))[: self.level]
        return float(fix(self.coef) @ series)

    def weight(self, values: tuple[float, ...]) -> float:
        """W for nonzero values ``values``; 0 when it cancels to rounding error."""
        weight = self._sum(values, False)
        return 0.0 if abs(weight) <= _ZERO_WEIGHT * self._sum(values, True) else weight


def _mirror_patterns(multiset: tuple[float, ...]) -> np.ndarray:
    """The distinct signed orderings of ``multiset`` with a positive first entry, sorted: one per
    mirror pair, (k, len(multiset))."""
    return np.array(
        sorted(
            {
                tuple(s * v for s, v in zip(signs, order))
                for order in itertools.permutations(multiset)
                for signs in itertools.product((1.0, -1.0), repeat=len(multiset))
                if signs[0] > 0
            }
        )
    )


def _pair_block(
    subsets: np.ndarray, patterns: np.ndarray, weight: float, width: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Every pattern (k, m) on every coordinate subset (s, m), padded to ``width``: coords (s k, width),
    values (s k, width), weights (s k,)."""
    coords = np.repeat(subsets, len(patterns), axis=0)
    values = np.tile(patterns, (len(subsets), 1))
    pad = ((0, 0), (0, width - patterns.shape[1]))
    return np.pad(coords, pad), np.pad(values, pad), np.full(len(coords), weight)


def _pair_blocks(node_weights: _NodeWeights):
    """Yields the mirror pairs of nonzero weight as ``_pair_block`` blocks, by the number m of
    nonzero coordinates, then by multiset; raises ConfigError past ``MAX_PAIRS`` pairs."""
    dim, level, width = node_weights.dim, node_weights.level, node_weights.level - 1
    n_pairs = 0
    for m in range(1, min(width, dim) + 1):
        subsets = None
        for multiset in itertools.combinations_with_replacement(node_weights.magnitudes, m):
            if sum(node_weights.min_excess[v] for v in multiset) > width:
                continue
            weight = node_weights.weight(multiset)
            if weight == 0.0:
                continue
            patterns = _mirror_patterns(multiset)
            n_pairs += math.comb(dim, m) * len(patterns)
            if n_pairs > MAX_PAIRS:  # a validation error (exit 2), not an internal one
                raise ConfigError(
                    "operators.level",
                    f"the level-{level} sparse grid in {dim} dimensions has more than "
                    f"{MAX_PAIRS} mirror pairs; use a lower level (3 is the reference)",
                )
            if subsets is None:
                subsets = np.array(list(itertools.combinations(range(dim), m)), dtype=np.int64)
            yield _pair_block(subsets, patterns, weight, width)


@functools.lru_cache(maxsize=32)
def symmetric_sparse_grid(dim: int, level: int) -> SymmetricRule:
    """The level-``level`` Smolyak Gauss-Hermite rule in ``dim`` dimensions, as mirror pairs.

    Exact for polynomials of total degree <= 2 * level - 1. Coinciding nodes are merged and
    zero-weight nodes dropped. Memory is O(pairs * (level - 1)); the node count grows like
    dim^(level-1) (level 3: about 2 dim^2 nodes). The arrays are read-only (cached).
    """
    if dim < 1 or level < 1:
        raise ValueError(f"a sparse grid needs dim >= 1 and level >= 1, got dim={dim}, level={level}")
    node_weights = _NodeWeights(dim, level)
    blocks = list(_pair_blocks(node_weights))
    width = level - 1
    coords = np.concatenate([b[0] for b in blocks]) if blocks else np.zeros((0, width), dtype=np.int64)
    values = np.concatenate([b[1] for b in blocks]) if blocks else np.zeros((0, width))
    weights = np.concatenate([b[2] for b in blocks]) if blocks else np.zeros(0)
    for array in (coords, values, weights):
        array.setflags(write=False)
    return SymmetricRule(node_weights.weight(()), coords, values, weights)


@functools.lru_cache(maxsize=8)
def sparse_grid(dim: int, level: int) -> tuple[Float[np.ndarray, "n dim"], Float[np.ndarray, " n"]]:
    """Dense nodes (n, dim) and weights (n,) of the level-``level`` Smolyak Gauss-Hermite rule.

    Order: the centre (if its weight is nonzero), then ``+delta_p`` for every pair, then
    ``-delta_p``. Raises ``ValueError`` when n * dim exceeds ``MAX_DENSE_ENTRIES`` (e.g. level 3
    in 1000 dimensions, 16 GB); use ``symmetric_sparse_grid`` there. Arrays are read-only (cached).
    """
    rule = symmetric_sparse_grid(dim, level)
    has_centre = rule.centre_weight != 0.0
    n = int(has_centre) + 2 * len(rule.weights)
    if n * dim > MAX_DENSE_ENTRIES:
        raise ValueError(
            f"the dense level-{level} sparse grid in {dim} dimensions has {n} x {dim} entries "
            f"(limit {MAX_DENSE_ENTRIES}); use symmetric_sparse_grid({dim}, {level}), the sparse form"
        )
    half = np.zeros((len(rule.weights), dim))
    np.add.at(half, (np.arange(len(half))[:, None], rule.coords), rule.values)  # padding adds 0
    nodes = np.concatenate([np.zeros((int(has_centre), dim)), half, -half])
    weights = np.concatenate([[rule.centre_weight] * has_centre, rule.weights, rule.weights])
    nodes.setflags(write=False)
    weights.setflags(write=False)
    return nodes, weights
