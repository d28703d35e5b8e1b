"""Compiles a validated Problem's sympy expressions into pure, jit- and vmap-able JAX functions.

Expressions are evaluated per point (x of shape (d,), t scalar, operator values scalars or
(d,) vectors) and vmapped over points. A ``Sum`` over an index evaluates its term once on the
integer array of index values and reduces it, so a 1000-d problem compiles like a 2-d one.
"""

import dataclasses
import functools
from collections.abc import Callable

import jax
import jax.numpy as jnp
import jax.scipy.special as jsp
import numpy as np
import sympy as sp
from jaxtyping import Array, Float

from ..errors import ProblemError
from . import _vocabulary as vocab
from ._derivatives import forward_operators
from ._hessian import Contraction, HessianError, SecondDirections, split_hessian
from ._matrix import Gram
from ._spec import Problem
from ._unknowns import unknown_values

_UNARY = {
    sp.sin: jnp.sin,
    sp.cos: jnp.cos,
    sp.tan: jnp.tan,
    sp.exp: jnp.exp,
    sp.log: jnp.log,
    sp.sinh: jnp.sinh,
    sp.cosh: jnp.cosh,
    sp.tanh: jnp.tanh,
    sp.asin: jnp.arcsin,
    sp.acos: jnp.arccos,
    sp.atan: jnp.arctan,
    sp.asinh: jnp.arcsinh,
    sp.acosh: jnp.arccosh,
    sp.atanh: jnp.arctanh,
    sp.erf: jsp.erf,
    sp.Abs: jnp.abs,
    sp.sign: jnp.sign,
    sp.floor: jnp.floor,
    sp.ceiling: jnp.ceil,
}
_RELATIONAL = {
    sp.StrictLessThan: jnp.less,
    sp.LessThan: jnp.less_equal,
    sp.StrictGreaterThan: jnp.greater,
    sp.GreaterThan: jnp.greater_equal,
}


#: Most terms one Sum may have (its index values are materialised as one array).
MAX_SUM_TERMS = 1_000_000


class CompileError(ValueError):
    """The expression cannot be compiled (e.g. an index out of range, a nested Sum)."""


@dataclasses.dataclass(frozen=True)
class _Env:
    """Values visible to an expression at one point."""

    scalars: dict[str, Array]  # t, u, u_t, ..., scalar parameters, f
    vectors: dict[str, Array]  # x, u_x, u_xx, vector parameters: shape (d,)
    indices: dict[sp.Symbol, np.ndarray]  # Sum index -> its integer values (numpy)
    dim: int


#: What an expression evaluates to: a Python number, a numpy index array or a JAX array.
Value = Array | np.ndarray | float


def _index_values(expr: sp.Expr, env: _Env) -> np.ndarray | int:
    """Evaluates an integer index expression (e.g. i + 1, d - 1) with numpy."""
    if expr.is_Integer:
        return int(expr)
    if expr == vocab.DIM:
        return env.dim
    if isinstance(expr, sp.Symbol):
        if expr not in env.indices:
            raise CompileError(f"the index {expr} is used outside a Sum over it")
        return env.indices[expr]
    if isinstance(expr, sp.Add):
        return sum(_index_values(a, env) for a in expr.args)
    if isinstance(expr, sp.Mul):
        return functools.reduce(lambda a, b: a * b, (_index_values(a, env) for a in expr.args))
    raise CompileError(f"the index expression {expr} is not a sum or product of integers and indices")


#: Functions of any number of arguments, reduced pairwise from the left.
_NARY = (
    (sp.Add, jnp.add),
    (sp.Mul, jnp.multiply),
    (sp.Min, jnp.minimum),
    (sp.Max, jnp.maximum),
    (sp.And, jnp.logical_and),
    (sp.Or, jnp.logical_or),
)


def _unsupported(expr: sp.Basic) -> CompileError:
    """The error for an expression the compiler has no rule for."""
    return CompileError(f"{expr.func.__name__} is not supported by the compiler")


