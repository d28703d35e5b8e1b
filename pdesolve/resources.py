"""One resource model for a whole run, checked by ``pdesolve check`` and by ``solve`` before it
allocates: each need is a size in bytes (or, for a Monte Carlo reference, in normal draws) with
the setting that drives it, the value of that setting that would fit and how to get there.

Phases (what is held at the same time, each compared with the memory of ``limits.device_memory``):
- before the build: the network's parameters with the solver's copies of them;
- training: the activations of one vectorised loss evaluation (``limits.estimate_bytes``, with the
  expression's broadcast terms counted beside the hidden units), the condition batch evaluated
  with it, the validation points, what the solver holds beside them (a Gauss-Newton Jacobian,
  rows x parameters, and its damped system: ``limits.solver_held_bytes``) and a layerwise
  Jacobian's first-layer tangents (``limits.tangent_bytes``); with ``train.stages``, the stage
  whose step needs the most (``largest_stage``);
- evaluation: the evaluation points with the arrays kept per point, the slice grid
  (points^2 x times), the diagonal line; the sampling, predictions (``run._predict``), baselines
  and distances run in chunks, so only the points and the per-point results count.
A Monte Carlo reference is bounded in work (paths x points x steps x dimension normals), its
memory being chunked already (flat in the paths: benchmarks/results/reliability_memory/).
``train.check_memory=false`` skips every refusal knowingly.
"""

import dataclasses
import itertools

import sympy as sp

from .config import RunConfig
from .errors import ConfigError, ProblemError
from .limits import (
    GIB,
    device_memory,
    estimate_bytes,
    perturbations,
    solver_held_bytes,
    stage_configs,
    tangent_bytes,
    tangent_column_bytes,
)

#: float64 arrays kept per evaluation point besides its coordinates (u_pred, u_raw, u_exact,
#: abs_error, t, distances, the metrics' temporaries and the in-memory netCDF image of them), and
#: the copies of the coordinates: the points themselves (drawn and mapped in chunks, shared by the
#: dataset; a float32 run casts them), their netCDF image, and one more for the temporaries of the
#: computations that run in chunks (sampling, predictions, the ansatz's baselines, distances).
#: Both rounded up from the peak memory of measured solves at d = 2, 20 and 100, with a margin of
#: at least a third above every measured growth (benchmarks/results/reliability_memory/).
EVAL_ARRAYS_PER_POINT = 36
EVAL_COORDINATE_COPIES = 3
#: Copies of the parameters a solver holds (parameters, gradient, two moments, last good step,
#: checkpoint and the compiler's buffers).
PARAMETER_COPIES = 8
#: Normal draws a second of a Monte Carlo reference, as measured on the project's shared 2-core CPU
#: machine (benchmarks/results/reliability_memory/), and the seconds of them a reference may take:
#: the draw cap is their product, so that the time a refusal states holds on such a machine.
REFERENCE_NORMALS_PER_SECOND = 2.2e7
MAX_REFERENCE_SECONDS = 3600
MAX_REFERENCE_NORMALS = REFERENCE_NORMALS_PER_SECOND * MAX_REFERENCE_SECONDS
LINE_POINTS = 201  # run._evaluate.diagonal_line
FIT_MARGIN = 0.98


@dataclasses.dataclass(frozen=True)
class Need:
    """One resource of a run: ``size`` (bytes, or draws) driven by the setting ``field`` (now
    ``value``), whose cost grows as ``value ** power``; ``problem`` when ``field`` is in the problem file."""

    what: str
    field: str
    value: int
    size: float
    power: int = 1
    problem: bool = False

    def fitting(self, budget: float) -> int:
        """A value of ``field`` whose share of ``size`` fits ``budget`` (at least 0), with
        ``FIT_MARGIN`` for the terms below the leading power (a layer's biases)."""
        return max(0, int(FIT_MARGIN * self.value * (budget / self.size) ** (1 / self.power)))


@dataclasses.dataclass(frozen=True)
class TangentNeed(Need):
    """A layerwise Jacobian's first-layer tangents (``column`` bytes each), driven by the column
    chunk ``value``: a chunk over half the columns takes them all, so a chunk fits where twice it does."""

    column: float = 0.0

    def fitting(self, budget: float) -> int:
        return max(0, int(FIT_MARGIN * budget / (2 * self.column)))


def network_params(config: RunConfig, inputs: int) -> int:
    """Parameters of the dense network of ``config.model`` on ``inputs`` inputs (a TT network has fewer)."""
    sizes = [inputs, *config.model.widths, 1]
    return sum((a + 1) * b for a, b in itertools.pairwise(sizes))


def _bytes(config: RunConfig) -> int:
    return 8 if config.precision == "float64" else 4


