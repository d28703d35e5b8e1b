"""Tensor-train (TT) compressed linear layer: ``W`` of shape (out, in) stored as L small cores.

``W[(i_1..i_L), (j_1..j_L)] = G_1[:, i_1, j_1, :] @ ... @ G_L[:, i_L, j_L, :]`` with
``G_k`` of shape ``(r_{k-1}, m_k, n_k, r_k)``, ``r_0 = r_L = 1``, ``out = m_1...m_L`` and
``in = n_1...n_L`` (multi-indices in row-major order, as ``reshape`` reads them).
"""

import itertools
import math
from collections.abc import Sequence
from typing import Literal

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
from jaxtyping import Array, Float, PRNGKeyArray

from ._layers import AbstractLinear, uniform_bound
from ._tt_svd import check_factors, check_ranks, max_ranks, tt_svd

# Batch size from which ``path="auto"`` rebuilds the dense weight instead of contracting the cores:
# rebuilding W costs about as much as a dense layer on a few tens of points, while the contraction
# keeps (n, out, r) intermediates and XLA's CPU code for its small ranks is memory bound
# (``python -m benchmarks tt-forward``: benchmarks/results/tt-forward/summary.md).
AUTO_DENSE_MIN_BATCH = 100

# A factor above both this and twice the balanced factor ``ceil(size ** (1/L))`` makes
# an automatic factorisation "not sensible" (e.g. a large prime size).
_MAX_SMALL_FACTOR = 8