def _evaluate(expr: sp.Basic, env: _Env) -> Value:
    """The value of ``expr`` at one point of ``env``: a Python scalar, an index array or a JAX array."""
    if isinstance(expr, (sp.Number, sp.NumberSymbol, sp.logic.boolalg.BooleanAtom)):
        return _constant(expr)
    if isinstance(expr, sp.Symbol):
        return _named_value(expr, env)
    if isinstance(expr, sp.Indexed):
        return _components(expr, env)
    for kind, combine in _NARY:
        if isinstance(expr, kind):
            return functools.reduce(combine, (_evaluate(a, env) for a in expr.args))
    if isinstance(expr, sp.Pow):
        return _power(expr, env)
    if isinstance(expr, (sp.Sum, sp.Product)):
        return _evaluate_reduction(expr, env)
    if isinstance(expr, sp.Piecewise):
        return _piecewise(expr, env)
    return _function(expr, env)


def _constant(expr: sp.Basic) -> int | float | bool:
    """A number or truth value; integers of 2**53 or more as floats (they would overflow JAX's int64)."""
    if isinstance(expr, sp.Integer):
        value = int(expr)
        return value if abs(value) < 2**53 else float(value)
    if isinstance(expr, (sp.Rational, sp.Float)) or expr in (sp.pi, sp.E):
        return float(expr)
    if expr is sp.true or expr is sp.false:
        return bool(expr)
    raise _unsupported(expr)


def _named_value(expr: sp.Symbol, env: _Env) -> Array | np.ndarray | int:
    """A scalar of ``env`` (t, u, a parameter, ...), the values of a Sum index, or the dimension d."""
    if expr.name in env.scalars:
        return env.scalars[expr.name]
    if expr in env.indices:
        return env.indices[expr]
    if expr == vocab.DIM:
        return env.dim
    raise CompileError(f"no value for {expr}")


def _components(expr: sp.Indexed, env: _Env) -> Array:
    """Entries (1-based) of a vector or matrix of ``env``: one, or one per value of the Sum indices."""
    name = str(expr.base)
    if name not in env.vectors:
        raise CompileError(f"no vector named {name}")
    array = env.vectors[name]
    if len(expr.indices) != np.ndim(array):
        raise CompileError(f"{expr} takes {np.ndim(array)} index(es), got {len(expr.indices)}")
    positions = []
    for axis, one in enumerate(expr.indices):
        index = np.asarray(_index_values(one, env))
        size = np.shape(array)[axis]
        if np.min(index) < 1 or np.max(index) > size:
            raise CompileError(
                f"{expr} reaches entry {np.min(index) if np.min(index) < 1 else np.max(index)}, outside 1..{size}"
            )
        positions.append(index - 1)
    return array[tuple(positions)]


def _power(expr: sp.Pow, env: _Env) -> Array:
    """``base ** exponent``: square roots and integer powers by their own primitives."""
    base, exponent = expr.args
    if exponent == sp.Rational(1, 2):
        return jnp.sqrt(_evaluate(base, env))
    if exponent == -sp.Rational(1, 2):
        return jax.lax.rsqrt(jnp.asarray(_evaluate(base, env), dtype=float))
    if exponent.is_Integer:
        value = _evaluate(base, env)
        return jnp.asarray(value, dtype=jnp.result_type(float)) ** int(exponent)
    return jnp.power(_evaluate(base, env), _evaluate(exponent, env))


def _piecewise(expr: sp.Piecewise, env: _Env) -> Value:
    """The first piece whose condition holds; NaN where none does (sympy: undefined)."""
    last = expr.args[-1]
    result = _evaluate(last.expr, env)
    if last.cond is not sp.true:
        result = jnp.where(_evaluate(last.cond, env), result, jnp.nan)
    for piece in reversed(expr.args[:-1]):
        result = jnp.where(_evaluate(piece.cond, env), _evaluate(piece.expr, env), result)
    return result


def _function(expr: sp.Basic, env: _Env) -> Array:
    """atan2, Heaviside, comparisons, Not and the functions of one argument in ``_UNARY``."""
    if isinstance(expr, sp.atan2):
        return jnp.arctan2(_evaluate(expr.args[0], env), _evaluate(expr.args[1], env))
    if isinstance(expr, sp.Heaviside):
        at_zero = 0.5 if len(expr.args) < 2 else _evaluate(expr.args[1], env)
        return jnp.heaviside(_evaluate(expr.args[0], env), at_zero)
    if type(expr) in _RELATIONAL:
        return _RELATIONAL[type(expr)](_evaluate(expr.lhs, env), _evaluate(expr.rhs, env))
    if isinstance(expr, sp.Not):
        return jnp.logical_not(_evaluate(expr.args[0], env))
    if expr.func in _UNARY:
        return _UNARY[expr.func](_evaluate(expr.args[0], env))
    raise _unsupported(expr)


