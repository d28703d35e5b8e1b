"""The directions a problem's data single out, when everything else is rotation invariant.

If the PDE, its conditions and its source are unchanged by every rotation about the domain's
centre c that fixes a k-dimensional subspace span(Q), so is the solution:
u(x, t) = U(Q^T (x - c), |x - c|^2, t), a function of k + 1 features (and t) instead of d
coordinates. ``model.inputs: subspace`` hands the network those features (``models._projected``).

Q is read off the data (never the exact solution): at sample points, the gradient of every
x-dependent function of the problem (conditions, source, the residual with its operators frozen)
lies in span(Q) + span(x - c), so Q spans the gradients once their radial part is taken out. The
radial part is fitted with Q and removed again until Q stops changing (``_refine``). The result is
then checked, not trusted: reflections about c that fix span(Q) must leave every data function and
the residual unchanged at random points and operator values (``_check_reflections``).
"""

import dataclasses

import jax
import jax.numpy as jnp
import numpy as np
from jaxtyping import Array, Float

from ._compile import CompiledProblem
from ._domain import Annulus, WholeSpace
from ._spec import Problem

#: Most directions a subspace may have: beyond, the features save little and the search costs more.
MAX_DIRECTIONS = 16
#: Sample points for the gradients: a function varying along more than ``MAX_DIRECTIONS``
#: directions shows more than that many at this many points.
SAMPLES = 2 * MAX_DIRECTIONS + 2
#: Relative squared residual below which the gradients lie in the subspace: above the squared
#: relative error of central differences in float64 (eps^(4/3) for one function, more for sums of
#: many terms), far below a missing direction's; the basis is then accurate to about its square root.
EXACT = 1e-15
#: The central differences' step relative to the domain's scale: eps^(1/3) in float64, which
#: balances their truncation and round-off errors (both about eps^(2/3) relative).
DIFFERENCE_STEP = 6e-6
#: Relative change under a reflection below which a function counts as invariant: far above the
#: error that Q inherits from the differences, far below a broken symmetry's.
INVARIANT = 1e-5
#: Coordinates times nodes per call of a data function while differencing it.
NODE_BUDGET = 2**22
#: Coordinates differenced (sample points x 2 d nodes x d coordinates x data functions) up to which
#: an automatic search runs: beyond, its seconds would dominate ``pdesolve check`` (the cost grows as d^2).
AUTO_SEARCH_BUDGET = 2 * 10**9
#: Operators a residual may read and stay rotation invariant: scalars, and the gradient as a vector.
INVARIANT_OPERATORS = frozenset({"u", "u_t", "u_tt", "lap_u", "u_x"})


@dataclasses.dataclass(frozen=True)
class Subspace:
    """Rotation symmetry about ``centre`` (d,) fixing span(``basis``) (d, k orthonormal columns);
    ``scale`` normalises the features: ``basis^T (x - centre) / scale``, ``|x - centre|^2 / (d scale^2)``
    (whole space) or ``/ scale^2`` (ball)."""

    basis: np.ndarray
    centre: np.ndarray
    scale: float
    radial_divisor: float

    @property
    def directions(self) -> int:
        return self.basis.shape[1]


class NotSymmetric(Exception):
    """Why a problem has no rotation symmetry the features can use (the message says which part)."""


def find_subspace(problem: Problem, compiled: CompiledProblem) -> Subspace:
    """The problem's symmetry subspace, or ``NotSymmetric`` naming what breaks it (in float64
    whatever the run's precision: the tests are relative to round-off)."""
    with jax.enable_x64(True):
        return _find_subspace(problem, compiled)


