"""Problem specification: validation of a problem mapping (from YAML or a Python module).

A problem file is data: YAML read with the safe loader, expressions parsed by the whitelist
interpreter in ``_parse``. Every error is a ``ProblemError`` naming the file, the field, the
offending value and the fix.
"""

import dataclasses
import difflib
import re
from pathlib import Path
from typing import Any, Literal, overload

import numpy as np
import sympy as sp
import yaml

from ..errors import ProblemError, key_name, preview
from ..safe_yaml import safe_load
from . import _vocabulary as vocab
from ._data import parse_data
from ._domain import Box, Domain
from ._domains import parse_domain, read_vector
from ._matrix import is_matrix, parse_matrix
from ._parse import ExpressionError, base_names, equation_names, parse_expression
from ._reference import check_inside, parse_reference
from ._unknowns import Unknown, parse_unknowns

MAX_DIMENSION = 100_000
TOP_KEYS = {
    "name",
    "title",
    "description",
    "dimension",
    "parameters",
    "time",
    "domain",
    "equation",
    "conditions",
    "exact",
    "source",
    "evaluation",
    "config",
    "reference",
    "unknowns",
    "data",
}
CONDITION_KINDS = ("initial", "terminal", "boundary", "initial_velocity", "neumann", "robin")
#: Kinds given on the spatial boundary: Dirichlet values, outward normal derivatives, a u + b u_n.
BOUNDARY_KINDS = ("boundary", "neumann", "robin")
#: The outward normal derivative in a Robin condition.
U_N = sp.Symbol("u_n", real=True)
SAMPLINGS = ("uniform", "sobol", "halton")


@dataclasses.dataclass(frozen=True)
class Problem:
    """A validated PDE problem ``residual(u)(x, t) = 0`` with its conditions.

    ``parameters`` maps names to floats or arrays of shape (dimension,); expressions keep
    parameters and ``d`` symbolic (the compiler substitutes them).
    """

    name: str
    title: str
    dimension: int
    parameters: dict[str, Any]
    time: tuple[float, float] | None
    domain: Domain
    residual: sp.Expr
    equation_text: str
    conditions: dict[str, sp.Expr]
    exact: sp.Expr | None
    source: sp.Expr | str | None  # expression, "from_exact", or None when f is unused
    evaluation: dict[str, Any]
    config: dict[str, Any]
    source_file: str | None = None
    raw: dict[str, Any] = dataclasses.field(default_factory=dict, repr=False)
    warnings: tuple[str, ...] = ()  # well-posedness concerns that do not stop a solve
    robin: tuple[sp.Expr, sp.Expr] | None = None  # (a, b) of a u + b u_n = conditions["robin"]
    reference: dict | None = None  # ``reference:`` without a closed form (see ``_reference``)
    unknowns: dict[str, Unknown] = dataclasses.field(default_factory=dict)  # learned numbers (``_unknowns``)
    data: dict | None = None  # observations of u, a misfit term of the loss (``_data``)

    @property
    def has_time(self) -> bool:
        return self.time is not None


