"""Checks that a problem's ``exact:`` solution is one: its residual through the compiled equation
(operators by forward-mode autodiff) at a few hundred interior points, and its misfit in each
condition, each relative to the size of what it compares (``pdesolve check`` prints them).

Scale: at a point, the residual is compared with the sum of the absolute values of the equation's
additive terms there (|u_t| + |lap_u| + |f| for ``u_t - lap_u - f``), so a residual that is
round-off of large terms is not flagged; a condition's misfit with |exact| + |data|.
"""

import dataclasses

import jax
import jax.numpy as jnp
import numpy as np
import sympy as sp

from . import _vocabulary as vocab
from ._compile import CompiledProblem
from ._derivatives import forward_operators
from ._spec import Problem
from ._unknowns import stated_values

#: Points where the exact solution is checked (interior, and per condition).
POINTS = 300
#: A relative residual or misfit above this is reported as a warning.
TOLERANCE = 1e-6
#: The smallest scale a misfit is divided by: data that vanish (zero boundary values) would make
#: float64 round-off of the exact solution there a relative misfit of order one.
SCALE_FLOOR = 1e-8


@dataclasses.dataclass(frozen=True)
class Misfit:
    """One check: ``what`` (equation or a condition), the largest absolute misfit and where
    (x (d,), t or None), and the largest relative misfit (over all points)."""

    what: str
    absolute: float
    relative: float
    x: np.ndarray
    t: float | None

    @property
    def small(self) -> bool:
        return self.relative <= TOLERANCE

    def where(self) -> str:
        x = np.asarray(self.x)
        coords = ", ".join(f"{v:.3g}" for v in x[:4]) + (", ..." if x.size > 4 else "")
        return f"x = [{coords}] (|x - centre| {np.linalg.norm(x - self.centre):.3g})" + (
            "" if self.t is None else f", t = {self.t:.3g}"
        )

    centre: np.ndarray = dataclasses.field(repr=False)


def manufactured_text(problem: Problem) -> str:
    """The source that ``source: from_exact`` builds, as an expression of the exact solution's operators."""
    coefficient = sp.diff(problem.residual, vocab.SOURCE)
    return f"f = {sp.simplify(-problem.residual.subs(vocab.SOURCE, 0) / coefficient)}"


def _largest(what: str, error, scale, x, t, problem: Problem) -> Misfit:
    error, scale = np.abs(np.asarray(error)), np.asarray(scale)
    error = np.where(np.isfinite(error), error, np.inf)
    relative = error / np.maximum(scale, SCALE_FLOOR)
    worst = int(np.argmax(error))
    return Misfit(
        what,
        float(error[worst]),
        float(np.max(relative)),
        np.asarray(x[worst]),
        None if problem.time is None else float(t[worst]),
        problem.domain.centre,
    )


def _points(problem: Problem, rng: np.random.Generator, n: int):
    """Interior points (half volume law, half radius-uniform) and times uniform in the interval."""
    d = problem.dimension
    half = n // 2
    x = np.concatenate(
        [
            problem.domain.interior(rng.uniform(size=(half, d + 1)), "volume"),
            problem.domain.interior(rng.uniform(size=(n - half, d + 1)), "radius_uniform"),
        ]
    )
    t = np.zeros(n) if problem.time is None else rng.uniform(*problem.time, n)
    return jnp.asarray(x), jnp.asarray(t)


def verify_exact(compiled: CompiledProblem, seed: int = 0, n: int = POINTS) -> list[Misfit]:
    """The equation's and each Dirichlet, initial and terminal condition's largest relative misfit
    of the exact solution (empty without ``exact:``); Neumann and Robin data are not checked."""
    problem = compiled.problem
    if compiled.exact is None:
        return []
    with jax.enable_x64(True):
        rng = np.random.default_rng(seed)
        x, t = _points(problem, rng, n)
        f = compiled.source(x, t) if compiled.source is not None else jnp.zeros_like(t)
        ops = forward_operators(compiled.exact, x, t, compiled.needs)
        truth = stated_values(problem.unknowns) if problem.unknowns else None
        out = []
        if truth is not None or not problem.unknowns:  # with unknowns, only their stated truth is checked
            residual = compiled.residual(ops, x, t, f, truth)
            scale = sum(jnp.abs(term(ops, x, t, f)) for term in compiled.terms) if compiled.terms else jnp.abs(residual)
            out.append(_largest("equation", residual, scale, x, t, problem))
        for kind, data in compiled.conditions.items():
            out += _condition(kind, data, compiled, rng, n)
    return out


def _condition(kind: str, data, compiled: CompiledProblem, rng, n: int) -> list[Misfit]:
    problem = compiled.problem
    d = problem.dimension
    assert compiled.exact is not None  # verify_exact checks only problems with an exact solution
    if kind in ("initial", "terminal", "initial_velocity"):
        assert problem.time is not None  # these conditions exist only with time
        x, _ = _points(problem, rng, n)
        t = jnp.full(n, problem.time[0] if kind != "terminal" else problem.time[1])
    elif kind == "boundary" and problem.domain.bounded:
        x = jnp.asarray(problem.domain.boundary(rng.uniform(size=(n, d + 1))))
        t = jnp.zeros(n) if problem.time is None else jnp.asarray(rng.uniform(*problem.time, n))
    else:
        return []
    value = (
        forward_operators(compiled.exact, x, t, frozenset({"u_t"}))["u_t"]
        if kind == "initial_velocity"
        else compiled.exact(x, t)
    )
    given = data(x, t)
    return [_largest(f"conditions.{kind}", value - given, jnp.abs(value) + jnp.abs(given), x, t, problem)]