def _evaluate_reduction(expr: sp.Sum | sp.Product, env: _Env) -> Value:
    """A Sum or Product over its limits (the first is innermost); nested reductions broadcast: each
    index has its own array axis, so the term is evaluated once on the grid of index values."""
    reduce, empty = (jnp.sum, 0.0) if isinstance(expr, sp.Sum) else (jnp.prod, 1.0)
    *inner, (index, first, last) = expr.limits
    first, last = (_index_values(sp.sympify(b), env) for b in (first, last))
    if np.ndim(first) or np.ndim(last):
        raise CompileError(
            f"the bounds of the {type(expr).__name__} over {index} depend on another index; "
            "give bounds of integers and d only"
        )
    outer = {k: np.asarray(v)[..., None] for k, v in env.indices.items()}
    depth = max((v.ndim for v in outer.values()), default=1)
    count = max(int(last) - int(first) + 1, 0)
    shape = (1,) * (depth - 1) + (count,)
    if int(np.prod(np.broadcast_shapes(shape, *(v.shape for v in outer.values())), dtype=object)) > MAX_SUM_TERMS:
        raise CompileError(
            f"the {type(expr).__name__} over {index} from {first} to {last} has too many terms; "
            f"at most {MAX_SUM_TERMS} (with its enclosing reductions) are supported"
        )
    if count == 0:
        return empty
    grid = np.arange(int(first), int(last) + 1).reshape(shape)
    term = expr.function if not inner else type(expr)(expr.function, *inner)
    value = _evaluate(term, dataclasses.replace(env, indices={**outer, index: grid}))
    return reduce(jnp.broadcast_to(value, np.broadcast_shapes(jnp.shape(value), grid.shape)), axis=-1)


#: Batched functions of the compiled problem (n points).
PointFunction = Callable[[Float[Array, "n d"], Float[Array, " n"]], Float[Array, " n"]]


@dataclasses.dataclass(frozen=True)
class CompiledProblem:
    """Pure JAX functions of a Problem; every function takes a batch of n points.

    - ``residual(ops, x, t, f)``: ops maps operator names to values (OPERATOR_SHAPES).
    - ``conditions[kind](x, t)``, ``exact(x, t)``, ``source(x, t)``: values (n,).
    - ``robin``: the coefficients (a, b) of a Robin condition a u + b u_n = g, or None.
    - ``needs``: the operator names the residual reads, and a ``SecondDirections`` per Hessian
      contraction (its value is ``ops[that.name]``, a scalar per point).
    """

    problem: Problem
    needs: frozenset  # operator names, and a SecondDirections per Hessian contraction
    residual: Callable[..., Float[Array, " n"]]
    conditions: dict[str, PointFunction]
    exact: PointFunction | None
    source: PointFunction | None
    robin: tuple[PointFunction, PointFunction] | None = None
    terms: tuple = ()  # the residual's additive terms, each like ``residual`` (the scale of its round-off)


#: Largest dimension whose Gram parameters are also held as dense d x d matrices (their entries
#: A[i, j] readable in expressions), and whose dense Hessian coefficients are eigendecomposed.
MAX_DENSE_DIM = 5000


def _names(problem: Problem) -> tuple[dict, dict]:
    """Scalars, and arrays (vectors (d,), matrices (d, k), Gram matrices dense up to MAX_DENSE_DIM)."""
    scalars = {k: v for k, v in problem.parameters.items() if np.ndim(v) == 0 and not isinstance(v, Gram)}
    arrays = {k: np.asarray(v) for k, v in problem.parameters.items() if np.ndim(v) in (1, 2)}
    arrays |= {
        k: v.dense()
        for k, v in problem.parameters.items()
        if isinstance(v, Gram) and problem.dimension <= MAX_DENSE_DIM
    }
    return scalars, arrays


