"""Safe parsing of expression strings into sympy: a whitelist interpreter over Python's AST.

Nothing in a problem file is ever evaluated as Python: the string is parsed with ``ast.parse``
(which runs no code), every node is checked against a whitelist, and sympy objects are built
from the allowed nodes only. Attribute access, dunder names, imports, lambdas, comprehensions,
keyword arguments and unknown names are rejected, as are over-long or deeply nested strings and
numeric powers whose exponent is huge (which would hang on big-integer arithmetic).
"""

import ast
import difflib
import operator
import re
import warnings

import sympy as sp

from . import _vocabulary as vocab

MAX_LENGTH = 5000
MAX_DEPTH = 60
MAX_EXPONENT = 1000

_BINARY = {
    ast.Add: operator.add,
    ast.Sub: operator.sub,
    ast.Mult: operator.mul,
    ast.Div: operator.truediv,
    ast.Pow: operator.pow,
}
_COMPARE = {ast.Lt: sp.Lt, ast.LtE: sp.Le, ast.Gt: sp.Gt, ast.GtE: sp.Ge}


class ExpressionError(ValueError):
    """The string is not an allowed expression; the message says what to change."""


class _Builder:
    def __init__(self, names: dict[str, object]):
        self.names = names

    def build(self, node: ast.AST, depth: int = 0):
        if depth > MAX_DEPTH:
            raise ExpressionError(f"nested deeper than {MAX_DEPTH} levels; simplify the expression")
        method = getattr(self, f"_{type(node).__name__}", None)
        if method is None:
            raise ExpressionError(f"{_describe(node)} is not allowed in an expression")
        return method(node, depth + 1)

    def _Expression(self, node, depth):
        return self.scalar(node.body, depth)

    def scalar(self, node: ast.AST, depth: int):
        """Builds ``node`` and rejects a bare vector where a scalar is needed."""
        value = self.build(node, depth)
        if isinstance(value, sp.IndexedBase):
            raise ExpressionError(
                f"{value} is a vector: take a component ({value}[1], {value}[i]) or reduce it (vsum, sqnorm, norm, dot)"
                if vocab.index_rank(value) == 1
                else f"{value} is a matrix: take an entry ({value}[i, j]) inside Sum(..., (i, 1, d), (j, 1, d))"
            )
        return value

    def _Constant(self, node, depth):
        value = node.value
        if isinstance(value, bool):
            return sp.true if value else sp.false
        if not isinstance(value, (int, float)):
            raise ExpressionError(f"the constant {value!r} is not a number")
        if isinstance(value, float):
            if value != value or value in (float("inf"), float("-inf")):
                raise ExpressionError(f"the constant {value!r} is not a finite number")
            return sp.Float(value) if value != int(value) or abs(value) > 1e15 else sp.Integer(int(value))
        return sp.Integer(value)

    def _Name(self, node, depth):
        name = node.id
        if name.startswith("_"):
            raise ExpressionError(f"the name {name!r} is not allowed (names may not start with '_')")
        if name in vocab.DERIVED:
            return vocab.DERIVED[name]()
        if name not in self.names and (name in vocab.FUNCTIONS or name in vocab.MACROS):
            raise ExpressionError(f"{name!r} is a function: call it, e.g. {name}(x[1])")
        if name not in self.names:
            raise ExpressionError(
                f"unknown name {name!r}{_name_hint(name, self.names)}; allowed names: {', '.join(sorted(self.names))}"
            )
        value = self.names[name]
        if callable(value) and not isinstance(value, (sp.Basic, sp.IndexedBase)):
            raise ExpressionError(f"{name!r} is a function: call it, e.g. {name}(x[1])")
        return value

    def _UnaryOp(self, node, depth):
        operand = self.scalar(node.operand, depth)
        if isinstance(node.op, ast.USub):
            return -operand
        if isinstance(node.op, ast.UAdd):
            return operand
        if isinstance(node.op, ast.Not):
            return sp.Not(operand)
        raise ExpressionError(f"the operator {type(node.op).__name__} is not allowed")

    def _BinOp(self, node, depth):
        op = _BINARY.get(type(node.op))
        if op is None:
            symbol = {ast.BitXor: "^ (write ** for powers)", ast.FloorDiv: "//", ast.Mod: "%"}.get(
                type(node.op), type(node.op).__name__
            )
            raise ExpressionError(f"the operator {symbol} is not allowed")
        left, right = self.scalar(node.left, depth), self.scalar(node.right, depth)
        if (
            op is operator.pow
            and right.is_number
            and left.is_number
            and (abs(complex(right)) > MAX_EXPONENT or (abs(complex(left)) > 1e6 and abs(complex(right)) > 50))
        ):
            raise ExpressionError(f"the numeric power {left}**{right} is too large")
        if op is operator.truediv and right == 0:
            raise ExpressionError("division by zero")
        return op(left, right)

    def _Compare(self, node, depth):
        if len(node.ops) != 1:
            raise ExpressionError(
                "chained comparisons are not allowed; join them with 'and', e.g. 0 < x[1] and x[1] < 1"
            )
        op = _COMPARE.get(type(node.ops[0]))
        if op is None:
            raise ExpressionError(f"the comparison {type(node.ops[0]).__name__} is not allowed (use <, <=, >, >=)")
        return op(self.scalar(node.left, depth), self.scalar(node.comparators[0], depth))

    def _BoolOp(self, node, depth):
        values = [self.scalar(v, depth) for v in node.values]
        return sp.And(*values) if isinstance(node.op, ast.And) else sp.Or(*values)

    def _Tuple(self, node, depth):
        return tuple(self.scalar(e, depth) for e in node.elts)

    def _Subscript(self, node, depth):
        base = self.build(node.value, depth)
        if not isinstance(base, sp.IndexedBase):
            raise ExpressionError(
                f"only vectors (x, u_x, u_xx, vector parameters) and matrices take an index, not {base}"
            )
        index = self.scalar(node.slice, depth)
        indices = index if isinstance(index, tuple) else (index,)
        rank = vocab.index_rank(base)
        if len(indices) != rank and not (base == vocab.HESSIAN and len(indices) == 2):
            if rank == 2:
                raise ExpressionError(f"{base} is a matrix: it takes two indices, e.g. {base}[i, j]")
            raise ExpressionError("a vector takes one index, e.g. x[1] or x[i] (u_xx[i, j] is a Hessian entry)")
        for one in indices:
            if not (isinstance(one, sp.Expr) and (one.is_integer or one.is_Integer)):
                raise ExpressionError(f"the index {one} of {base} must be an integer or an index such as i")
        if base == vocab.HESSIAN and len(indices) == 2 and indices[0] == indices[1]:
            return base[indices[0]]  # u_xx[i, i] is the diagonal entry u_xx[i]
        return base[indices]

    def _Call(self, node, depth):
        if not isinstance(node.func, ast.Name):
            raise ExpressionError("only named functions may be called, e.g. sin(x[1])")
        if node.keywords:
            raise ExpressionError(f"{node.func.id}(): keyword arguments are not allowed")
        name = node.func.id
        if name not in vocab.FUNCTIONS and name not in vocab.MACROS:
            known = [*vocab.FUNCTIONS, *vocab.MACROS]
            raise ExpressionError(
                f"unknown function {name!r}{_near(name, known + list(self.names))}; allowed: {', '.join(sorted(known))}"
            )
        if name in vocab.MACROS:
            args = [self.build(a, depth) for a in node.args]
            try:
                return vocab.MACROS[name](*args)
            except TypeError as err:
                raise ExpressionError(str(err)) from None
        args = [self.scalar(a, depth) for a in node.args]
        if name in ("Sum", "Product"):
            return _build_reduction(name, args)
        if name == "Piecewise" and (not args or not all(isinstance(a, tuple) and len(a) == 2 for a in args)):
            raise ExpressionError("Piecewise takes (value, condition) pairs, e.g. Piecewise((1, x[1] < 0), (0, True))")
        try:
            return vocab.FUNCTIONS[name](*args)
        except (TypeError, ValueError) as err:
            raise ExpressionError(f"{name}(): {err}") from None