def _find_subspace(problem: Problem, compiled: CompiledProblem) -> Subspace:
    centre, scale, divisor = _frame(problem)
    needs = {need if isinstance(need, str) else "a Hessian contraction" for need in compiled.needs}
    if not needs <= INVARIANT_OPERATORS:
        raise NotSymmetric(f"the equation reads {', '.join(sorted(needs - INVARIANT_OPERATORS))}")
    if problem.data is not None:
        raise NotSymmetric("the problem has observations (data:) at given points")
    functions = _data_functions(problem, compiled)
    rng = np.random.default_rng(0)
    x = problem.domain.interior(rng.random((SAMPLES, problem.dimension + 1)))
    gradients = []
    for fn in functions:  # conditions first: a function of many directions is refused before the costly ones
        gradients.append(_gradients(fn, x, DIFFERENCE_STEP * scale))
        if not np.all(np.isfinite(gradients[-1])):
            raise NotSymmetric("the data are not finite at some sample points")
        _basis(gradients[-1], x - centre)
    basis = _basis(np.concatenate(gradients), np.tile(x - centre, (len(functions), 1)))
    if not _check_reflections(problem, compiled, functions, basis, centre, rng):
        raise NotSymmetric("a reflection that fixes the data's directions changes the problem")
    return Subspace(basis, centre, scale, divisor)


def search_cost(problem: Problem, compiled: CompiledProblem) -> int:
    """The coordinates the search differences: sample points x 2 d nodes x d x data functions."""
    d = problem.dimension
    return SAMPLES * 2 * d * d * len(_data_functions(problem, compiled))


def _frame(problem: Problem) -> tuple[np.ndarray, float, float]:
    """(centre, feature scale, radial divisor) of a ball, an annulus or whole space."""
    domain = problem.domain
    if isinstance(domain, WholeSpace):
        return domain.mean, float(np.mean(domain.std)), problem.dimension * float(np.mean(domain.std)) ** 2
    if isinstance(domain, Annulus):
        return domain.center, float(domain.outer), float(domain.outer) ** 2
    raise NotSymmetric(f"a {type(domain).__name__.lower()} domain is not rotation invariant")


def _data_functions(problem: Problem, compiled: CompiledProblem) -> list:
    """Every x-dependent function of the problem as ``x (n, d) -> (n,)``: conditions and source at
    the start, middle and end time, and the residual with its operators frozen at 1 (gradient 0)."""
    times = [0.0] if problem.time is None else [problem.time[0], sum(problem.time) / 2, problem.time[1]]
    fields = list(compiled.conditions.values())
    fields += [compiled.source] if compiled.source is not None else []
    fields += list(compiled.robin or ())
    functions = [_at_time(field, t) for field in fields for t in times]

    def frozen(field_t):
        def residual(x):
            n = x.shape[0]
            ops = {name: jnp.zeros_like(x) if name == "u_x" else jnp.ones(n, x.dtype) for name in compiled.needs}
            f = jnp.zeros(n, x.dtype) if compiled.source is None else compiled.source(x, jnp.full(n, field_t))
            return compiled.residual(ops, x, jnp.full(n, field_t, x.dtype), f)

        return residual

    return functions + [frozen(t) for t in times]


def _at_time(field, t: float):
    return lambda x: field(x, jnp.full(x.shape[0], t, x.dtype))


