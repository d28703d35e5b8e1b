"""Matrix parameters of a problem file: ``d x k`` arrays and Gram matrices ``A = S S^T``.

    parameters:
      S: {matrix: [[...], ...]}                                  # d rows of k numbers
      L: {matrix: {normal: {seed: 0, scale: 1, columns: 3}, rows: unit}}   # random, unit rows
      A: {gram: S}                                               # A = S S^T (d x d), kept as its factor

An entry is ``S[i, j]`` (1-based). A Gram matrix keeps its factor, so a Hessian contraction
``Sum(A[i, j] * u_xx[i, j], (i, 1, d), (j, 1, d))`` compiles to k directional second
derivatives along the columns of S; its dense entries are formed only when an expression reads them.
"""

import dataclasses
from typing import Any

import numpy as np
import sympy as sp

from ..errors import preview
from . import _vocabulary as vocab

KEYS = {"matrix", "gram", "rows"}
#: Most numbers a matrix parameter may hold (a Gram matrix counts its factor).
MAX_MATRIX_NUMBERS = 50_000_000
EXAMPLE = "S: {matrix: {normal: {seed: 0, columns: 3}}} or S: {matrix: [[1, 0], [0, 1]]}"


@dataclasses.dataclass(frozen=True)
class Gram:
    """``A = factor factor^T``, shape (d, d), stored as its factor (d, k)."""

    factor: np.ndarray

    @property
    def shape(self) -> tuple[int, int]:
        return (self.factor.shape[0], self.factor.shape[0])

    def dense(self) -> np.ndarray:
        return self.factor @ self.factor.T


def is_matrix(raw: Any) -> bool:
    """Whether a parameter's raw value declares a matrix."""
    return isinstance(raw, dict) and bool({"matrix", "gram"} & set(raw))


def parse_matrix(reader, field: str, raw: dict, dim: int, values: dict) -> tuple[Any, sp.IndexedBase]:
    """(value, symbol) of a matrix parameter: an array (d, k) or a ``Gram``; ``values`` holds the
    parameters declared before it (a Gram names one of them)."""
    spec = reader.mapping(field, raw, KEYS)
    if ("matrix" in spec) == ("gram" in spec):
        raise reader.fail(field, f"give one of matrix: or gram:, e.g. {EXAMPLE}")
    if "gram" in spec:
        if "rows" in spec:
            raise reader.fail(f"{field}.rows", "is for matrix:; normalise the factor's rows there")
        source = spec["gram"]
        if not isinstance(source, str) or np.ndim(values.get(source, 0)) != 2 or isinstance(values.get(source), Gram):
            raise reader.fail(
                f"{field}.gram",
                f"names a d x k matrix parameter declared before it, got "
                f"{preview(source)}; e.g. S: {{matrix: ...}}, A: {{gram: S}}",
            )
        value: Gram | np.ndarray = Gram(np.asarray(values[source], dtype=float))
    else:
        matrix = _matrix(reader, f"{field}.matrix", spec["matrix"], dim)
        rows = spec.get("rows")
        if rows not in (None, "unit"):
            raise reader.fail(f"{field}.rows", f"unknown value {preview(rows)}; rows: unit scales each row to norm 1")
        if rows == "unit":
            norms = np.linalg.norm(matrix, axis=1, keepdims=True)
            if np.any(norms == 0):
                raise reader.fail(f"{field}.rows", "a zero row cannot be scaled to norm 1")
            matrix = matrix / norms
        value = matrix
    name = field.split(".", 1)[1]
    return value, sp.IndexedBase(name, shape=(vocab.DIM, value.shape[1]))


def _matrix(reader, field: str, raw: Any, dim: int) -> np.ndarray:
    """``[[...], ...]`` (d rows of k numbers) or ``{normal|uniform: {seed, columns, ...}}``."""
    if isinstance(raw, list):
        if len(raw) != dim or not all(isinstance(row, list) for row in raw):
            raise reader.fail(
                field, f"expected {dim} rows (one per dimension), each a list of k numbers; got {preview(raw)}"
            )
        widths = {len(row) for row in raw}
        if len(widths) != 1 or 0 in widths:
            raise reader.fail(field, f"rows of different lengths {sorted(widths)}; give k numbers in every row")
        if dim * widths.pop() > MAX_MATRIX_NUMBERS:
            raise reader.fail(field, f"more than {MAX_MATRIX_NUMBERS} numbers")
        return np.array(
            [[reader.number(f"{field}[{i}][{j}]", v) for j, v in enumerate(row)] for i, row in enumerate(raw)]
        )
    law = reader.mapping(field, raw, {"normal", "uniform"})
    if len(law) != 1:
        raise reader.fail(field, f"give a list of rows, or one of normal: or uniform:, e.g. {EXAMPLE}")
    ((kind, opts),) = law.items()
    opts = reader.mapping(f"{field}.{kind}", opts or {}, {"seed", "scale", "low", "high", "columns"})
    columns = reader.number(f"{field}.{kind}.columns", opts.get("columns", dim), positive=True, integer=True)
    if dim * columns > MAX_MATRIX_NUMBERS:
        raise reader.fail(f"{field}.{kind}.columns", f"{dim} x {columns} is more than {MAX_MATRIX_NUMBERS} numbers")
    seed = reader.number(f"{field}.{kind}.seed", opts.get("seed", 0), integer=True)
    if not 0 <= seed < 2**32:
        raise reader.fail(f"{field}.{kind}.seed", f"a seed is an integer from 0 to 4294967295, got {seed}")
    rng = np.random.default_rng(seed)
    if kind == "normal":
        return reader.number(f"{field}.normal.scale", opts.get("scale", 1.0)) * rng.standard_normal((dim, columns))
    low = reader.number(f"{field}.uniform.low", opts.get("low", 0.0))
    high = reader.number(f"{field}.uniform.high", opts.get("high", 1.0))
    if not high > low:
        raise reader.fail(f"{field}.uniform.high", f"must exceed uniform.low ({low:g}), got {high:g}")
    return rng.uniform(low, high, (dim, columns))