def _build_reduction(name: str, args) -> sp.Expr:
    """``Sum`` or ``Product`` of a term over one or more (index, first, last) limits."""
    example = "Sum(x[i]**2, (i, 1, d))" if name == "Sum" else "Product(cos(x[i]), (i, 1, d))"
    if len(args) < 2 or not all(isinstance(a, tuple) and len(a) == 3 for a in args[1:]):
        raise ExpressionError(f"{name} takes a term and (index, first, last), e.g. {example}")
    indices = [limit[0] for limit in args[1:]]
    for index in indices:
        if not (isinstance(index, sp.Symbol) and index.is_integer):
            raise ExpressionError(f"the {name} index must be one of i, j, k, l, m, got {index}")
    if len(set(indices)) != len(indices):
        raise ExpressionError(f"{name} over the same index twice; use different indices, e.g. (i, 1, d), (j, 1, d)")
    return getattr(sp, name)(args[0], *args[1:])


#: Names from other languages and libraries, and what this vocabulary calls them.
ALIASES = {
    "exponential": "exp",
    "ln": "log",
    "arcsin": "asin",
    "arccos": "acos",
    "arctan": "atan",
    "arctan2": "atan2",
    "abs": "Abs",
    "sum": "Sum",
    "prod": "Product",
    "min": "Min",
    "max": "Max",
    "laplacian": "lap_u",
    "lap": "lap_u",
    "grad_u": "u_x",
    "hess_u": "u_xx",
    "dt_u": "u_t",
}