class _Reader:
    """Validates one problem mapping; ``where`` is the file name used in error messages."""

    def __init__(self, data: dict, where: str | None):
        self.data = data
        self.where = where

    def fail(self, field: str, message: str) -> ProblemError:
        return ProblemError(field, message, source=self.where)

    def expression(self, field: str, value: Any, names: dict) -> sp.Expr:
        if isinstance(value, sp.Basic):
            expr = value  # from a Python problem module: check its symbols below
        else:
            try:
                expr = parse_expression(value, names)
            except ExpressionError as err:
                raise self.fail(field, f"{err} (got {preview(value)})") from None
        if isinstance(expr, sp.logic.boolalg.Boolean) and not isinstance(expr, sp.Expr):
            raise self.fail(field, f"{expr} is a condition, not a value")
        self._check_symbols(field, expr, names)
        return expr

    def _check_symbols(self, field: str, expr: sp.Basic, names: dict) -> None:
        allowed = {v for v in names.values() if isinstance(v, (sp.Symbol, sp.IndexedBase))}
        bound = set()
        for s in expr.atoms(sp.Sum, sp.Product):
            bound |= {limit[0] for limit in s.limits}
        for sym in expr.free_symbols:
            if isinstance(sym, sp.Indexed):
                continue
            if sym in vocab.INDICES.values() or sym.name.startswith("_i"):
                raise self.fail(field, f"the index {sym} is used outside a Sum; write Sum(..., ({sym}, 1, d))")
            if (
                sym not in allowed
                and sym not in bound
                and sym.name not in {b.name for b in allowed if isinstance(b, sp.IndexedBase)}
            ):
                raise self.fail(
                    field, f"unknown name {sym.name!r} here; allowed: {', '.join(sorted(str(a) for a in allowed))}"
                )
        for indexed in expr.atoms(sp.Indexed):
            if indexed.base not in allowed:
                raise self.fail(field, f"unknown vector {indexed.base} here")

    def mapping(self, field: str, value: Any, allowed: set[str] | None = None) -> dict:
        if not isinstance(value, dict):
            raise self.fail(field, f"expected a mapping, got {type(value).__name__} {preview(value)}")
        if allowed is not None:
            for key in value:
                if key not in allowed:
                    close = difflib.get_close_matches(str(key), allowed, n=1)
                    hint = f" (did you mean {close[0]!r}?)" if close else ""
                    raise self.fail(
                        f"{field}.{key_name(key)}" if field else key_name(key),
                        f"unknown key{hint}; allowed: {', '.join(sorted(allowed))}",
                    )
        return value

    @overload
    def number(self, field: str, value: Any, *, positive: bool = ..., integer: Literal[True]) -> int: ...

    @overload
    def number(self, field: str, value: Any, *, positive: bool = ..., integer: bool = ...) -> float: ...

    def number(self, field: str, value: Any, *, positive: bool = False, integer: bool = False) -> float:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise self.fail(field, f"expected a number, got {preview(value)}")
        if isinstance(value, int) and abs(value) > 1e300:  # beyond float range: np.isfinite cannot take it
            raise self.fail(field, f"{preview(value)} is out of range; give a number below 1e300")
        if isinstance(value, float) and not np.isfinite(value):  # first: int(inf) would raise OverflowError
            raise self.fail(field, f"expected a finite number, got {value!r}")
        if integer and int(value) != value:
            raise self.fail(field, f"expected an integer, got {value!r}")
        if positive and value <= 0:
            raise self.fail(field, f"must be > 0, got {value!r}")
        return int(value) if integer else float(value)


def _parameters(reader: _Reader, value: Any, dim: int) -> tuple[dict[str, Any], dict[str, Any]]:
    """Returns (values, symbols): scalars -> float / Symbol, vectors -> (dim,) array / IndexedBase,
    matrices -> (dim, k) array or ``Gram`` / IndexedBase with a shape (``_matrix``)."""
    spec = reader.mapping("parameters", value or {})
    values: dict[str, Any] = {}
    symbols: dict[str, Any] = {}
    for name, raw in spec.items():
        field = f"parameters.{key_name(name)}"
        if not isinstance(name, str) or not name.isidentifier() or name.startswith("_"):
            raise reader.fail(field, "a parameter name is a plain identifier such as mu or r")
        if name in vocab.RESERVED:
            raise reader.fail(field, f"{name!r} is reserved (x, t, d, u, u_t, ..., functions); rename the parameter")
        if is_matrix(raw):
            values[name], symbols[name] = parse_matrix(reader, field, raw, dim, values)
        elif isinstance(raw, dict):
            reader.mapping(field, raw, {"normal", "uniform"})
            if len(raw) != 1:
                raise reader.fail(field, "give one of normal: {seed: N} or uniform: {seed: N}")
            ((law, opts),) = raw.items()
            opts = reader.mapping(f"{field}.{law}", opts or {}, {"seed", "scale", "low", "high"})
            rng = np.random.default_rng(_seed(reader, f"{field}.{law}.seed", opts.get("seed", 0)))
            if law == "normal":
                values[name] = reader.number(f"{field}.normal.scale", opts.get("scale", 1.0)) * rng.standard_normal(dim)
            else:
                low = reader.number(f"{field}.uniform.low", opts.get("low", 0.0))
                high = reader.number(f"{field}.uniform.high", opts.get("high", 1.0))
                if not high > low:
                    raise reader.fail(f"{field}.uniform.high", f"must exceed uniform.low ({low:g}), got {high:g}")
                values[name] = rng.uniform(low, high, dim)
            symbols[name] = sp.IndexedBase(name)
        elif isinstance(raw, list):
            values[name] = read_vector(reader, field, raw, dim)
            symbols[name] = sp.IndexedBase(name)
        else:
            values[name] = reader.number(field, raw)
            symbols[name] = sp.Symbol(name, real=True)
    return values, symbols


