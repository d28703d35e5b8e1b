"""``unknowns:`` of an inverse problem: numbers in the equation learned jointly with the network.

    unknowns:
      kappa: {init: 0.5, bounds: [0.01, 2], exact: 0.3}    # a scalar
      c: {init: [0, 0, ...], exact: [...]}                  # a vector of d components (or init: 0, vector: true)

An unknown is used in the equation like a parameter (a scalar ``kappa``, a vector ``c[i]``). The
solver moves an unconstrained number (``raw``); the value is ``lo + (hi - lo) sigmoid(raw)`` with
bounds, ``raw`` itself without. A smooth map rather than clipping: every step stays inside the bounds
and the unknown's Jacobian column never vanishes at a bound (a clipped one is flat there, so a
Gauss-Newton step could not move it back), at the price of a slower approach to a bound itself.
"""

import dataclasses
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
import sympy as sp

from ..errors import key_name, preview
from . import _vocabulary as vocab

UNKNOWN_KEYS = {"init", "bounds", "exact", "vector"}


@dataclasses.dataclass(frozen=True)
class Unknown:
    """One unknown: its start ``init`` (a float, or (d,) for a vector), ``bounds`` (lo, hi) or None,
    and the stated truth ``exact`` (same shape) or None."""

    name: str
    init: Any
    bounds: tuple[float, float] | None
    exact: Any = None

    @property
    def vector(self) -> bool:
        return np.ndim(self.init) == 1

    def raw_init(self) -> np.ndarray:
        """The unconstrained number whose ``value`` is ``init``."""
        init = np.asarray(self.init, dtype=float)
        if self.bounds is None:
            return init
        lo, hi = self.bounds
        share = (init - lo) / (hi - lo)
        return np.log(share) - np.log1p(-share)  # the logit

    def value(self, raw: jax.Array) -> jax.Array:
        """The unknown's value from its unconstrained number ``raw`` (same shape)."""
        if self.bounds is None:
            return raw
        lo, hi = self.bounds
        return lo + (hi - lo) * jax.nn.sigmoid(raw)


def unknown_values(unknowns: dict[str, Unknown], raw: dict[str, jax.Array] | None) -> dict[str, jax.Array]:
    """``{name: value}`` from the solver's unconstrained numbers ``raw`` (None: the starts ``init``)."""
    if raw is None:
        return {name: jnp.asarray(u.init) for name, u in unknowns.items()}
    return {name: u.value(raw[name]) for name, u in unknowns.items()}


def stated_values(unknowns: dict[str, Unknown]) -> dict[str, jax.Array] | None:
    """``{name: exact}`` when every unknown states its truth (the values at which an ``exact:``
    solution satisfies the equation), else None."""
    if any(u.exact is None for u in unknowns.values()):
        return None
    return {name: jnp.asarray(u.exact) for name, u in unknowns.items()}


def _numbers(reader, field: str, value: Any, dim: int, vector: bool) -> Any:
    """A float, or (d,) floats (a list of d numbers, or one number repeated when ``vector``)."""
    if isinstance(value, list):
        if len(value) != dim:
            raise reader.fail(field, f"has {len(value)} entries but dimension is {dim}; give {dim} numbers or one")
        return np.array([reader.number(f"{field}[{i}]", v) for i, v in enumerate(value)])
    number = reader.number(field, value)
    return np.full(dim, number) if vector else number


def _bounds(reader, field: str, value: Any) -> tuple[float, float] | None:
    if value is None:
        return None
    if not isinstance(value, list) or len(value) != 2:
        raise reader.fail(field, f"expected [lo, hi] (two numbers), got {preview(value)}")
    lo, hi = (reader.number(f"{field}[{i}]", v) for i, v in enumerate(value))
    if not hi > lo:
        raise reader.fail(field, f"hi must exceed lo, got [{lo:g}, {hi:g}]")
    return lo, hi


def _unknown(reader, field: str, name: str, spec: Any, dim: int) -> Unknown:
    spec = reader.mapping(field, spec, UNKNOWN_KEYS)
    if "init" not in spec:
        raise reader.fail(
            f"{field}.init", "missing; give the start value, e.g. init: 1.0 (a list of d numbers for a vector unknown)"
        )
    vector = spec.get("vector", False)
    if not isinstance(vector, bool):
        raise reader.fail(f"{field}.vector", f"expected true or false, got {preview(vector)}")
    init = _numbers(reader, f"{field}.init", spec["init"], dim, vector)
    vector = np.ndim(init) == 1
    bounds = _bounds(reader, f"{field}.bounds", spec.get("bounds"))
    exact = None if spec.get("exact") is None else _numbers(reader, f"{field}.exact", spec["exact"], dim, vector)
    if exact is not None and np.ndim(exact) != np.ndim(init):
        raise reader.fail(
            f"{field}.exact",
            f"is a {'vector' if np.ndim(exact) else 'number'} but init is a "
            f"{'vector' if vector else 'number'}; give both the same shape",
        )
    if bounds is not None:
        lo, hi = bounds
        if np.any(np.asarray(init) <= lo) or np.any(np.asarray(init) >= hi):
            raise reader.fail(
                f"{field}.init",
                f"{preview(np.asarray(init).tolist())} must lie strictly inside "
                f"bounds [{lo:g}, {hi:g}] (the bounds are reached only in the limit)",
            )
        if exact is not None and (np.any(np.asarray(exact) <= lo) or np.any(np.asarray(exact) >= hi)):
            raise reader.fail(
                f"{field}.exact",
                f"lies outside bounds [{lo:g}, {hi:g}]: the unknown could not reach it; widen the bounds",
            )
    return Unknown(name, init, bounds, exact)


def parse_unknowns(reader, value: Any, dim: int, taken: set[str]) -> tuple[dict[str, Unknown], dict[str, sp.Basic]]:
    """``(unknowns, symbols)``: each unknown and its symbol (a Symbol, or an IndexedBase for a vector).
    ``taken``: the parameter names, which an unknown may not reuse."""
    spec = reader.mapping("unknowns", value or {})
    unknowns, symbols = {}, {}
    for name, raw in spec.items():
        field = f"unknowns.{key_name(name)}"
        if not isinstance(name, str) or not name.isidentifier() or name.startswith("_"):
            raise reader.fail(field, "an unknown's name is a plain identifier such as kappa or k")
        if name in vocab.RESERVED:
            raise reader.fail(field, f"{name!r} is reserved (x, t, d, u, u_t, ..., functions); rename the unknown")
        if name in taken:
            raise reader.fail(
                field,
                f"{name!r} is also a parameter; a number is either known (parameters) or "
                "learned (unknowns), rename one",
            )
        unknowns[name] = _unknown(reader, field, name, raw, dim)
        symbols[name] = sp.IndexedBase(name) if unknowns[name].vector else sp.Symbol(name, real=True)
    return unknowns, symbols
