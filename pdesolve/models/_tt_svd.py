"""TT-SVD (Oseledets 2011) of a matrix on interleaved (m_k n_k) modes, and TT shape checks."""

import math
from collections.abc import Sequence
from typing import cast

import jax.numpy as jnp
import numpy as np
from jaxtyping import Array, ArrayLike, Float


def check_factors(out_size: int, out_factors: Sequence[int], in_size: int, in_factors: Sequence[int]) -> None:
    """Raises ``ValueError`` naming the field unless the factors are positive ints of equal
    count whose products are ``out_size`` and ``in_size``."""
    for field, size, factors in (("out_factors", out_size, out_factors), ("in_factors", in_size, in_factors)):
        if not factors or not all(isinstance(f, int) and not isinstance(f, bool) and f >= 1 for f in factors):
            raise ValueError(f"{field}: expected a non-empty list of positive ints, got {list(factors)}")
        if math.prod(factors) != size:
            raise ValueError(
                f"{field}: {list(factors)} multiply to {math.prod(factors)}, not the layer size {size} "
                "(padding is not supported)"
            )
    if len(out_factors) != len(in_factors):
        raise ValueError(
            f"in_factors/out_factors: need one input and one output factor per core, got "
            f"{len(in_factors)} and {len(out_factors)}"
        )


def check_ranks(rank: int | Sequence[int], n_cores: int) -> list[int]:
    """Inner ranks ``[r_1, ..., r_{L-1}]`` from one int or a list of ``L - 1`` positive ints."""
    ranks = (
        [rank] * (n_cores - 1)
        if isinstance(rank, int) and not isinstance(rank, bool)
        else list(cast(Sequence[int], rank))
    )
    if len(ranks) != n_cores - 1 or not all(isinstance(r, int) and not isinstance(r, bool) and r >= 1 for r in ranks):
        raise ValueError(
            f"rank: expected one positive int or {n_cores - 1} of them (L - 1 for L = {n_cores} cores), got {rank!r}"
        )
    return ranks


def max_ranks(out_factors: Sequence[int], in_factors: Sequence[int]) -> list[int]:
    """Largest useful inner ranks: the smaller side of each unfolding of the interleaved tensor."""
    modes = [m * n for m, n in zip(out_factors, in_factors)]
    return [min(math.prod(modes[: k + 1]), math.prod(modes[k + 1 :])) for k in range(len(modes) - 1)]


def _kept(singular_values: np.ndarray, delta: float, cap: int) -> int:
    """Smallest rank whose discarded tail has norm <= ``delta``, capped at ``cap``, at least 1."""
    tails = np.sqrt(np.cumsum(singular_values[::-1] ** 2))[::-1]  # tails[i] = ||s[i:]||
    return max(1, min(cap, int(np.sum(tails > delta))))


def tt_svd(
    matrix: Float[ArrayLike, "out in"],
    out_factors: Sequence[int],
    in_factors: Sequence[int],
    *,
    rank: int | Sequence[int] | None = None,
    tolerance: float | None = None,
) -> tuple[Float[Array, "r_prev m n r_next"], ...]:
    """TT cores ``G_k`` of shape ``(r_{k-1}, m_k, n_k, r_k)`` approximating ``matrix`` (out, in).

    Sequential truncated SVDs of the unfoldings of ``matrix`` reshaped to
    ``(m_1 n_1, ..., m_L n_L)`` (computed in float64 NumPy, returned in the input dtype).

    **Arguments:**
    - ``rank``: cap on the inner ranks, one int or ``L - 1`` ints (``None``: no cap).
    - ``tolerance``: relative Frobenius error target ``eps``; each SVD discards a tail of norm at
      most ``eps * ||matrix||_F / sqrt(L - 1)`` (``None``: discard nothing beyond ``rank``).

    **Returns:** the cores. The error obeys ``||matrix - W_tt||_F <= sqrt(sum_k tail_k^2)``, with
    ``tail_k`` the best rank-``r_k`` approximation error of the k-th unfolding of ``matrix``.
    """
    out_factors, in_factors = tuple(out_factors), tuple(in_factors)
    out_size, in_size = np.shape(matrix)
    check_factors(out_size, out_factors, in_size, in_factors)
    n_cores = len(out_factors)
    caps = check_ranks(rank, n_cores) if rank is not None else max_ranks(out_factors, in_factors)
    if tolerance is not None and not tolerance >= 0:
        raise ValueError(f"tolerance: expected a non-negative relative error, got {tolerance!r}")
    dtype = jnp.asarray(matrix).dtype

    tensor = np.asarray(matrix, np.float64).reshape(*out_factors, *in_factors)
    tensor = tensor.transpose([axis for k in range(n_cores) for axis in (k, n_cores + k)])
    delta = (tolerance or 0.0) * float(np.linalg.norm(tensor)) / math.sqrt(max(n_cores - 1, 1))
    cores = []
    rest, r_prev = tensor.reshape(1, -1), 1
    for k in range(n_cores - 1):
        m, n = out_factors[k], in_factors[k]
        u, s, vt = np.linalg.svd(rest.reshape(r_prev * m * n, -1), full_matrices=False)
        r = _kept(s, delta, caps[k])
        cores.append(u[:, :r].reshape(r_prev, m, n, r))
        rest, r_prev = s[:r, None] * vt[:r], r
    cores.append(rest.reshape(r_prev, out_factors[-1], in_factors[-1], 1))
    return tuple(jnp.asarray(core, dtype) for core in cores)