def _gradients(fn, x: np.ndarray, h: float) -> np.ndarray:
    """Central-difference gradients (n, d) of ``fn`` at the points x (n, d), in chunks of nodes."""
    n, d = x.shape
    shifts, jitted = h * np.eye(d), jax.jit(fn)
    per_call = max(1, NODE_BUDGET // (2 * d * d))
    out = []
    for i in range(0, n, per_call):
        part = x[i : i + per_call]
        nodes = np.concatenate([(part[:, None, :] + shifts).reshape(-1, d), (part[:, None, :] - shifts).reshape(-1, d)])
        values = np.asarray(jitted(jnp.asarray(nodes))).reshape(2, len(part), d)
        with np.errstate(invalid="ignore", over="ignore"):  # non-finite data: refused by the caller
            out.append((values[0] - values[1]) / (2 * h))
    return np.concatenate(out)


def _basis(gradients: np.ndarray, radial: np.ndarray) -> np.ndarray:
    """The fewest orthonormal directions Q (d, k) with every gradient in span(Q) + its point's radial
    direction, k at most ``MAX_DIRECTIONS``."""
    total = float(np.sum(gradients**2))
    if total == 0.0:
        return np.zeros((gradients.shape[1], 0))
    unit = radial / np.linalg.norm(radial, axis=1, keepdims=True)
    first_guess = gradients - np.sum(gradients * unit, axis=1, keepdims=True) * unit
    most = min(MAX_DIRECTIONS, gradients.shape[1] - 2)  # span(Q) + x_i must not fill R^d
    for k in range(most + 1):
        basis, residual = _refine(gradients, unit, _top(first_guess, k), EXACT * total)
        if residual <= EXACT * total:
            return basis
    raise NotSymmetric(f"the data vary along more than {max(most, 0)} directions")


def _top(rows: np.ndarray, k: int) -> np.ndarray:
    """The top ``k`` right singular vectors of ``rows`` as columns (d, k)."""
    return np.linalg.svd(rows, full_matrices=False)[2][:k].T


def _refine(
    gradients: np.ndarray, unit: np.ndarray, basis: np.ndarray, target: float, rounds: int = 200
) -> tuple[np.ndarray, float]:
    """Alternates: fit each gradient in span(basis) + its radial direction, take the radial part out,
    re-estimate the basis; until the squared residual of the fit is at most ``target``, falls by
    less than a tenth in a round (too few directions), or after ``rounds`` fits. Returns (basis,
    that residual)."""
    previous = np.inf
    for _ in range(rounds):
        along = unit @ basis  # (n, k): each radial direction's overlap with the basis
        radial = (np.sum(gradients * unit, axis=1) - np.sum((gradients @ basis) * along, axis=1)) / np.maximum(
            1.0 - np.sum(along**2, axis=1), 1e-12
        )
        cleaned = gradients - radial[:, None] * unit
        residual = float(np.sum((cleaned - (cleaned @ basis) @ basis.T) ** 2))
        if residual <= target or residual > 0.9 * previous or not basis.shape[1]:
            break
        basis, previous = _top(cleaned, basis.shape[1]), residual
    return basis, residual


def _check_reflections(problem, compiled, functions, basis, centre, rng, trials: int = 3, n: int = 8) -> bool:
    """Whether reflections about ``centre`` through hyperplanes containing span(basis) leave every
    data function unchanged at random points, and the residual at random operator values (the
    gradient reflected with the point)."""
    d = problem.dimension
    for _ in range(trials):
        v = rng.standard_normal(d)
        v -= basis @ (basis.T @ v)
        v /= np.linalg.norm(v)
        x = problem.domain.interior(rng.random((n, d + 1)))
        mirrored = x - 2.0 * np.outer((x - centre) @ v, v)
        gradient = rng.standard_normal((n, d))
        pairs = [(fn(jnp.asarray(x)), fn(jnp.asarray(mirrored))) for fn in functions]
        residual = _random_residual(problem, compiled, rng, n)
        pairs.append((residual(x, gradient), residual(mirrored, gradient - 2.0 * np.outer(gradient @ v, v))))
        for a, b in pairs:
            a, b = np.asarray(a), np.asarray(b)
            if not np.allclose(a, b, rtol=INVARIANT, atol=INVARIANT * (1.0 + np.max(np.abs(a)))):
                return False
    return True


def _random_residual(problem: Problem, compiled: CompiledProblem, rng, n: int):
    """The residual at n points with random scalar operator values, as ``(x, gradient) -> (n,)``."""
    scalars = {name: jnp.asarray(rng.standard_normal(n)) for name in compiled.needs if name != "u_x"}
    time = jnp.full(n, problem.time[0] if problem.time else 0.0)

    def residual(points: np.ndarray, gradient: np.ndarray) -> Float[Array, " n"]:
        x = jnp.asarray(points)
        ops = {**scalars, **({"u_x": jnp.asarray(gradient)} if "u_x" in compiled.needs else {})}
        f = jnp.zeros(n) if compiled.source is None else compiled.source(x, time)
        return compiled.residual(ops, x, time, f)

    return residual