def _equation(reader: _Reader, text: Any, names: dict) -> sp.Expr:
    if isinstance(text, sp.Basic):
        expr = text.lhs - text.rhs if isinstance(text, sp.Equality) else text
        return reader.expression("equation", expr, names)
    if not isinstance(text, str):
        raise reader.fail("equation", f"expected a string such as 'u_t - lap_u = 0', got {preview(text)}")
    sides = [part for part in _split_equals(text)]
    if len(sides) > 2:
        raise reader.fail("equation", "has more than one '='; write one equation 'lhs = rhs'")
    lhs = reader.expression("equation", sides[0], names)
    rhs = reader.expression("equation", sides[1], names) if len(sides) == 2 else sp.Integer(0)
    return lhs - rhs


#: The evaluation set is held in memory as points x (dimension + 2) numbers: at most this many.
MAX_EVALUATION_NUMBERS = 250_000_000


def _evaluation_points(reader: _Reader, value: Any, dim: int) -> int:
    points = reader.number("evaluation.points", value, positive=True, integer=True)
    if points * (dim + 2) > MAX_EVALUATION_NUMBERS:
        most = MAX_EVALUATION_NUMBERS // (dim + 2)
        raise reader.fail(
            "evaluation.points",
            f"{points} points of dimension {dim} are too many to hold in memory; give at most {most}",
        )
    return points


def _seed(reader: _Reader, field: str, value: Any) -> int:
    seed = reader.number(field, value, integer=True)
    if not 0 <= seed < 2**32:
        raise reader.fail(field, f"a seed is an integer from 0 to 4294967295, got {seed}")
    return seed


def _split_equals(text: str) -> list[str]:
    parts, depth, start = [], 0, 0
    for i, ch in enumerate(text):
        depth += int(ch in "([")
        depth -= int(ch in ")]")
        if ch == "=" and depth == 0 and text[i - 1 : i] not in ("<", ">", "=", "!") and text[i + 1 : i + 2] != "=":
            parts.append(text[start:i])
            start = i + 1
    parts.append(text[start:])
    return parts


def _with_overrides(reader: _Reader, data: dict, overrides: dict) -> dict:
    """``data`` with the dimension and parameter values replaced by ``overrides``."""
    if "dimension" in overrides:
        data["dimension"] = overrides.pop("dimension")
    if overrides:
        params = dict(reader.mapping("parameters", data.get("parameters") or {}))
        for key, value in overrides.items():
            if key not in params:
                raise reader.fail(
                    f"parameters.{key_name(key)}",
                    f"cannot override an unknown parameter; known: {', '.join(sorted(params)) or 'none'}",
                )
            params[key] = value
        data["parameters"] = params
    return data


def _time(reader: _Reader, value: Any, base: dict, numeric: dict) -> tuple[float, float]:
    """``time: {start, end}`` -> (t0, t1); the bounds may use parameters."""
    spec = reader.mapping("time", value, {"start", "end"})
    bounds = []
    for key, default in (("start", 0.0), ("end", None)):
        if spec.get(key, default) is None:
            raise reader.fail(f"time.{key}", "missing; give the end time, e.g. end: 1")
        expr = reader.expression(f"time.{key}", spec.get(key, default), base).subs(numeric)
        if not expr.is_number or not expr.is_real:
            raise reader.fail(f"time.{key}", f"must evaluate to a number from the parameters, got {expr}")
        bounds.append(float(expr))
    if bounds[1] <= bounds[0]:
        raise reader.fail("time.end", f"must exceed time.start ({bounds[0]}), got {bounds[1]}")
    return bounds[0], bounds[1]


def _source(reader: _Reader, source: Any, residual: sp.Expr, exact: sp.Expr | None, base: dict):
    """``source:``: an expression, "from_exact", or None when the equation has no f."""
    uses_f = vocab.SOURCE in residual.free_symbols
    if uses_f and source is None:
        raise reader.fail("source", "the equation uses f: give source: <expression> or source: from_exact")
    if source is not None and not uses_f:
        raise reader.fail("source", "is given but the equation does not use f")
    if source == "from_exact":
        if exact is None:
            raise reader.fail("source", "from_exact needs the exact solution: add exact: <expression>")
        if sp.diff(residual, vocab.SOURCE, 2) != 0:
            raise reader.fail("equation", "from_exact needs an equation linear in f")
        return source
    return None if source is None else reader.expression("source", source, base)