def _second_directions(c: Contraction, problem: Problem) -> SecondDirections:
    """The directions and weights of one Hessian contraction (see ``_hessian``)."""
    d = problem.dimension
    if c.entries is not None:
        a, b = (int(sp.sympify(e).subs(vocab.DIM, d)) for e in c.entries)
        if not (1 <= a <= d and 1 <= b <= d):
            raise CompileError(f"{c.text} is outside 1..{d}")
        eye = np.eye(d)
        if a == b:
            return SecondDirections(c.symbol.name, eye[:, [a - 1]], np.ones(1), None, c.text)
        columns = np.stack([eye[a - 1] + eye[b - 1], eye[a - 1] - eye[b - 1]], axis=1)
        return SecondDirections(c.symbol.name, columns, np.array([0.25, -0.25]), None, c.text)
    assert c.indices is not None and c.scale is not None  # set where entries is None (_hessian)
    columns, weights = _factorised(c, problem)
    scalars, arrays = _names(problem)
    i = c.indices[0]
    grid = np.arange(1, d + 1)
    if c.scale.has(vocab.T) or any(e.base == vocab.X for e in c.scale.atoms(sp.Indexed)):

        def at_point(x, t):
            env = _Env({**scalars, "t": t}, {**arrays, "x": x}, {i: grid}, d)
            return jnp.broadcast_to(jnp.asarray(_evaluate(c.scale, env), dtype=x.dtype), (d,))

        return SecondDirections(c.symbol.name, columns, weights, jax.vmap(at_point), c.text)
    scale = np.broadcast_to(np.asarray(_evaluate(c.scale, _Env(scalars, arrays, {i: grid}, d)), float), (d,))
    return SecondDirections(c.symbol.name, columns * scale[:, None], weights, None, c.text)


def _factorised(c: Contraction, problem: Problem) -> tuple[np.ndarray, np.ndarray]:
    """(columns (d, k), weights (k,)) with sum_m w_m l_m l_m^T the symmetric part of C: a Gram
    parameter's factor, or the eigenpairs of C with |eigenvalue| above 1e-12 of the largest."""
    assert c.indices is not None  # set where entries is None (_hessian)
    i, j = c.indices
    d = problem.dimension
    entry = c.coefficient
    if (
        isinstance(entry, sp.Indexed)
        and set(entry.indices) == {i, j}
        and isinstance(problem.parameters.get(str(entry.base)), Gram)
    ):
        factor = problem.parameters[str(entry.base)].factor
        return factor, np.ones(factor.shape[1])
    if d > MAX_DENSE_DIM:
        raise CompileError(
            f"the coefficient {entry} of u_xx[{i}, {j}] is a dense {d} x {d} matrix; above d = "
            f"{MAX_DENSE_DIM} give it as a Gram parameter (A: {{gram: S}}, S of d x k)"
        )
    scalars, arrays = _names(problem)
    grid = np.arange(1, d + 1)
    env = _Env(scalars, arrays, {i: grid[:, None], j: grid[None, :]}, d)
    matrix = np.broadcast_to(np.asarray(_evaluate(entry, env), dtype=np.float64), (d, d))
    values, vectors = np.linalg.eigh((matrix + matrix.T) / 2)
    keep = np.abs(values) > 1e-12 * max(np.max(np.abs(values)), np.finfo(float).tiny)
    return vectors[:, keep], values[keep]


def _point_function(expr: sp.Expr, problem: Problem) -> PointFunction:
    """(x (n,d), t (n,)) -> (n,) for an expression of x, t and parameters."""
    scalars, vectors = _names(problem)

    def at_point(x, t):
        env = _Env({**scalars, "t": t}, {**vectors, "x": x}, {}, problem.dimension)
        return jnp.asarray(_evaluate(expr, env), dtype=x.dtype)

    return jax.vmap(at_point)


def _residual_function(expr: sp.Expr, problem: Problem, hessians=()):
    scalars, vectors = _names(problem)
    scalar_ops = set(vocab.SCALAR_OPERATORS) | {h.name for h in hessians}
    start = unknown_values(problem.unknowns, None)

    def at_point(ops, x, t, f, unknowns):
        learned = {k: v for k, v in unknowns.items() if jnp.ndim(v) == 0}
        env = _Env(
            {**scalars, **learned, "t": t, "f": f, **{k: v for k, v in ops.items() if k in scalar_ops}},
            {
                **vectors,
                **{k: v for k, v in unknowns.items() if k not in learned},
                "x": x,
                **{k: v for k, v in ops.items() if k not in scalar_ops},
            },
            {},
            problem.dimension,
        )
        return jnp.asarray(_evaluate(expr, env), dtype=x.dtype)

    batched = jax.vmap(at_point, in_axes=(0, 0, 0, 0, None))

    def residual(ops, x, t, f, unknowns=None):
        """The residual (n,); ``unknowns``: {name: value} of the problem's unknowns (None: their ``init``)."""
        return batched(ops, x, t, f, start if unknowns is None else unknowns)

    return residual


