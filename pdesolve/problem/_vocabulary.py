"""The names a problem's expressions may use, and how each maps to sympy.

Space is a vector ``x`` of any dimension ``d`` (components ``x[i]``, 1-based); vector reductions
are sympy ``Sum`` over an index, or the shorthands below, so an expression never grows with d.
Operators on the solution are reserved names (``u``, ``u_t``, ``u_x[i]``, ``lap_u``, ...);
a parameter may not reuse them.
"""

import sympy as sp

X = sp.IndexedBase("x")
T = sp.Symbol("t", real=True)
DIM = sp.Symbol("d", integer=True, positive=True)
SOURCE = sp.Symbol("f", real=True)

#: Scalar operator values of the solution.
SCALAR_OPERATORS = {name: sp.Symbol(name, real=True) for name in ("u", "u_t", "u_tt", "lap_u")}
#: Vector operator values (components 1..d): gradient and Hessian diagonal.
VECTOR_OPERATORS = {name: sp.IndexedBase(name) for name in ("u_x", "u_xx")}
#: ``u_xx`` also takes two indices: ``u_xx[i, j]`` is a Hessian entry (``u_xx[i]`` = ``u_xx[i, i]``).
HESSIAN = VECTOR_OPERATORS["u_xx"]

#: Index symbols usable as Sum indices and subscripts.
INDICES = {name: sp.Symbol(name, integer=True) for name in ("i", "j", "k", "l", "m")}

CONSTANTS = {"pi": sp.pi, "E": sp.E, "True": sp.true, "False": sp.false}

#: Elementwise functions (sympy constructors) a problem may call.
FUNCTIONS = {
    name: getattr(sp, name)
    for name in (
        "sin",
        "cos",
        "tan",
        "exp",
        "log",
        "sqrt",
        "sinh",
        "cosh",
        "tanh",
        "asin",
        "acos",
        "atan",
        "atan2",
        "asinh",
        "acosh",
        "atanh",
        "erf",
        "Abs",
        "sign",
        "Min",
        "Max",
        "Piecewise",
        "Sum",
        "Product",
        "floor",
        "ceiling",
        "Heaviside",
    )
}

_COUNTER = iter(range(10**9))


def _fresh_index() -> sp.Symbol:
    return sp.Symbol(f"_i{next(_COUNTER)}", integer=True)


def _vector_sum(term) -> sp.Expr:
    index = _fresh_index()
    return sp.Sum(term(index), (index, 1, DIM))


def _require_vector(name: str, value) -> sp.IndexedBase:
    if not isinstance(value, sp.IndexedBase):
        raise TypeError(f"{name}() takes a vector such as x, u_x or a vector parameter, got {value}")
    return value


def vsum(v) -> sp.Expr:
    """Sum of the components of vector ``v``."""
    v = _require_vector("vsum", v)
    return _vector_sum(lambda i: v[i])


def sqnorm(v) -> sp.Expr:
    """Squared Euclidean norm of vector ``v``."""
    v = _require_vector("sqnorm", v)
    return _vector_sum(lambda i: v[i] ** 2)


def norm(v) -> sp.Expr:
    """Euclidean norm of vector ``v``."""
    return sp.sqrt(sqnorm(v))


def dot(a, b) -> sp.Expr:
    """Dot product of vectors ``a`` and ``b``."""
    a, b = _require_vector("dot", a), _require_vector("dot", b)
    return _vector_sum(lambda i: a[i] * b[i])


def index_rank(base: sp.IndexedBase) -> int:
    """How many indices ``base`` takes: 2 for a matrix parameter (declared with a shape), else 1."""
    return 2 if base.shape is not None and len(base.shape) == 2 else 1


#: Shorthands expanded at parse time into Sums over a fresh index.
MACROS = {"vsum": vsum, "sqnorm": sqnorm, "norm": norm, "dot": dot}

#: ``grad_u_sq`` is |grad u|^2, a shorthand for sqnorm(u_x).
DERIVED = {"grad_u_sq": lambda: sqnorm(VECTOR_OPERATORS["u_x"])}

RESERVED = (
    {"x", "t", "d", "f"}
    | set(SCALAR_OPERATORS)
    | set(VECTOR_OPERATORS)
    | set(INDICES)
    | set(CONSTANTS)
    | set(FUNCTIONS)
    | set(MACROS)
    | set(DERIVED)
)


def operators_in(expr: sp.Basic) -> frozenset[str]:
    """Names of the operators on u that ``expr`` uses (keys of OPERATOR_SHAPES)."""
    names = {s.name for s in expr.free_symbols if isinstance(s, sp.Symbol)} & set(SCALAR_OPERATORS)
    names |= {str(b.base) for b in expr.atoms(sp.Indexed)} & set(VECTOR_OPERATORS)
    return frozenset(names)