def _observations(reader: _Reader, value: Any, unknowns: dict, source, **where) -> dict | None:
    """``data:`` (``_data``), required by ``unknowns:``; refuses a manufactured source with unknowns."""
    if unknowns and value is None:
        raise reader.fail(
            "data",
            f"missing: the unknowns ({', '.join(unknowns)}) are learned from observations "
            "of u; give data: {file: observations.csv}",
        )
    if unknowns and source == "from_exact":
        raise reader.fail(
            "source",
            "from_exact would make the source depend on the unknowns; give the source as an expression of x and t",
        )
    return parse_data(reader, value, **where)


def _conditions(
    reader: _Reader, value: Any, time, domain: Domain, base: dict
) -> tuple[dict[str, sp.Expr], tuple | None]:
    """Parses ``conditions:`` into (expressions by kind, Robin coefficients (a, b) or None);
    refuses kinds the time interval or the domain cannot carry."""
    conditions, robin = {}, None
    cond_spec = reader.mapping("conditions", value or {}, set(CONDITION_KINDS))
    for kind, text in cond_spec.items():
        if kind not in BOUNDARY_KINDS and time is None:
            raise reader.fail(f"conditions.{kind}", "needs a time interval; add time: {start: 0, end: 1}")
        if kind in BOUNDARY_KINDS and not domain.bounded:
            raise reader.fail(
                f"conditions.{kind}",
                "a whole-space domain has no boundary; drop the boundary "
                "condition (a Cauchy problem needs only initial or terminal data)",
            )
        if kind == "boundary" and isinstance(text, dict):
            conditions[kind] = _box_faces(reader, text, domain, base)
        elif kind == "robin":
            conditions[kind], *robin = _robin(reader, text, base)
        else:
            conditions[kind] = reader.expression(f"conditions.{kind}", text, base)
    if "initial" in conditions and "terminal" in conditions:
        raise reader.fail("conditions", "give an initial or a terminal condition, not both")
    given = [k for k in BOUNDARY_KINDS if k in cond_spec]
    if len(given) > 1:
        raise reader.fail(
            f"conditions.{given[1]}",
            f"give one kind of boundary data (boundary:, neumann: or robin:), not {' and '.join(given)}",
        )
    if "initial_velocity" in conditions and "initial" not in conditions:
        raise reader.fail(
            "conditions.initial_velocity", "needs the initial value too; add initial: <u at the start time>"
        )
    if time is None and not domain.bounded:
        raise reader.fail(
            "time",
            "a whole-space domain is for initial- or terminal-value (Cauchy) problems; "
            "add time: {start: 0, end: 1} and an initial or terminal condition",
        )
    if time is not None and not ({"initial", "terminal"} & set(conditions)):
        raise reader.fail("conditions", "missing an initial or terminal condition for a time-dependent problem")
    if time is None and not set(BOUNDARY_KINDS) & set(conditions):
        raise reader.fail(
            "conditions.boundary",
            "missing; a stationary problem needs a boundary condition "
            "(boundary: <values> or neumann: <outward normal derivative>)",
        )
    return conditions, None if robin is None else tuple(robin)


def _robin(reader: _Reader, text: Any, base: dict) -> tuple[sp.Expr, sp.Expr, sp.Expr]:
    """``robin: "a u + b u_n = g"`` (linear in u and u_n, b != 0) -> (g, a, b), where u_n is the
    outward normal derivative; a, b, g may depend on x and t."""
    field = "conditions.robin"
    names = {**base, "u": vocab.SCALAR_OPERATORS["u"], "u_n": U_N}
    if not isinstance(text, str):
        raise reader.fail(field, f"expected an equation such as 'u_n + 2 * u = 0', got {preview(text)}")
    sides = _split_equals(text)
    if len(sides) > 2:
        raise reader.fail(field, "has more than one '='; write one equation 'a * u + b * u_n = g'")
    expr = reader.expression(field, sides[0], names) - (
        reader.expression(field, sides[1], names) if len(sides) == 2 else 0
    )
    u = vocab.SCALAR_OPERATORS["u"]
    a, b = sp.diff(expr, u), sp.diff(expr, U_N)
    if a.has(u, U_N) or b.has(u, U_N):
        raise reader.fail(field, f"must be linear in u and u_n (a * u + b * u_n = g), got {text!r}")
    if b == 0:
        raise reader.fail(field, "has no u_n (the outward normal derivative): that is Dirichlet data, give boundary:")
    return -expr.subs({u: 0, U_N: 0}), a, b


