"""Resource limits checked before training: a run that cannot fit in memory says so up front.

The estimate counts the activations of one vectorised loss evaluation: collocation points (per
call) x network evaluations per point (stencil nodes) x perturbations evaluated at once x the
summed hidden widths x bytes per number. It is a lower bound on what the step needs (parameters,
optimiser state and the compiler's temporaries come on top), so a run it refuses cannot fit.

A solver whose ``chunk_size`` is unset evaluates its perturbations in chunks that fit
``AUTO_CHUNK_BYTES`` (:func:`fit_solver_chunk`): CGE and the hybrid's CGE stage perturb every
parameter, thousands of losses that would not fit in memory at once
(benchmarks/results/perturbation_chunks/). A layerwise Gauss-Newton Jacobian chunks the same way
the forward-mode tangents of a first layer without per-unit weights (tensor train), each of which
holds the first pre-activation at every node (:func:`tangent_bytes`).
With ``train.stages`` each stage's solver is fitted and checked (:func:`stage_configs`).
"""

import dataclasses
import os

import jax

from .config import RunConfig, SolverConfig, stage_solvers
from .errors import ConfigError, preview
from .models import TTLinear
from .solvers import solver_spec

GIB = 2.0**30
#: Activation memory of the perturbations a solver with ``chunk_size`` unset evaluates at once
#: (at most an eighth of the device's memory on smaller devices).
AUTO_CHUNK_BYTES = 1.0 * GIB
#: Copies of the first pre-activation at every node of a call that one first-layer tangent column
#: of a layerwise Jacobian holds at run time (benchmarks/results/reliability_memory/,
#: tangent_memory.csv).
TANGENT_COPIES = 3


def stage_configs(config: RunConfig) -> list[tuple[str, RunConfig]]:
    """``(section, config)`` per solver the run steps with: ``("solver", config)``, or with
    ``train.stages`` one ``("train.stages[i]", config with that stage's solver)`` per stage."""
    if not config.train.stages:
        return [("solver", config)]
    stages = stage_solvers(config.train.stages, config.train.steps)
    return [(f"train.stages[{i}]", dataclasses.replace(config, solver=s)) for i, (s, _, _) in enumerate(stages)]


def first_layer_params(network) -> int:
    """Parameters of ``network``'s first layer where a layerwise Jacobian takes their columns as
    forward-mode tangents: a tensor-train first layer's, which has no per-unit weights on the
    coordinates (``solvers._layerwise``). 0 for a dense first layer, one on the symmetry features
    (a dense layer on each node's features) or a network without layers."""
    layers = getattr(network, "layers", None)
    return layers[0].n_params if layers and isinstance(layers[0], TTLinear) else 0


def perturbations(solver: SolverConfig, n_params: int) -> int:
    """Loss evaluations the solver makes in one vectorised call per step: its spec's count, capped
    by its ``chunk_size`` when it has one and the spec chunks that count (a layerwise Jacobian's
    node records are not chunked)."""
    spec = solver_spec(solver.name)
    count = spec.perturbations(solver.settings, n_params)
    chunk = getattr(solver.settings, "chunk_size", None)
    return min(count, chunk) if chunk and spec.chunks_perturbations(solver.settings) else count


def solver_held_bytes(config: RunConfig, rows: int, n_params: int) -> float:
    """What the solver holds per step beside the activations, for ``rows`` residual rows (a
    Gauss-Newton Jacobian and damped system; benchmarks/results/reliability_memory/)."""
    size = 8 if config.precision == "float64" else 4
    return solver_spec(config.solver.name).held_numbers(config.solver.settings, n_params, rows) * size


def _points_per_call(config: RunConfig) -> int:
    """Collocation points in one vectorised call: the batch (or the solver's ``accumulate``-th part
    of it, for a Gauss-Newton step that sums its normal equations over chunks), or the operators'
    chunk of it."""
    batch = config.train.batch_size // getattr(config.solver.settings, "accumulate", 1)
    chunk = config.operators.point_chunk
    return min(batch, chunk) if chunk else batch


def _bytes_per_perturbation(config: RunConfig, evals_per_point: int) -> float:
    """The activation memory of one loss evaluation on one call's points."""
    size = 8 if config.precision == "float64" else 4
    return _points_per_call(config) * evals_per_point * sum(config.model.widths) * size


def estimate_bytes(config: RunConfig, evals_per_point: int, n_params: int) -> float:
    """The activation memory of one loss evaluation batch (see the module docstring)."""
    return _bytes_per_perturbation(config, evals_per_point) * perturbations(config.solver, n_params)


def tangent_column_bytes(config: RunConfig, evals_per_point: int) -> float:
    """One first-layer tangent column: ``TANGENT_COPIES`` of the first pre-activation (width w1)
    at every node of one call's points."""
    size = 8 if config.precision == "float64" else 4
    return TANGENT_COPIES * _points_per_call(config) * evals_per_point * config.model.widths[0] * size


def tangent_bytes(config: RunConfig, evals_per_point: int, first_params: int) -> float:
    """The first-layer tangent columns the solver evaluates at once, for a first layer of
    ``first_params`` parameters without per-unit weights (:func:`first_layer_params`)."""
    columns = solver_spec(config.solver.name).tangent_columns(config.solver.settings, first_params)
    return columns * tangent_column_bytes(config, evals_per_point)


