"""The directions a problem's data single out, when everything else is rotation invariant.

If the PDE, its conditions and its source are unchanged by every rotation about the domain's
centre c that fixes a k-dimensional subspace span(Q), so is the solution:
u(x, t) = U(Q^T (x - c), |x - c|^2, t), a function of k + 1 features (and t) instead of d
coordinates. ``model.inputs: subspace`` hands the network those features (``models._projected``).

Q is read off the data (never the exact solution): at sample points, the gradient of every
x-dependent function of the problem (conditions, source, the residual with its operators frozen)
lies in span(Q) + span(x - c), so Q spans the gradients once their radial part is taken out (the
gradients of the data by reverse-mode autodiff: one pass per point whatever d, unlike 2 d
differences; the network is never differentiated here). The radial part is fitted with Q and
removed again until Q stops changing (``_refine``). The result is then checked, not trusted:
reflections about c that fix span(Q) must leave every data function and the residual unchanged at
random points and operator values (``_check_reflections``).
"""

import dataclasses
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from ._compile import CompiledProblem
from ._domain import Annulus, WholeSpace
from ._spec import Problem

#: Most directions a subspace may have: beyond, the features save little and the search costs more.
MAX_DIRECTIONS = 16
#: Sample points for the gradients: a function varying along more than ``MAX_DIRECTIONS``
#: directions shows more than that many at this many points.
SAMPLES = 2 * MAX_DIRECTIONS + 2
#: Relative squared residual below which the gradients lie in the subspace: far above the round-off
#: of autodiff gradients and the squared relative error of central differences where those stand in
#: (eps^(4/3) for one function, more for sums of many terms), far below a missing direction's; the
#: basis is then accurate to about its square root.
EXACT = 1e-15
#: The central differences' step relative to the domain's scale, where they stand in for autodiff:
#: eps^(1/3) in float64, which balances their truncation and round-off errors (both about eps^(2/3)
#: relative).
DIFFERENCE_STEP = 6e-6
#: Relative change under a reflection below which a function counts as invariant: far above the
#: error that Q inherits from the gradients, far below a broken symmetry's.
INVARIANT = 1e-5
#: Points times d^2 per compiled call of a data function's gradient (and at most ``SAMPLES`` points):
#: reverse mode keeps the call's intermediates, and a manufactured source holds d directions of d
#: coordinates per point.
GRADIENT_ELEMENTS = 2**22
#: Coordinates times nodes per call of a data function while differencing it.
NODE_BUDGET = 2**22
#: Weight of a coordinate that the gradients read against one multiply-add of the decomposition in
#: ``search_cost`` (an evaluation runs the data's expression and its reverse pass per coordinate).
EVALUATION_WEIGHT = 64
#: ``search_cost`` up to which an automatic search runs: beyond, its seconds would dominate
#: ``pdesolve check`` (calibrated to the wall time its differences had at the budget before the
#: gradients: benchmarks/results/symmetry_search_cost/).
AUTO_SEARCH_BUDGET = 5 * 10**10
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
    fields, times = _data_fields(problem, compiled)
    evaluators = [_Evaluator(field, problem.dimension) for field in fields]
    rng = np.random.default_rng(0)
    x = problem.domain.interior(rng.random((SAMPLES, problem.dimension + 1)))
    gradients = []
    for evaluator in evaluators:  # conditions first: a function of many directions is refused before the costly ones
        for at_time in evaluator.gradients(x, times, DIFFERENCE_STEP * scale):
            if not np.all(np.isfinite(at_time)):
                raise NotSymmetric("the data are not finite at some sample points")
            _basis(at_time, x - centre)
            gradients.append(at_time)
    basis = _basis(np.concatenate(gradients), x - centre)
    if not _check_reflections(problem, compiled, (evaluators, times), basis, centre, rng):
        raise NotSymmetric("a reflection that fixes the data's directions changes the problem")
    return Subspace(basis, centre, scale, divisor)