def _factorisations(size: int, n_factors: int, smallest: int = 1) -> list[tuple[int, ...]]:
    """Every way to write ``size`` as ``n_factors`` non-decreasing factors (factors of 1 allowed)."""
    if n_factors == 1:
        return [(size,)] if size >= smallest else []
    return [
        (factor, *rest)
        for factor in range(smallest, int(size ** (1.0 / n_factors)) + 2)
        if size % factor == 0 and factor**n_factors <= size
        for rest in _factorisations(size // factor, n_factors - 1, factor)
    ]


def factorise(size: int, n_factors: int, *, descending: bool = False) -> tuple[int, ...]:
    """The most balanced factorisation of ``size`` into ``n_factors`` factors (no padding).

    Balanced: the largest factor is as small as possible, then the next, and so on. Factors are
    ascending (``descending=False``) or descending. Raises ``ValueError`` when the best largest
    factor exceeds both 8 and twice ``ceil(size ** (1/n_factors))``: such a size (a large
    prime, for instance) gives a TT mode that compresses nothing; choose another width, give the
    factors explicitly, or keep the layer dense.
    """
    if size < 1 or n_factors < 1:
        raise ValueError(f"factorise: size and n_factors must be positive, got {size}, {n_factors}")
    best = min(_factorisations(size, n_factors), key=lambda f: sorted(f, reverse=True))
    limit = max(_MAX_SMALL_FACTOR, 2 * math.ceil(size ** (1.0 / n_factors)))
    if max(best) > limit:
        raise ValueError(
            f"size {size} has no balanced factorisation into {n_factors} factors (best {list(best)}, "
            f"largest factor {max(best)} > {limit}); pick a size with small prime factors, give the "
            "factors explicitly, or keep this layer dense"
        )
    return tuple(sorted(best, reverse=descending))


def padded_factorise(size: int, n_factors: int, *, descending: bool = False) -> tuple[int, ...]:
    """``factorise(size, n_factors)``, or, when ``size`` has no balanced factorisation (a prime
    such as 509, or 51 = 3 * 17 into 4), that of the smallest size above it that has one.

    The product of the factors is then > ``size``: the TT layer zero-pads its input (extra
    columns of ``W`` never touch data) or drops its extra outputs. Padding is at most a few
    percent for sizes >= 100 (51 -> 54 = 2 * 3 * 3 * 3, 1001 -> 1008 = 4 * 6 * 6 * 7).
    """
    padded = size
    while True:
        try:
            return factorise(padded, n_factors, descending=descending)
        except ValueError:
            padded += 1


def _resolve_factors(
    out_size: int, out_factors: Sequence[int] | None, in_size: int, in_factors: Sequence[int] | None, n_cores: int
) -> tuple[tuple[int, ...], tuple[int, ...]]:
    """Given or automatic factors (output descending, input ascending, so that core sizes
    ``m_k n_k`` stay even); ``L`` comes from a given list, else ``n_cores``. Factors multiply to
    the size, or to the padded size of ``padded_factorise`` (automatic ones, or given ones equal
    in product, as ``from_dense`` passes them)."""
    given = in_factors if in_factors is not None else out_factors
    n_cores = len(given) if given is not None else n_cores
    out_factors = padded_factorise(out_size, n_cores, descending=True) if out_factors is None else tuple(out_factors)
    in_factors = padded_factorise(in_size, n_cores) if in_factors is None else tuple(in_factors)

    def target(size, factors):
        if not factors or not all(isinstance(f, int) and f >= 1 for f in factors):
            return size  # check_factors names the field
        padded = math.prod(padded_factorise(size, len(factors)))
        return padded if math.prod(factors) == padded else size

    check_factors(target(out_size, out_factors), out_factors, target(in_size, in_factors), in_factors)
    return out_factors, in_factors


def _normalise_slices(core: Float[Array, "a m n b"], variance: float) -> Float[Array, "a m n b"]:
    """Rescales each slice ``core[:, i, :, :]`` to squared norm ``variance`` times its size.

    Entries keep mean 0 and variance ``variance`` (by symmetry), while the rows of the rebuilt
    ``W`` vary much less in norm than with plain i.i.d. cores (not at all at rank 1), which keeps
    the pre-activations of deeper sine layers close to those of a dense network.
    """
    norms = jnp.sqrt(jnp.sum(core**2, axis=(0, 2, 3), keepdims=True))
    return core * (math.sqrt(variance * core[:, 0].size) / norms)


def _contract(cores: Sequence[Float[Array, "a m n b"]], z: Float[Array, "batch in"]) -> Float[Array, "batch out"]:
    """``z @ W.T`` by sweeping the cores over ``z`` reshaped to (batch, n_1..n_L)."""
    batch = z.shape[0]
    x = z.reshape(batch, 1, 1, -1)  # (batch, m_1..m_{k-1}, r_{k-1}, n_k..n_L)
    for core in cores:
        r_prev, m, n, r_next = core.shape
        x = x.reshape(batch, x.shape[1], r_prev, n, -1)
        x = jnp.einsum("bpajq,aijc->bpicq", x, core)
        x = x.reshape(batch, x.shape[1] * m, r_next, -1)
    return x.reshape(batch, -1)


def cores_to_dense(cores: Sequence[Float[Array, "a m n b"]]) -> Float[Array, "out in"]:
    """Rebuilds the (out, in) matrix from TT cores."""
    w = cores[0][0]  # (m_1, n_1, r_1)
    for core in cores[1:]:
        rows, cols, _ = w.shape
        w = jnp.einsum("MNa,aijc->MiNjc", w, core).reshape(rows * core.shape[1], cols * core.shape[2], -1)
    return w[..., 0]


#: How a TT layer computes its output: contracting the cores, through the rebuilt dense weight, or by batch size.
TTPath = Literal["contract", "dense", "auto"]


class TTLinear(AbstractLinear):
    """``z @ W.T + b`` with ``W`` (out, in) in TT format: ``(n, in) -> (n, out)``.

    ``path``: ``"contract"`` sweeps the cores over the batch, ``"dense"`` rebuilds ``W`` and does
    one matmul, ``"auto"`` rebuilds once the batch reaches ``AUTO_DENSE_MIN_BATCH``.
    """

    cores: tuple[Float[Array, "r_prev m n r_next"], ...]
    bias: Float[Array, " out"] | None
    in_size: int = eqx.field(static=True)
    out_size: int = eqx.field(static=True)
    in_factors: tuple[int, ...] = eqx.field(static=True)
    out_factors: tuple[int, ...] = eqx.field(static=True)
    path: TTPath = eqx.field(static=True)

    def __init__(
        self,
        in_size: int,
        out_size: int,
        *,
        key: PRNGKeyArray,
        rank: int | Sequence[int] = 2,
        in_factors: Sequence[int] | None = None,
        out_factors: Sequence[int] | None = None,
        n_cores: int = 4,
        init: str = "lecun",
        use_bias: bool = True,
        path: TTPath = "auto",
        dtype=jnp.float32,
    ):
        """``in_factors``/``out_factors`` default to ``factorise(size, L)`` with ``L`` taken from
        the other factor list or ``n_cores``; ``rank`` is one int or ``L - 1`` ints.

        The cores are uniform draws, each output slice rescaled to a fixed norm, with equal
        variance per core, so that every entry of the rebuilt ``W`` has the variance
        ``bound**2 / 3`` of ``DenseLinear`` with the same ``init``.
        """
        if path not in ("contract", "dense", "auto"):
            raise ValueError(f"path: unknown value {path!r}; choose 'contract', 'dense' or 'auto'")
        out_factors, in_factors = _resolve_factors(out_size, out_factors, in_size, in_factors, n_cores)
        ranks = check_ranks(rank, len(in_factors))
        for k, (r, largest) in enumerate(zip(ranks, max_ranks(out_factors, in_factors))):
            if r > largest:
                raise ValueError(
                    f"rank: r_{k + 1} = {r} exceeds {largest}, the largest useful rank for factors "
                    f"{list(out_factors)} x {list(in_factors)} (the smaller side of unfolding {k + 1})"
                )

        bound = uniform_bound(in_size, init)
        # Var W = r_1 ... r_{L-1} * prod_k Var G_k for independent, symmetric cores: split the
        # dense variance bound^2/3 evenly over the L cores.
        core_var = (bound**2 / 3 / math.prod(ranks)) ** (1.0 / len(in_factors))
        full_ranks = [1, *ranks, 1]
        shapes = [(full_ranks[k], m, n, full_ranks[k + 1]) for k, (m, n) in enumerate(zip(out_factors, in_factors))]
        # One uniform draw on [-1, 1] for all parameters (one compile), cut into cores and bias.
        sizes = [math.prod(shape) for shape in shapes] + [out_size if use_bias else 0]
        draws = jnp.split(jax.random.uniform(key, (sum(sizes),), dtype, -1, 1), np.cumsum(sizes)[:-1])
        self.cores = tuple(_normalise_slices(draw.reshape(shape), core_var) for draw, shape in zip(draws, shapes))
        self.bias = bound * draws[-1] if use_bias else None
        self.in_size = in_size
        self.out_size = out_size
        self.in_factors = in_factors
        self.out_factors = out_factors
        self.path = path

    def __check_init__(self):
        shapes = [core.shape for core in self.cores]
        chained = all(a[3] == b[0] for a, b in itertools.pairwise(shapes))
        if not (shapes[0][0] == shapes[-1][3] == 1 and chained):
            raise ValueError(f"cores: ranks must chain with r_0 = r_L = 1, got core shapes {shapes}")
        if tuple(s[1] for s in shapes) != self.out_factors or tuple(s[2] for s in shapes) != self.in_factors:
            raise ValueError(f"cores: shapes {shapes} do not match factors {self.out_factors} x {self.in_factors}")

    @classmethod
    def from_dense(
        cls,
        weight: Float[Array, "out in"],
        bias: Float[Array, " out"] | None = None,
        *,
        rank: int | Sequence[int] | None = None,
        tolerance: float | None = None,
        in_factors: Sequence[int] | None = None,
        out_factors: Sequence[int] | None = None,
        n_cores: int = 4,
        path: TTPath = "auto",
    ) -> "TTLinear":
        """TT-SVD of a dense ``weight`` (out, in), truncated to ``rank`` and/or ``tolerance``
        (relative Frobenius error); see ``tt_svd``. ``bias`` is copied (``None``: no bias).
        """
        out_size, in_size = weight.shape
        out_factors, in_factors = _resolve_factors(out_size, out_factors, in_size, in_factors, n_cores)
        padding = ((0, math.prod(out_factors) - out_size), (0, math.prod(in_factors) - in_size))
        cores = tt_svd(jnp.pad(weight, padding), out_factors, in_factors, rank=rank, tolerance=tolerance)
        structure = eqx.filter_eval_shape(  # the module without sampling an initialisation
            cls,
            in_size,
            out_size,
            key=jax.random.key(0),
            rank=[core.shape[3] for core in cores[:-1]],
            in_factors=in_factors,
            out_factors=out_factors,
            use_bias=bias is not None,
            path=path,
            dtype=weight.dtype,
        )
        layer = eqx.tree_at(lambda m: m.cores, structure, cores)
        return layer if bias is None else eqx.tree_at(lambda m: m.bias, layer, jnp.asarray(bias, weight.dtype))

    @property
    def ranks(self) -> tuple[int, ...]:
        """Inner TT ranks ``(r_1, ..., r_{L-1})``."""
        return tuple(core.shape[3] for core in self.cores[:-1])

    def to_dense(self) -> Float[Array, "out in"]:
        """The full weight ``W`` of shape (out, in) (padding rows and columns dropped)."""
        return cores_to_dense(self.cores)[: self.out_size, : self.in_size]

    def columns(self, index: Array) -> Float[Array, "*index out"]:
        return self.to_dense().T[index]

    def __call__(self, z: Float[Array, "n in"]) -> Float[Array, "n out"]:
        dense = self.path == "dense" or (self.path == "auto" and z.shape[0] >= AUTO_DENSE_MIN_BATCH)
        if dense:
            out = z @ self.to_dense().T
        else:
            pad = math.prod(self.in_factors) - self.in_size  # zero inputs for the padded columns
            out = _contract(self.cores, jnp.pad(z, ((0, 0), (0, pad))))[:, : self.out_size]
        return out if self.bias is None else out + jnp.broadcast_to(self.bias, out.shape)
