"""Hessian entries ``u_xx[i, j]`` in an equation, rewritten as second derivatives along directions.

A contraction ``Sum(c * C[i, j] * g(i) * g(j) * u_xx[i, j], (i, 1, d), (j, 1, d))`` (C free of x
and t, g any expression of i, x and t, c free of i and j) equals
``c * sum_m w_m v_m^T (hess u) v_m`` with ``v_m = g(x, t) * l_m`` for any factorisation
``C_sym = sum_m w_m l_m l_m^T`` of the symmetric part of C: the columns of a Gram parameter's
factor (``A: {gram: S}``, w = 1), or the eigenvectors of C (w its nonzero eigenvalues). A fixed
entry ``u_xx[a, b]`` is ``(D_{e_a+e_b} - D_{e_a-e_b}) / 4``. Each contraction becomes one scalar
operator, a ``SecondDirections`` in the compiled problem's ``needs``: an engine evaluates k
directional second derivatives per point (finite differences: 2k + 1 nodes, cost linear in d).
"""

import dataclasses
from collections.abc import Callable

import jax
import jax.numpy as jnp
import numpy as np
import sympy as sp
from jaxtyping import Array, Float, PRNGKeyArray

from . import _vocabulary as vocab


@dataclasses.dataclass(frozen=True, eq=False, repr=False)
class SecondDirections:
    """The operator ``sum_m weights[m] v_m^T (hess u) v_m``, ``v_m(x, t) = scale(x, t) * columns[:, m]``.

    ``name``: the operator's key in the engines' output (a scalar per point, like ``lap_u``);
    ``scale``: None (constant directions) or ``(x (n, d), t (n,)) -> (n, d)``; ``text``: what the
    equation wrote. Hashed by identity: it sits in ``needs`` beside the operator names.
    """

    name: str
    columns: np.ndarray  # (d, k)
    weights: np.ndarray  # (k,)
    scale: Callable | None
    text: str

    def __str__(self) -> str:
        kind = "x-dependent" if self.scale is not None else "constant"
        return f"{self.text} ({self.rank} {kind} directions)"

    __repr__ = __str__

    @property
    def rank(self) -> int:
        return self.columns.shape[1]

    def _scaled(self, v: Float[Array, "n k d"], x, t) -> Float[Array, "n k d"]:
        return v if self.scale is None else v * self.scale(x, t)[:, None, :]

    def directions(self, x: Float[Array, "n d"], t: Float[Array, " n"]) -> Float[Array, "n k d"]:
        """The k directions at each point."""
        return self._scaled(
            jnp.broadcast_to(jnp.asarray(self.columns.T, x.dtype), (x.shape[0], *self.columns.T.shape)), x, t
        )

    def count(self, samples: int | None) -> int:
        """Directions per evaluation: the rank, or ``samples`` random ones per sign of the weights."""
        if samples is None or samples >= self.rank:
            return self.rank
        return samples * (int(np.any(self.weights > 0)) + int(np.any(self.weights < 0)))

    def sample(self, key: PRNGKeyArray, x, t, samples: int) -> tuple[Float[Array, "n m d"], Float[Array, " m"]]:
        """Hutchinson directions and weights, an unbiased estimate of the operator: for each sign of
        the weights, ``samples`` directions ``B z`` per point with ``B = columns sqrt(|w|)`` and
        Rademacher ``z`` (E[z z^T] = I), weight +-1 / samples."""
        parts, weights = [], []
        for sign, key_ in zip((1.0, -1.0), jax.random.split(key)):
            chosen = sign * self.weights > 0
            if not np.any(chosen):
                continue
            factor = jnp.asarray(self.columns[:, chosen] * np.sqrt(np.abs(self.weights[chosen])), x.dtype)
            z = jax.random.rademacher(key_, (x.shape[0], samples, factor.shape[1]), x.dtype)
            parts.append(z @ factor.T)
            weights.append(np.full(samples, sign / samples))
        return self._scaled(jnp.concatenate(parts, axis=1), x, t), jnp.asarray(np.concatenate(weights), x.dtype)


def directions_in(needs) -> list[SecondDirections]:
    """The Hessian contractions among ``needs`` (the rest are operator names)."""
    return [n for n in needs if isinstance(n, SecondDirections)]


def names_of(needs) -> list[str]:
    """Printable operator names of ``needs``, sorted."""
    return sorted(str(n) for n in needs)


@dataclasses.dataclass(frozen=True)
class Contraction:
    """One Hessian term found in an equation, symbolically: ``sum_ij C[i, j] g(i) g(j) u_xx[i, j]``
    (``entries`` None), or a fixed entry ``u_xx[a, b]`` (``entries = (a, b)``)."""

    symbol: sp.Symbol
    text: str
    coefficient: sp.Expr | None = None  # C in the indices i, j
    scale: sp.Expr | None = None  # g in the index i (1 when absent)
    indices: tuple[sp.Symbol, sp.Symbol] | None = None
    entries: tuple[sp.Expr, sp.Expr] | None = None