def search_cost(problem: Problem, compiled: CompiledProblem) -> int:
    """The search's work: its largest decomposition (d x rows^2, rows = sample points x (data
    functions + 1)) and ``EVALUATION_WEIGHT`` x the coordinates its gradients read (sample points x
    d per data function, d times more for one that reads a manufactured source: d directions)."""
    fields, times = _data_fields(problem, compiled)
    d, functions = problem.dimension, len(fields) * len(times)
    manufactured = 2 * len(times) if problem.source == "from_exact" else 0  # the source and the residual
    read = SAMPLES * d * (functions - manufactured + manufactured * d)
    return d * (SAMPLES * (functions + 1)) ** 2 + EVALUATION_WEIGHT * read


def _frame(problem: Problem) -> tuple[np.ndarray, float, float]:
    """(centre, feature scale, radial divisor) of a ball, an annulus or whole space."""
    domain = problem.domain
    if isinstance(domain, WholeSpace):
        return domain.mean, float(np.mean(domain.std)), problem.dimension * float(np.mean(domain.std)) ** 2
    if isinstance(domain, Annulus):
        return domain.center, float(domain.outer), float(domain.outer) ** 2
    raise NotSymmetric(f"a {type(domain).__name__.lower()} domain is not rotation invariant")


def _data_fields(problem: Problem, compiled: CompiledProblem) -> tuple[list, list[float]]:
    """Every x-dependent function of the problem as ``(x (n, d), t (n,)) -> (n,)``: conditions,
    source and the residual with its operators frozen at 1 (gradient 0); and the times each is
    read at (the start, middle and end time)."""
    times = [0.0] if problem.time is None else [problem.time[0], sum(problem.time) / 2, problem.time[1]]
    fields = list(compiled.conditions.values())
    fields += [compiled.source] if compiled.source is not None else []
    fields += list(compiled.robin or ())

    def frozen(x, t):
        n = x.shape[0]
        ops = {name: jnp.zeros_like(x) if name == "u_x" else jnp.ones(n, x.dtype) for name in compiled.needs}
        f = jnp.zeros(n, x.dtype) if compiled.source is None else compiled.source(x, t)
        return compiled.residual(ops, x, t, f)

    return [*fields, frozen], times