def network_needs(config: RunConfig, inputs: int) -> list[Need]:
    """The parameters with the solver's copies (the largest layer drives it: its width squared)."""
    size = network_params(config, inputs) * _bytes(config) * PARAMETER_COPIES
    return [Need("network parameters", "model.widths", max(config.model.widths), size, power=2)]


def expression_terms(*exprs) -> int:
    """The largest broadcast grid of nested Sum/Product terms in ``exprs`` (1 without reductions):
    the compiled expression holds that many numbers per point."""
    largest = 1
    for expr in exprs:
        if isinstance(expr, sp.Basic):
            largest = max(largest, _terms(expr))
    return largest


def _terms(expr: sp.Basic) -> int:
    inner = max((_terms(arg) for arg in expr.args if isinstance(arg, sp.Basic)), default=1)
    if isinstance(expr, (sp.Sum, sp.Product)):
        for _, first, last in expr.limits:
            span = sp.sympify(last) - sp.sympify(first) + 1
            inner *= int(span) if span.is_Integer and span > 0 else 1
    return inner


def training_needs(
    config: RunConfig, problem, evals_per_point: int, n_params: int, first_params: int = 0
) -> list[Need]:
    """The training phase's needs under the solver whose step needs the most (``largest_stage``)."""
    return largest_stage(config, problem, evals_per_point, n_params, first_params)[1]


def largest_stage(
    config: RunConfig, problem, evals_per_point: int, n_params: int, first_params: int = 0
) -> tuple[str, list[Need]]:
    """``(phase, needs)`` of the training step that needs the most: the ``solver`` section's
    ("training"), or with ``train.stages`` the largest stage's, named. ``first_params``: the
    parameters of a first layer without per-unit weights (``limits.first_layer_params``), 0 if dense."""
    phases = [
        (
            f"training in {section} ({each.solver.name})" if config.train.stages else "training",
            _step_needs(each, section, problem, evals_per_point, n_params, first_params),
        )
        for section, each in stage_configs(config)
    ]
    return max(phases, key=lambda phase: sum(need.size for need in phase[1]))


def _step_needs(
    config: RunConfig, section: str, problem, evals_per_point: int, n_params: int, first_params: int
) -> list[Need]:
    """The training step's activations (expression terms included), condition batch, validation
    points and what the solver (the ``section`` of ``config.solver``) holds beside them: a
    Gauss-Newton Jacobian and damped system, a layerwise Jacobian's first-layer tangents."""
    terms = expression_terms(problem.residual, problem.exact, problem.source, *problem.conditions.values())
    step = estimate_bytes(config, evals_per_point, n_params) * (1 + terms / max(1, sum(config.model.widths)))
    dim, size = problem.dimension + 2, _bytes(config)
    perts = perturbations(config.solver, n_params)
    boundary = config.train.boundary_batch_size * (dim + sum(config.model.widths) + terms) * size * perts
    validation = config.train.validation_points * (dim + EVAL_ARRAYS_PER_POINT + terms) * 8
    key = "train.batch_size" if config.operators.kind == "ad" else "operators.chunk_size"
    value = (
        config.train.batch_size
        if key == "train.batch_size"
        else (config.operators.point_chunk or config.train.batch_size)
    )
    needs = [
        Need("training step activations", key, value, step),
        Need("condition batch", "train.boundary_batch_size", config.train.boundary_batch_size, boundary),
        Need("validation points", "train.validation_points", config.train.validation_points, validation),
    ]
    rows = config.train.batch_size + config.train.boundary_batch_size * len(problem.conditions)
    held = solver_held_bytes(config, rows, n_params)
    if held:
        batch = config.train.batch_size
        needs.append(Need("solver matrices (Jacobian, damped system)", "train.batch_size", batch, held))
    tangents = tangent_bytes(config, evals_per_point, first_params)
    if tangents:
        chunk = getattr(config.solver.settings, "chunk_size", None) or first_params
        field, column = f"{section}.chunk_size", tangent_column_bytes(config, evals_per_point)
        needs.append(TangentNeed("first-layer tangent columns", field, chunk, tangents, column=column))
    return needs


def evaluation_needs(problem) -> list[Need]:
    """The evaluation points, the slice grid and the diagonal line, held together at the end."""
    d = problem.dimension
    per_point = (EVAL_COORDINATE_COPIES * d + EVAL_ARRAYS_PER_POINT) * 8
    evaluation = problem.evaluation
    needs = [
        Need(
            "evaluation points",
            "evaluation.points",
            evaluation["points"],
            evaluation["points"] * per_point,
            problem=True,
        )
    ]
    spec = evaluation.get("slice") or {}
    if d >= 2 or problem.time is not None:
        from .analysis import SLICE_POINTS, SLICE_TIMES

        n = spec.get("points") or SLICE_POINTS
        times = (
            spec.get("times") or SLICE_TIMES if problem.time is not None and "t" not in (spec.get("axes") or []) else 1
        )
        times = times if isinstance(times, int) else len(times)
        needs.append(
            Need(
                "slice grid (points^2 x times)",
                "evaluation.slice.points",
                n,
                n * n * times * per_point,
                power=2,
                problem=True,
            )
        )
    needs.append(Need("diagonal line", "dimension", d, LINE_POINTS * per_point, problem=True))
    return needs