def _box_faces(reader: _Reader, spec: dict, domain: Domain, base: dict) -> sp.Expr:
    """Per-face Dirichlet data on a box, ``{low_1: expr, high_2: expr, ..., default: expr}``, as one
    Piecewise: on the plane x_i = low_i (within 1e-9 of the width) the data of face low_i, ...,
    elsewhere ``default``. Data of faces that meet must agree on their common edge."""
    field = "conditions.boundary"
    if not isinstance(domain, Box):
        raise reader.fail(field, "per-face data (low_<i>, high_<i>) are for a box domain; give one expression")
    pieces = []
    for key, text in spec.items():
        if key == "default":
            continue
        match = re.fullmatch(r"(low|high)_([0-9]+)", str(key))
        if not match or not 1 <= int(match[2]) <= domain.dim:
            raise reader.fail(
                f"{field}.{key_name(key)}",
                f"unknown face; name a face low_<i> or high_<i> with i in "
                f"1..{domain.dim} (low_1 is the face x[1] = domain.low[1]), or give default: <expression>",
            )
        i = int(match[2])
        plane = float((domain.low if match[1] == "low" else domain.high)[i - 1])
        tolerance = 1e-9 * float(domain.high[i - 1] - domain.low[i - 1])
        expr = reader.expression(f"{field}.{key}", text, base)
        pieces.append((expr, sp.Abs(vocab.X[i] - plane) <= tolerance))
    if "default" in spec:
        pieces.append((reader.expression(f"{field}.default", spec["default"], base), sp.true))
    elif len(pieces) < 2 * domain.dim:
        raise reader.fail(
            f"{field}.default",
            f"missing: {2 * domain.dim - len(pieces)} of the {2 * domain.dim} "
            "faces have no data; give them (low_<i>: ..., high_<i>: ...) or default: <expression>",
        )
    else:
        pieces[-1] = (pieces[-1][0], sp.true)  # every face is listed
    return sp.Piecewise(*pieces)


def _well_posedness(reader: _Reader, conditions: dict, residual: sp.Expr, domain: Domain) -> tuple[str, ...]:
    """Refuses a problem second order in time without its initial velocity (or with one it cannot
    use); returns warnings for a parabolic problem on a bounded domain without lateral data."""
    ops = vocab.operators_in(residual)
    if "u_tt" in ops and "terminal" in conditions:
        raise reader.fail(
            "conditions.terminal",
            "the equation is second order in time (u_tt): give initial "
            "and initial_velocity data at the start time instead of terminal data",
        )
    if "u_tt" in ops and "initial_velocity" not in conditions:
        raise reader.fail(
            "conditions.initial_velocity",
            "missing: the equation is second order in time (u_tt), "
            "so u at the start time alone does not determine the solution; add initial_velocity: "
            "<u_t at the start time>, e.g. initial_velocity: '0'",
        )
    if "u_tt" not in ops and "initial_velocity" in conditions:
        raise reader.fail(
            "conditions.initial_velocity",
            "is for equations second order in time (with u_tt); this equation has none: drop initial_velocity",
        )
    if "neumann" in conditions and "boundary" not in conditions and "u" not in ops and not {"u_t", "u_tt"} & ops:
        return (
            "conditions.neumann: with Neumann data only and no u term in the equation, the solution is "
            "determined up to an additive constant (and exists only for compatible data); add a u term "
            "or Dirichlet data, or read the error report knowing that constant may be in it",
        )
    parabolic = "u_t" in ops and "u_tt" not in ops and ops & {"lap_u", "u_xx"}
    if parabolic and domain.bounded and not set(BOUNDARY_KINDS) & set(conditions):
        return (
            "conditions.boundary: a parabolic problem on a bounded domain without lateral boundary data is "
            "not well posed (the initial/terminal data do not determine the solution, and the residual loss "
            "can fall while the error grows); add conditions.boundary: <values on the boundary>, or pose "
            "it on all of R^d with domain: {type: whole_space, sampling: {normal: {mean: 0, std: 1}}}",
        )
    return ()