class HessianError(ValueError):
    """A Hessian entry in a form the compiler cannot turn into directions."""


FORM = "write Sum(C[i, j] * g(i) * g(j) * u_xx[i, j], (i, 1, d), (j, 1, d)) with C free of x and t"


def _two_index(expr: sp.Basic) -> list[sp.Indexed]:
    return [a for a in expr.atoms(sp.Indexed) if a.base == vocab.HESSIAN and len(a.indices) == 2]


def split_hessian(residual: sp.Expr) -> tuple[sp.Expr, list[Contraction]]:
    """``residual`` with each Hessian contraction and fixed entry replaced by a fresh scalar symbol,
    and the contractions found; raises HessianError for other uses of ``u_xx[i, j]``."""
    found: list[Contraction] = []
    replacements = {}
    for total in sorted(residual.atoms(sp.Sum), key=sp.default_sort_key):
        if _two_index(total) and not any(
            total in s.args[0].atoms(sp.Sum) for s in residual.atoms(sp.Sum) if s != total
        ):
            replacements[total] = _contraction(total, found)
    residual = residual.xreplace(replacements)
    for entry in sorted(_two_index(residual), key=sp.default_sort_key):
        if entry.free_symbols & set(vocab.INDICES.values()) or any(
            not a.is_Integer and a != vocab.DIM and a.free_symbols - {vocab.DIM} for a in entry.indices
        ):
            raise HessianError(f"{entry} inside a Sum over one index is not supported; {FORM}")
        symbol = sp.Symbol(f"_hess{len(found)}", real=True)
        found.append(Contraction(symbol, str(entry), entries=tuple(entry.indices)))
        residual = residual.xreplace({entry: symbol})
    return residual, found


def _flatten(total: sp.Sum) -> tuple[sp.Expr, list[tuple]]:
    """The term and the limits of ``Sum(Sum(term, ...), ...)``."""
    term, limits = total.function, list(total.limits)
    while isinstance(term, sp.Sum):
        limits = list(term.limits) + limits
        term = term.function
    return term, limits


def _contraction(total: sp.Sum, found: list[Contraction]) -> sp.Expr:
    """The replacement of one Sum over two indices whose terms hold ``u_xx[i, j]``."""
    term, limits = _flatten(total)
    if len(limits) != 2:
        raise HessianError(f"u_xx[i, j] must be summed over exactly its two indices; {FORM}")
    (i, a1, b1), (j, a2, b2) = limits
    if not all(sp.sympify(a) == 1 and sp.sympify(b) == vocab.DIM for a, b in ((a1, b1), (a2, b2))):
        raise HessianError(f"a Hessian contraction sums i and j over 1..d; {FORM}")
    out = sp.Integer(0)
    for piece in sp.Add.make_args(sp.expand(term)):
        entries = _two_index(piece)
        if not entries:
            raise HessianError(f"the term {piece} of a Hessian contraction has no u_xx[i, j]: sum it separately")
        entry = entries[0]
        if len(entries) > 1 or set(entry.indices) != {i, j}:
            raise HessianError(f"{piece}: one u_xx[i, j] per term, indexed by the Sum's two indices; {FORM}")
        outside, coefficient, scale_i, scale_j = _factors(piece / entry, i, j)
        if sp.simplify(scale_j.subs(j, i) - scale_i) != 0:
            raise HessianError(
                f"the coefficient of {entry} is not symmetric in form: g(i) = {scale_i} but g(j) = {scale_j}; {FORM}"
            )
        symbol = sp.Symbol(f"_hess{len(found)}", real=True)
        found.append(Contraction(symbol, str(sp.Sum(piece, *limits)), coefficient, scale_i, (i, j)))
        out += outside * symbol
    return out


def _factors(coefficient: sp.Expr, i: sp.Symbol, j: sp.Symbol) -> tuple[sp.Expr, sp.Expr, sp.Expr, sp.Expr]:
    """Splits ``coefficient`` into (factor free of i and j, C(i, j), g(i), h(j))."""
    outside: list[sp.Expr] = []
    joint: list[sp.Expr] = []
    left: list[sp.Expr] = []
    right: list[sp.Expr] = []
    for factor in sp.Mul.make_args(coefficient):
        uses = factor.free_symbols & {i, j}
        if uses == {i, j}:
            if factor.has(vocab.T) or any(a.base == vocab.X for a in factor.atoms(sp.Indexed)):
                raise HessianError(f"the factor {factor} depends on i, j and on x or t together; {FORM}")
            joint.append(factor)
        else:
            (left if uses == {i} else right if uses == {j} else outside).append(factor)
    return sp.Mul(*outside), sp.Mul(*joint), sp.Mul(*left), sp.Mul(*right)