def _manufactured_source(problem: Problem, exact: PointFunction, residual: sp.Expr, hessians) -> PointFunction:
    """f = -R0 / (dR/df) with R0 the residual at f = 0, operators of the exact solution by forward-mode AD."""
    coefficient = sp.diff(residual, vocab.SOURCE)
    expr = -residual.subs(vocab.SOURCE, 0) / coefficient
    needs = vocab.operators_in(expr) | {h for h in hessians if expr.has(sp.Symbol(h.name, real=True))}
    function = _residual_function(expr, problem, hessians)

    def source(x, t):
        ops = forward_operators(exact, x, t, needs)
        return function(ops, x, t, jnp.zeros_like(t))

    return source


def _equation(problem: Problem) -> tuple[sp.Expr, list[SecondDirections]]:
    """The residual with its Hessian contractions as scalar operators, and their directions."""
    try:
        residual, contractions = split_hessian(problem.residual)
        return residual, [_second_directions(c, problem) for c in contractions]
    except (HessianError, CompileError) as err:
        raise ProblemError("equation", str(err), source=problem.source_file) from None


def compile_problem(problem: Problem) -> CompiledProblem:
    """Compiles ``problem``; raises ProblemError naming the field whose expression fails."""
    residual, hessians = _equation(problem)
    if problem.source == "from_exact":
        coefficient = sp.diff(residual, vocab.SOURCE)
        if coefficient.has(vocab.SOURCE) or coefficient == 0:
            raise ProblemError("equation", "from_exact needs an equation linear in f", source=problem.source_file)
    exact = None if problem.exact is None else _point_function(problem.exact, problem)
    conditions = {kind: _point_function(expr, problem) for kind, expr in problem.conditions.items()}
    if problem.source == "from_exact":
        assert exact is not None  # validation refuses from_exact without an exact solution
        source = _manufactured_source(problem, exact, residual, hessians)
    elif problem.source is not None:
        source = _point_function(problem.source, problem)
    else:
        source = None
    robin = (
        None
        if problem.robin is None
        else (_point_function(problem.robin[0], problem), _point_function(problem.robin[1], problem))
    )
    terms = tuple(_residual_function(term, problem, hessians) for term in sp.Add.make_args(residual))
    compiled = CompiledProblem(
        problem,
        vocab.operators_in(residual) | frozenset(hessians),
        _residual_function(residual, problem, hessians),
        conditions,
        exact,
        source,
        robin,
        terms,
    )
    _trial_run(compiled)
    return compiled


def _trial_run(compiled: CompiledProblem) -> None:
    """Traces every function once on abstract inputs, so compile errors name their field."""
    problem = compiled.problem
    d = problem.dimension
    x = jax.ShapeDtypeStruct((2, d), jnp.float32)
    t = jax.ShapeDtypeStruct((2,), jnp.float32)
    shapes = {"u_x": (2, d), "u_xx": (2, d)}
    ops = {
        getattr(name, "name", name): jax.ShapeDtypeStruct(shapes.get(name, (2,)), jnp.float32)
        for name in compiled.needs
    }
    checks = [("equation", lambda: jax.eval_shape(compiled.residual, ops, x, t, t))]
    checks += [
        (f"conditions.{k}", functools.partial(jax.eval_shape, fn, x, t)) for k, fn in compiled.conditions.items()
    ]
    if compiled.exact is not None:
        checks.append(("exact", functools.partial(jax.eval_shape, compiled.exact, x, t)))
    checks += [("conditions.robin", functools.partial(jax.eval_shape, fn, x, t)) for fn in compiled.robin or ()]
    if compiled.source is not None:
        checks.append(("source", functools.partial(jax.eval_shape, compiled.source, x, t)))
    for field, check in checks:
        try:
            out = check()
        except CompileError as err:
            raise ProblemError(field, str(err), source=problem.source_file) from None
        except (TypeError, ValueError, OverflowError) as err:
            raise ProblemError(
                field, f"cannot be compiled: {str(err).splitlines()[0]}", source=problem.source_file
            ) from None
        if out.shape != (2,):
            raise ProblemError(
                field, f"is not scalar at each point (shape {out.shape[1:]})", source=problem.source_file
            )