def problem_from_mapping(data: Any, *, where: str | None = None, overrides: dict | None = None) -> Problem:
    """Validates a problem mapping (YAML data or a Python module's ``PROBLEM``).

    ``overrides`` replaces ``dimension`` and parameter values (``{"dimension": 50, "r": 0.1}``).
    """
    reader = _Reader(data, where)
    if not isinstance(data, dict):
        raise reader.fail("<file>", f"a problem file is a mapping of fields, got {type(data).__name__}")
    reader.mapping("", data, TOP_KEYS)
    data = _with_overrides(reader, dict(data), dict(overrides or {}))

    name = _name(reader, data, where)
    dim = _dimension(reader, data)
    values, symbols = _parameters(reader, data.get("parameters"), dim)
    unknowns, unknown_symbols = parse_unknowns(reader, data.get("unknowns"), dim, set(values))
    base = base_names(symbols)
    numeric = {sym: values[n] for n, sym in symbols.items() if isinstance(sym, sp.Symbol)} | {vocab.DIM: dim}

    time = None if data.get("time") is None else _time(reader, data["time"], base, numeric)
    if "domain" not in data:
        raise reader.fail("domain", "missing; e.g. domain: {type: box, low: 0, high: 1}")
    domain = parse_domain(reader, data["domain"], dim)

    if "equation" not in data:
        raise reader.fail("equation", "missing; e.g. equation: 'u_t - lap_u = 0'")
    if time is None:
        base = {k: v for k, v in base.items() if k != "t"}
    eq_names = equation_names({**symbols, **unknown_symbols})
    if time is None:
        eq_names = {k: v for k, v in eq_names.items() if k not in ("t", "u_t", "u_tt")}
    residual = _equation(reader, data["equation"], eq_names)
    if not vocab.operators_in(residual) - {"u"}:
        raise reader.fail("equation", "uses no derivative of u (u_t, u_x[i], lap_u, grad_u_sq, ...); this is not a PDE")

    solution = _conditions_and_data(reader, data, residual, unknowns, dim=dim, time=time, domain=domain, base=base)
    config = reader.mapping("config", data.get("config") or {})
    title = data.get("title") or data.get("description") or name
    if not isinstance(title, str):
        raise reader.fail("title" if data.get("title") else "description", f"expected text, got {preview(title)}")
    equation_text = data["equation"] if isinstance(data["equation"], str) else str(residual) + " = 0"
    return Problem(
        name=name,
        title=str(title),
        dimension=dim,
        parameters=values,
        time=time,
        domain=domain,
        residual=residual,
        equation_text=equation_text,
        config=config,
        source_file=where,
        raw=data,
        unknowns=unknowns,
        **solution,
    )


def _name(reader: _Reader, data: dict, where: str | None) -> str:
    """The problem's ``name``, default the file's stem."""
    name = data.get("name") or (Path(where).stem if where else "problem")
    if not isinstance(name, str) or not name.replace("-", "_").isidentifier():
        raise reader.fail("name", f"must be a plain name (letters, digits, _ or -), got {preview(name)}")
    return name


def _dimension(reader: _Reader, data: dict) -> int:
    """The number of space dimensions, required, at most ``MAX_DIMENSION``."""
    if "dimension" not in data:
        raise reader.fail("dimension", "missing; give the number of space dimensions, e.g. dimension: 20")
    dim = reader.number("dimension", data["dimension"], positive=True, integer=True)
    if dim > MAX_DIMENSION:
        raise reader.fail("dimension", f"{dim} exceeds the supported maximum {MAX_DIMENSION}")
    return dim