def _near(name: str, known) -> str:
    """`` (did you mean 'sin'?)`` for an alias of ``name`` or the closest of ``known``, else ''."""
    close = (
        [ALIASES[name]]
        if ALIASES.get(name) in set(known)
        else difflib.get_close_matches(name, sorted(set(known)), n=1, cutoff=0.6)
    )
    return f" (did you mean {close[0]!r}?)" if close else ""


def _name_hint(name: str, names: dict) -> str:
    """A hint for an unknown name: ``x1`` -> x[1] (a component of a vector), else the nearest name,
    function or operator (``lapu`` -> lap_u)."""
    match = re.fullmatch(r"([A-Za-z_]+?)_?([0-9]+)", name)
    if match and isinstance(names.get(match[1]), sp.IndexedBase):
        return f" (did you mean {match[1]}[{int(match[2])}]? components take brackets)"
    return _near(name, [*names, *vocab.FUNCTIONS, *vocab.MACROS, *vocab.DERIVED])


def _describe(node: ast.AST) -> str:
    kinds = {
        "Attribute": "attribute access (a '.')",
        "Lambda": "a lambda",
        "ListComp": "a comprehension",
        "GeneratorExp": "a generator",
        "Starred": "unpacking (*)",
        "Dict": "a dict",
        "List": "a list (use a tuple)",
        "NamedExpr": "assignment (:=)",
        "IfExp": "if/else (use Piecewise)",
        "JoinedStr": "an f-string",
    }
    return kinds.get(type(node).__name__, f"the syntax {type(node).__name__}")


def parse_expression(text: object, names: dict[str, object]) -> sp.Basic:
    """Parses ``text`` into a sympy expression using only ``names`` (plus functions and macros).

    Raises ExpressionError with a message that says what to change.
    """
    if isinstance(text, bool) or not isinstance(text, (str, int, float)):
        raise ExpressionError(f"expected an expression string or a number, got {type(text).__name__}")
    if isinstance(text, (int, float)):
        text = repr(text)
    if len(text) > MAX_LENGTH:
        raise ExpressionError(f"longer than {MAX_LENGTH} characters; use Sum/vsum instead of writing terms out")
    if not text.strip():
        raise ExpressionError("empty expression")
    try:
        with warnings.catch_warnings():  # e.g. SyntaxWarning on '1if': the error below is the message
            warnings.simplefilter("ignore")
            tree = ast.parse(text.strip(), mode="eval")
    except SyntaxError as err:
        raise ExpressionError(f"not a valid expression ({err.msg} at column {err.offset})") from None
    except (ValueError, RecursionError, MemoryError):
        raise ExpressionError("not a valid expression") from None
    try:
        value = _Builder(names).scalar(tree, 0)
        if isinstance(value, tuple):  # tuples belong inside Sum(...) and Piecewise(...) only
            raise ExpressionError("a tuple (a, b) is not a value; write one expression")
        return value
    except RecursionError:
        raise ExpressionError(f"nested deeper than {MAX_DEPTH} levels; simplify the expression") from None
    except (TypeError, ValueError, AttributeError, ZeroDivisionError, OverflowError) as err:
        if isinstance(err, ExpressionError):
            raise
        raise ExpressionError(f"cannot build the expression: {err}") from None


def base_names(parameters: dict[str, object]) -> dict[str, object]:
    """The names any problem expression may use: x, t, d, indices, constants and parameters."""
    return {"x": vocab.X, "t": vocab.T, "d": vocab.DIM, **vocab.INDICES, **vocab.CONSTANTS, **parameters}


def equation_names(parameters: dict[str, object]) -> dict[str, object]:
    """Names an equation may use: the base names, the operators on u and the source f."""
    return {**base_names(parameters), **vocab.SCALAR_OPERATORS, **vocab.VECTOR_OPERATORS, "f": vocab.SOURCE}
