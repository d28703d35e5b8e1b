"""Symbols for problems written as Python modules (``PROBLEM = {...}`` with sympy objects).

``X[i]`` is the i-th space coordinate (1-based), ``T`` time, ``DIM`` the dimension d; the
operators on u are ``U``, ``U_T``, ``U_TT``, ``LAP_U``, ``U_X[i]``, ``U_XX[i]``; ``SOURCE`` is f.
Vector reductions: ``vsum``, ``sqnorm``, ``norm``, ``dot`` or ``sympy.Sum`` over an integer index.
"""

from ._vocabulary import DIM, INDICES, SCALAR_OPERATORS, SOURCE, VECTOR_OPERATORS, T, X, dot, norm, sqnorm, vsum

U, U_T, U_TT, LAP_U = (SCALAR_OPERATORS[n] for n in ("u", "u_t", "u_tt", "lap_u"))
U_X, U_XX = VECTOR_OPERATORS["u_x"], VECTOR_OPERATORS["u_xx"]
I, J, K = INDICES["i"], INDICES["j"], INDICES["k"]  # noqa: E741 (the sum indices i, j, k of problem files)

__all__ = [
    "DIM",
    "LAP_U",
    "SOURCE",
    "U_T",
    "U_TT",
    "U_X",
    "U_XX",
    "I",
    "J",
    "K",
    "T",
    "U",
    "X",
    "dot",
    "norm",
    "sqnorm",
    "vsum",
]