class _Evaluator:
    """Values and gradients of one data function, compiled once: reverse-mode autodiff of the
    function's sum over its points (the points are independent), in equal chunks of points."""

    def __init__(self, field, dim: int):
        def both(x, t):
            values, pullback = jax.vjp(lambda y: field(y, t), x)
            return values, pullback(jnp.ones_like(values))[0]

        self.field, self.both = field, jax.jit(both)
        self.per_call = max(1, min(SAMPLES, GRADIENT_ELEMENTS // dim**2))

    def __call__(self, x: np.ndarray, t: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(values (m,), gradients (m, d)) at the points x (m, d) and times t (m,)."""
        m, per_call = len(x), self.per_call
        padded = np.concatenate([x, np.repeat(x[-1:], -m % per_call, axis=0)])  # one shape: one compilation
        times = np.concatenate([t, np.repeat(t[-1:], -m % per_call)])
        parts = [self.both(padded[i : i + per_call], times[i : i + per_call]) for i in range(0, m, per_call)]
        return (
            np.concatenate([np.asarray(part[0]) for part in parts])[:m],
            np.concatenate([np.asarray(part[1]) for part in parts])[:m],
        )

    def gradients(self, x: np.ndarray, times: list[float], h: float) -> list[np.ndarray]:
        """Gradients (n, d) at the points x (n, d), one per time; by central differences of step h
        where autodiff is not finite but the values are (e.g. a piece not taken that has no
        derivative there)."""
        n = len(x)
        values, gradients = self(np.tile(x, (len(times), 1)), np.repeat(np.asarray(times, x.dtype), n))
        if np.all(np.isfinite(values)) and not np.all(np.isfinite(gradients)):
            return [_differences(_at_time(self.field, t), x, h) for t in times]
        return list(gradients.reshape(len(times), n, -1))


def _at_time(field, t: float):
    return lambda x: field(x, jnp.full(x.shape[0], t, x.dtype))


def _differences(fn, x: np.ndarray, h: float) -> np.ndarray:
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
    direction, k at most ``MAX_DIRECTIONS``: ``gradients`` (m n, d) are m blocks of gradients at the
    n points whose radial directions are ``radial`` (n, d)."""
    total = float(np.sum(gradients**2))
    if total == 0.0:
        return np.zeros((gradients.shape[1], 0))
    unit = radial / np.linalg.norm(radial, axis=1, keepdims=True)
    frame = _row_frame(gradients, unit)  # every vector below lies in its span
    gradients, unit = gradients @ frame, np.tile(unit @ frame, (len(gradients) // len(unit), 1))
    first_guess = gradients - np.sum(gradients * unit, axis=1, keepdims=True) * unit
    most = min(MAX_DIRECTIONS, frame.shape[0] - 2)  # span(Q) + x_i must not fill R^d
    guesses = _top(first_guess, most)  # one decomposition for every k
    for k in range(most + 1):
        basis, residual = _refine(gradients, unit, guesses[:, :k], EXACT * total)
        if residual <= EXACT * total:
            return frame @ basis
    raise NotSymmetric(f"the data vary along more than {max(most, 0)} directions")


def _row_frame(*rows: np.ndarray) -> np.ndarray:
    """Orthonormal columns (d, r) spanning the rows of the arrays (d, r at most their rows' count):
    the basis is sought in these coordinates, so its decompositions do not grow with d."""
    stacked = np.concatenate(rows)
    if len(stacked) >= stacked.shape[1]:
        return np.eye(stacked.shape[1])
    return np.linalg.qr(stacked.T)[0]


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


class _Draw(NamedTuple):
    """One trial of the reflection check: points and their images (2n, d), a gradient per point and
    its image (2n, d), and scalar operator values, the same at a point and its image (2n,)."""

    x: np.ndarray
    gradient: np.ndarray
    scalars: dict[str, np.ndarray]


def _check_reflections(problem, compiled, data, basis, centre, rng, trials: int = 3, n: int = 8) -> bool:
    """Whether reflections about ``centre`` through hyperplanes containing span(basis) leave every
    data function (``data``: the evaluators and their times) unchanged at random points, and the
    residual at random operator values (the gradient reflected with the point)."""
    evaluators, times = data
    draws = [_reflection_draw(problem, compiled, basis, centre, rng, n) for _ in range(trials)]
    x = np.concatenate([draw.x for draw in draws])  # (trials 2n, d)
    pairs = []
    for evaluator in evaluators:
        values = evaluator(np.tile(x, (len(times), 1)), np.repeat(np.asarray(times, x.dtype), len(x)))[0]
        pairs += list(values.reshape(-1, 2, n))  # per time and trial: at the points, at their images
    pairs += list(_random_residuals(problem, compiled, draws).reshape(trials, 2, n))
    return all(np.allclose(a, b, rtol=INVARIANT, atol=INVARIANT * (1.0 + np.max(np.abs(a)))) for a, b in pairs)


def _reflection_draw(problem, compiled, basis, centre, rng, n: int) -> _Draw:
    """n random points and a random gradient at each, their images under a random reflection about
    ``centre`` that fixes span(basis), and random scalar operator values."""
    d = problem.dimension
    v = rng.standard_normal(d)
    v -= basis @ (basis.T @ v)
    v /= np.linalg.norm(v)
    x = problem.domain.interior(rng.random((n, d + 1)))
    gradient = rng.standard_normal((n, d))
    scalars = {name: np.tile(rng.standard_normal(n), 2) for name in compiled.needs if name != "u_x"}
    return _Draw(
        np.concatenate([x, x - 2.0 * np.outer((x - centre) @ v, v)]),
        np.concatenate([gradient, gradient - 2.0 * np.outer(gradient @ v, v)]),
        scalars,
    )


def _random_residuals(problem: Problem, compiled: CompiledProblem, draws: list[_Draw]) -> np.ndarray:
    """The residual at every draw's points and their images, at the start time and with the draw's
    operator values, in one compiled call."""
    x = np.concatenate([draw.x for draw in draws])
    ops = {name: np.concatenate([draw.scalars[name] for draw in draws]) for name in draws[0].scalars}
    if "u_x" in compiled.needs:
        ops["u_x"] = np.concatenate([draw.gradient for draw in draws])
    time = np.full(len(x), problem.time[0] if problem.time else 0.0)

    @jax.jit
    def residual(ops, x, t):
        f = jnp.zeros_like(t) if compiled.source is None else compiled.source(x, t)
        return compiled.residual(ops, x, t, f)

    return np.asarray(residual(ops, x, time))