def _conditions_and_data(
    reader: _Reader, data: dict, residual, unknowns, *, dim: int, time, domain: Domain, base: dict
) -> dict[str, Any]:
    """The ``Problem`` fields on what pins the solution down: its conditions (and the well-posedness warnings
    on them), exact solution, source, observations, evaluation and reference."""
    conditions, robin = _conditions(reader, data.get("conditions"), time, domain, base)
    warnings = _well_posedness(reader, conditions, residual, domain)
    exact = None if data.get("exact") is None else reader.expression("exact", data["exact"], base)
    source = _source(reader, data.get("source"), residual, exact, base)
    observed = _observations(reader, data.get("data"), unknowns, source, dim=dim, time=time, domain=domain)
    evaluation = _evaluation(reader, data.get("evaluation"), dim, time, domain)
    reference = parse_reference(
        reader,
        data.get("reference"),
        dim=dim,
        time=time,
        domain=domain,
        has_exact=exact is not None,
        max_numbers=MAX_EVALUATION_NUMBERS,
    )
    return {
        "conditions": conditions,
        "robin": robin,
        "warnings": warnings,
        "exact": exact,
        "source": source,
        "data": observed,
        "evaluation": evaluation,
        "reference": reference,
    }


def _evaluation(reader: _Reader, value: Any, dim: int, time, domain: Domain) -> dict:
    """``evaluation:`` {points, sampling, seed, slice, units, at} with their defaults."""
    evaluation = reader.mapping("evaluation", value or {}, {"points", "sampling", "seed", "slice", "units", "at"})
    evaluation = {
        "points": _evaluation_points(reader, evaluation.get("points", 10_000), dim),
        "sampling": evaluation.get("sampling", "uniform"),
        "seed": _seed(reader, "evaluation.seed", evaluation.get("seed", 1234)),
        "slice": _slice_option(reader, evaluation.get("slice"), dim, time),
        "units": {
            k: str(v)
            for k, v in reader.mapping("evaluation.units", evaluation.get("units") or {}, {"x", "t", "u"}).items()
        },
        "at": _evaluation_at(reader, evaluation.get("at"), dim, time, domain),
    }
    if evaluation["sampling"] not in SAMPLINGS:
        raise reader.fail(
            "evaluation.sampling", f"unknown sampling {preview(evaluation['sampling'])}; choose {', '.join(SAMPLINGS)}"
        )
    return evaluation


#: ``evaluation.at``: at most this many (point, time) pairs.
MAX_EVALUATION_AT = 10_000