def reference_needs(problem) -> list[Need]:
    """The normal draws of a Monte Carlo reference: paths x points x steps x dimension."""
    ref = problem.reference
    if not ref or ref.get("kind") != "monte_carlo":
        return []
    draws = ref["paths"] * problem.evaluation["points"] * (ref.get("steps") or 1) * problem.dimension
    return [
        Need(
            "Monte Carlo reference draws (paths x points x steps x dimension)",
            "reference.monte_carlo.paths",
            ref["paths"],
            draws,
            problem=True,
        )
    ]


def refuse_over(
    needs: list[Need], have: float, where: str, phase: str, problem=None, unit: tuple[float, str] = (GIB, "GiB")
) -> None:
    """Raises (naming the largest need's setting and the value that fits) when ``needs`` together
    exceed ``have`` bytes (or ``unit[1]``, of ``unit[0]`` each) of the ``where`` memory."""
    total = sum(need.size for need in needs)
    if total <= have:
        return
    worst = max(needs, key=lambda need: need.size)
    fits = worst.fitting(have - (total - worst.size)) if total - worst.size < have else 0
    if fits >= 1:
        fix = f"set {worst.field} to at most {fits} (from {worst.value})"
    elif total - worst.size < have:
        fix = f"even {worst.field} = 1 does not fit: reduce what multiplies it ({worst.what})"
    else:
        fix = "the other needs of this phase alone exceed it; reduce them first"
    scale, name = unit
    parts = ", ".join(f"{need.what} {need.size / scale:.3g}" for need in sorted(needs, key=lambda n: -n.size)[:3])
    message = (
        f"{phase} needs {total / scale:.3g} {name} ({parts} {name}) but the {where} is {have / scale:.3g} {name}; "
        f"{fix} (or train.check_memory=false to run anyway)"
    )
    if worst.problem:
        raise ProblemError(worst.field, message, source=getattr(problem, "source_file", None))
    raise ConfigError(worst.field, message)


def check_network(config: RunConfig, inputs: int) -> None:
    """Before the network is built: refuses parameters (with the solver's copies) beyond memory."""
    if config.train.check_memory:
        have, where = device_memory()
        refuse_over(network_needs(config, inputs), have, where, "the network")


def check_run(problem, config: RunConfig, evals_per_point: int, n_params: int, first_params: int = 0) -> None:
    """Before training: refuses a run whose training phase (its largest stage's, named), evaluation
    phase or Monte Carlo reference would not fit (see the module docstring). ``first_params``: the
    parameters of a first layer without per-unit weights (``limits.first_layer_params``)."""
    if not config.train.check_memory:
        return
    have, where = device_memory()
    phase, needs = largest_stage(config, problem, evals_per_point, n_params, first_params)
    refuse_over(needs, have, where, phase, problem)
    refuse_over(evaluation_needs(problem), have, where, "the final evaluation", problem)
    draws = reference_needs(problem)
    if draws:
        rate = f"{MAX_REFERENCE_SECONDS / 3600:g} hour at {REFERENCE_NORMALS_PER_SECOND:.2g} draws a second"
        refuse_over(
            draws,
            MAX_REFERENCE_NORMALS,
            f"bound on draws ({rate}, the rate measured on a 2-core CPU)",
            "the reference",
            problem,
            unit=(1.0, "draws"),
        )


def describe(problem, config: RunConfig, evals_per_point: int, n_params: int, first_params: int = 0) -> str:
    """One line for ``pdesolve check``: the largest need of each phase (training: its largest stage's)
    and the memory it is held against."""
    have, where = device_memory()
    phase, training = largest_stage(config, problem, evals_per_point, n_params, first_params)
    phases = {
        "network": network_needs(config, problem.dimension + int(problem.has_time)),
        phase: training,
        "evaluation": evaluation_needs(problem),
    }
    text = ", ".join(f"{name} {sum(n.size for n in needs) / GIB:.3g} GiB" for name, needs in phases.items())
    return f"{text} of {have / GIB:.3g} GiB ({where})"


__all__ = [
    "Need",
    "TangentNeed",
    "check_network",
    "check_run",
    "describe",
    "evaluation_needs",
    "expression_terms",
    "largest_stage",
    "network_needs",
    "network_params",
    "reference_needs",
    "refuse_over",
    "training_needs",
]