def fit_solver_chunk(config: RunConfig, evals_per_point: int, n_params: int, first_params: int = 0) -> RunConfig:
    """``config`` with each unset ``chunk_size`` of the solvers it steps with (``solver``, or each of
    ``train.stages``) set to what fits ``AUTO_CHUNK_BYTES`` (or an eighth of the device's memory),
    where the whole does not fit (:func:`_fitted_chunk`); ``first_params``: :func:`first_layer_params`."""
    budget = min(AUTO_CHUNK_BYTES, device_memory()[0] / 8)
    chunks = [_fitted_chunk(each, evals_per_point, n_params, first_params, budget) for _, each in stage_configs(config)]
    if not config.train.stages:
        if chunks[0] is None:
            return config
        # a solver's settings class is made from its spec (settings_class): this one has chunk_size
        settings = dataclasses.replace(config.solver.settings, chunk_size=chunks[0])  # type: ignore[call-arg]
        return dataclasses.replace(config, solver=dataclasses.replace(config.solver, settings=settings))
    stages = [
        stage if chunk is None else {**stage, "chunk_size": chunk} for stage, chunk in zip(config.train.stages, chunks)
    ]
    return dataclasses.replace(config, train=dataclasses.replace(config.train, stages=stages))


def _fitted_chunk(
    config: RunConfig, evals_per_point: int, n_params: int, first_params: int, budget: float
) -> int | None:
    """The chunk of ``config.solver``'s unset ``chunk_size`` that fits ``budget``: of its perturbed
    evaluations (None where one alone does not fit: :func:`check_memory` then names the point chunk
    to set), or of a layerwise Jacobian's ``first_params`` first-layer tangents (at least 1; all of
    them at once where the chunk covers more than half: half the budget's columns). None where the
    chunk is set or where everything fits."""
    settings = config.solver.settings
    if getattr(settings, "chunk_size", 0) is not None:
        return None
    if solver_spec(config.solver.name).tangent_columns(settings, first_params):
        per_column = tangent_column_bytes(config, evals_per_point)
        return max(1, int(budget // (2 * per_column))) if first_params * per_column > budget else None
    fits = int(budget // _bytes_per_perturbation(config, evals_per_point))
    return fits if 1 <= fits < perturbations(config.solver, n_params) else None


def device_memory() -> tuple[float, str]:
    """(bytes, where from): the first device's memory limit, else the host's physical memory."""
    try:
        stats = jax.devices()[0].memory_stats() or {}
    except Exception:  # backends without memory statistics
        stats = {}
    if stats.get("bytes_limit"):
        return float(stats["bytes_limit"]), f"{jax.devices()[0].device_kind} memory"
    return float(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")), "host memory"


def check_memory(config: RunConfig, evals_per_point: int, n_params: int) -> None:
    """Raises ConfigError, with chunk settings that would fit, when the estimate exceeds memory
    (with ``train.stages``, the largest stage's, named)."""
    section, config = max(stage_configs(config), key=lambda item: estimate_bytes(item[1], evals_per_point, n_params))
    need = estimate_bytes(config, evals_per_point, n_params)
    have, where = device_memory()
    if need <= have:
        return
    perts = perturbations(config.solver, n_params)
    per_eval = need / (_points_per_call(config) * perts)  # one point, one perturbation
    budget = have / 2
    point_key = "train.batch_size" if config.operators.kind == "ad" else "operators.chunk_size"
    if perts * per_eval <= budget:
        fix = f"set {point_key}={int(budget // (perts * per_eval))}"
    elif per_eval <= budget:
        solver_chunk = int(min(perts, budget // per_eval) ** 0.5) or 1
        points = max(1, int(budget // (solver_chunk * per_eval)))
        fix = f"set {section}.chunk_size={solver_chunk} and {point_key}={points}"
    else:
        fix = "one point alone does not fit: use a narrower network (model.widths) or fewer stencil nodes"
    stage = f" ({section}: {config.solver.name})" if config.train.stages else ""
    raise ConfigError(
        "train.check_memory",
        f"the run{stage} needs at least {need / GIB:.3g} GiB but the {where} is "
        f"{have / GIB:.3g} GiB; {fix} (or train.check_memory=false to run anyway)",
    )


#: Characters that a run folder adds below ``--out`` (its longest file name, a temporary one) and
#: below ``--output-root`` (``<problem>/<stamp>-<label>-<n>/`` and that file).
RUN_FILE_NAME = 64
RUN_FOLDER_NAME = 200


def path_too_long(path, below: int = 0) -> str | None:
    """Why the file system cannot hold ``path`` with ``below`` more characters under it (a
    component longer than its NAME_MAX, or the whole longer than its PATH_MAX), else None."""
    raw = os.fsencode(os.path.abspath(os.fsdecode(path)))
    existing = os.path.dirname(raw)
    while existing and not os.path.isdir(existing):
        existing = os.path.dirname(existing)
    name_max, path_max = (
        _pathconf(existing or b"/", "PC_NAME_MAX", 255),
        _pathconf(existing or b"/", "PC_PATH_MAX", 4096),
    )
    longest = max(raw.split(b"/"), key=len)
    if len(longest) > name_max:
        return (
            f"has a name of {len(longest)} bytes ({preview(os.fsdecode(longest))}); the file system allows "
            f"{name_max}: choose a shorter name"
        )
    if len(raw) + below >= path_max:
        return (
            f"is {len(raw)} bytes long; with the {below} the run adds below it the file system allows "
            f"{path_max - below - 1}: choose a shorter path"
        )
    return None


def _pathconf(path: bytes, name: str, fallback: int) -> int:
    try:
        return os.pathconf(path, name)
    except (OSError, ValueError):
        return fallback


__all__ = [
    "check_memory",
    "device_memory",
    "estimate_bytes",
    "first_layer_params",
    "fit_solver_chunk",
    "path_too_long",
    "perturbations",
    "solver_held_bytes",
    "stage_configs",
    "tangent_bytes",
    "tangent_column_bytes",
]