def _evaluation_at(reader: _Reader, value: Any, dim: int, time, domain: Domain) -> dict | None:
    """``evaluation.at``: {points: [point, ...] (each d numbers, or one for every component),
    times: [...] (time-dependent problems; default the start time)}, every point paired with every
    time. Returns {"x" (m, d), "t" (k,) or None}; None when absent."""
    if value is None:
        return None
    spec = reader.mapping("evaluation.at", value, {"points", "times"})
    points = spec.get("points")
    if not isinstance(points, list) or not points:
        example = "{at: {points: [0, 0.5]" + (f", times: [{time[0]:g}]" if time else "") + "}}"
        raise reader.fail(
            "evaluation.at.points",
            f"missing or empty; give a list of points (each {dim} numbers, or "
            f"one number for every component), e.g. evaluation: {example}",
        )
    times = _evaluation_at_times(reader, spec.get("times"), time)
    n_times = 1 if times is None else len(times)
    most = min(MAX_EVALUATION_AT, MAX_EVALUATION_NUMBERS // (dim + 2))
    if len(points) * n_times > most:
        raise reader.fail(
            "evaluation.at",
            f"{len(points)} points x {n_times} times are {len(points) * n_times} "
            f"evaluations; give at most {most} (fewer points or times)",
        )
    x = np.array([read_vector(reader, f"evaluation.at.points[{i}]", p, dim) for i, p in enumerate(points)])
    check_inside(reader, "evaluation.at.points", x, domain)
    return {"x": x, "t": times}


def _evaluation_at_times(reader: _Reader, value: Any, time) -> np.ndarray | None:
    """``evaluation.at.times``: a list of times in the time interval (default its start); None without time."""
    if time is None:
        if value is not None:
            raise reader.fail("evaluation.at.times", "the problem has no time: drop times")
        return None
    if value is None:
        return np.array([time[0]])
    if not isinstance(value, list) or not value:
        raise reader.fail(
            "evaluation.at.times", f"expected a list of times in [{time[0]:g}, {time[1]:g}], got {preview(value)}"
        )
    times = np.array([reader.number(f"evaluation.at.times[{i}]", v) for i, v in enumerate(value)])
    outside = np.flatnonzero((times < time[0] - 1e-12) | (times > time[1] + 1e-12))
    if outside.size:
        raise reader.fail(
            f"evaluation.at.times[{outside[0]}]",
            f"{times[outside[0]]:g} is outside the time interval [{time[0]:g}, {time[1]:g}]",
        )
    return times


def _slice_option(reader: _Reader, value: Any, dim: int, time) -> dict:
    """``evaluation.slice``: {axes: [i, j] (1-based components, or t), at: center | number | list
    of d numbers (the fixed coordinates), times: count or list, points: per axis (>= 2)}."""
    spec = dict(reader.mapping("evaluation.slice", value or {}, {"axes", "at", "times", "points"}))
    axes = spec.get("axes")
    if axes is not None:
        valid = (
            isinstance(axes, list)
            and len(axes) == 2
            and len(set(map(str, axes))) == 2
            and all(
                (a == "t" and time is not None) or (isinstance(a, int) and not isinstance(a, bool) and 1 <= a <= dim)
                for a in axes
            )
        )
        if not valid:
            raise reader.fail(
                "evaluation.slice.axes",
                f"expected two different axes among 1..{dim}"
                f"{' or t' if time is not None else ''}, e.g. [1, 2]; got {preview(axes)}",
            )
    at = spec.get("at", "center")
    if at != "center":
        values = [at] if isinstance(at, (int, float)) else at
        if not isinstance(values, list) or len(values) not in (1, dim):
            raise reader.fail(
                "evaluation.slice.at", f"expected center, a number or {dim} numbers, got {str(at)[:40]!r}"
            )
        spec["at"] = [reader.number("evaluation.slice.at", v) for v in values]
    if "points" in spec:
        spec["points"] = reader.number("evaluation.slice.points", spec["points"], positive=True, integer=True)
        if not 2 <= spec["points"] <= 4096:
            raise reader.fail("evaluation.slice.points", f"must be between 2 and 4096, got {spec['points']}")
    times = spec.pop("times", None)  # null: the default, as when absent
    if times is not None and not isinstance(times, list):
        spec["times"] = reader.number("evaluation.slice.times", times, positive=True, integer=True)
    elif times is not None:
        spec["times"] = [reader.number("evaluation.slice.times", v) for v in times]
    return spec


def load_problem(path: str | Path, overrides: dict | None = None) -> Problem:
    """Reads a problem file: YAML (data only, safe loader) or a Python module defining ``PROBLEM``.

    A ``.py`` file is code the user chose to run: it is executed like any script. YAML is never
    executed. ``overrides`` replaces the dimension or parameter values.
    """
    path = Path(path)
    where = str(path)
    if path.is_dir():
        raise ProblemError(
            "<file>", "is a folder; give a problem file (.yaml or .py) such as problems/hjb20.yaml", source=where
        )
    if not path.is_file():
        raise ProblemError("<file>", "not found; `pdesolve list` shows the shipped problems", source=where)
    if path.suffix == ".py":
        namespace = _run_problem_module(path)
        if "PROBLEM" not in namespace:
            raise ProblemError("PROBLEM", "a Python problem module must define PROBLEM = {...}", source=where)
        return problem_from_mapping(namespace["PROBLEM"], where=where, overrides=overrides)
    if path.suffix not in (".yaml", ".yml"):
        raise ProblemError("<file>", f"unknown file type {path.suffix!r}; use .yaml or .py", source=where)
    try:
        text = path.read_text()
    except (OSError, UnicodeDecodeError) as err:
        raise ProblemError("<file>", f"cannot be read: {err}", source=where) from None
    try:
        data = safe_load(text)
    except yaml.YAMLError as err:
        raise ProblemError("<file>", f"not valid YAML: {' '.join(str(err).split())[:160]}", source=where) from None
    except RecursionError:
        raise ProblemError("<file>", "YAML nested too deeply", source=where) from None
    return problem_from_mapping(data, where=where, overrides=overrides)


def _run_problem_module(path: Path) -> dict:
    import runpy

    try:
        return runpy.run_path(str(path), run_name="pdesolve_problem")
    except Exception as err:  # the module's own failure (an import it lacks, a bug): its error, not ours
        raise ProblemError(
            "<file>",
            f"the Python problem module failed: {type(err).__name__}: "
            f"{preview(str(err))}; run it with python to see where",
            source=str(path),
        ) from None
