"""The report of a finished run (errors, settings, costs, analysis) and its ``solution.nc`` dataset."""

import xarray as xr

from ..analysis import boundary_distance, error_breakdown, residual_statistics
from ..baselines import constant_baselines
from ..config import RunConfig
from ..metrics import error_metrics
from ..problem import CompiledProblem, Problem
from ..reference import Reference
from ..results import device_description, solution_dataset, versions
from ._build import Assembled
from ._trained import TrainResult


def _last(history: dict, name: str) -> int:
    """The last logged value of the count ``name`` (0 before any log)."""
    return int(history[name][-1]) if len(history[name]) else 0


def run_report(
    problem: Problem,
    pieces: Assembled,
    result: TrainResult,
    u_pred,
    u_exact,
    smoothed: bool,
    ref: Reference | None = None,
) -> dict:
    """``report.json``: the problem, the errors against ``u_exact`` (exact solution or reference), the
    stop reason, costs, settings, device and versions."""
    config, engine, network = pieces.config, pieces.engine, pieces.network
    report = {
        "problem": problem.name,
        "title": problem.title,
        "equation": problem.equation_text,
        "domain": problem.domain.describe(),
        "dimension": problem.dimension,
        "warnings": list(problem.warnings),
    }  # well-posedness concerns (pdesolve check prints them)
    if u_exact is not None:
        report.update(error_metrics(u_pred, u_exact))
        report["evaluation_law"] = "listed points" if ref is not None and ref.info["kind"] == "values" else "volume"
    report["errors_against"] = (
        ref.label
        if ref is not None
        else "exact solution"
        if u_exact is not None
        else "none (no exact solution or reference)"
    )
    if ref is not None:
        report["reference"] = ref.info  # Monte Carlo: paths, seed, method, stderr_mean, stderr_max
    # the time budget's clock: solver steps only (not the first, compiling step, nor validation)
    train_time = float(result.history["train_time"][-1]) if len(result.history["train_time"]) else 0.0
    report.update(
        {
            "prediction": engine.prediction if smoothed else "network",
            "wall_time_s": result.wall_time_s,
            "train_time_s": train_time,
            "steps": result.steps_done,
            "stop_reason": result.stop_reason,
            "n_params": int(network.n_params),
            "dense_n_params": int(network.dense_n_params),
            "model": config.model.kind,
            "inputs": pieces.inputs,
            "solver": config.solver.name,
            "operators": engine.name,
            "backprop": bool(pieces.solver.uses_backprop),
            "loss_evals": _last(result.history, "loss_evals"),
            "network_evals": _last(result.history, "network_evals"),
            "seed": config.seed,
            "init_from": config.train.init_from,  # warm start: the trained run the network started from
            "precision": config.precision,
            "device": device_description(),
            "versions": versions(),
            "evaluation_points": problem.evaluation["points"],
        }
    )
    return report


#: Test points (the first ones) at which the report gives residual statistics by autodiff.
RESIDUAL_POINTS = 512


def analysis(problem: Problem, compiled: CompiledProblem, trained, x, t, u_pred, u_exact, smoothed: bool) -> dict:
    """Report entries beyond the global errors: error breakdowns and constant baselines (with an
    exact solution), and residual statistics by autodiff at the first ``RESIDUAL_POINTS`` test
    points (always)."""
    out = {}
    if u_exact is not None:
        out.update(error_breakdown(problem, x, t if problem.has_time else None, u_pred, u_exact))
        out["baselines"] = constant_baselines(trained, x, t, u_exact)  # in chunks: no device copy of x
    # Autodiff costs 2d + 1 passes per point, too slow for every test point at large d
    # (benchmarks/results/residual_points/).
    out.update(residual_statistics(compiled, trained, x[:RESIDUAL_POINTS], t[:RESIDUAL_POINTS]))
    out["residual_points"] = min(len(x), RESIDUAL_POINTS)
    # A Stein run reports the smoothed model; autodiff through the smoothing rule would cost
    # (rule nodes) x (autodiff passes) per point, so its residual is that of the raw network.
    out["residual_of"] = "raw network (by autodiff)" if smoothed else "network (by autodiff)"
    return out


ANALYSIS_ATTRS = (
    "mse",
    "rel_l2",
    "rel_l1",
    "max_abs_error",
    "evaluation_law",
    "radius_uniform",
    "by_radius_band",
    "centre",
    "at_points",
    "line_max_abs_error",
    "baselines",
    "residual_mean_abs",
    "residual_max_abs",
    "residual_rms",
    "residual_of",
    "reference",
)


def _attributes(problem: Problem, config: RunConfig, report: dict) -> dict:
    """Dataset attributes: the problem, what errors are measured against, every setting (flattened
    to ``section_key`` by the writer) and the report's global numbers (``at_points`` without their
    coordinates: its rows name the point by its index in ``evaluation.at.points``)."""
    numbers = {k: report[k] for k in ANALYSIS_ATTRS if k in report}
    if "at_points" in numbers:
        numbers["at_points"] = [{k: v for k, v in row.items() if k != "x"} for row in numbers["at_points"]]
    return {
        "problem": problem.name,
        "title": problem.title,
        "equation": problem.equation_text,
        "domain": problem.domain.describe(),
        "prediction": report["prediction"],
        "errors_against": report["errors_against"],
        **config.to_dict(),
        **numbers,
    }


def run_solution_dataset(
    problem: Problem, config: RunConfig, report: dict, x, t, u_pred, u_raw, u_exact, ref: Reference | None = None
) -> xr.Dataset:
    """``solution.nc``: values (n,) on the evaluation points, x (n, d) and t (n,) as coordinates;
    with a ``reference:``, ``u_exact`` holds the reference (its long_name says which) and a Monte
    Carlo one adds ``u_exact_stderr``."""
    distance = boundary_distance(problem.domain, x)
    extra = {} if distance is None else {"boundary_distance": (distance, {"long_name": "distance to the boundary"})}
    name = "exact solution" if ref is None else {"values": "reference values"}.get(ref.info["kind"], ref.label)
    return solution_dataset(
        x,
        t if problem.has_time else None,
        u_pred,
        u_raw,
        u_exact,
        _attributes(problem, config, report),
        units=problem.evaluation.get("units"),
        extra_coords=extra,
        exact_name=name,
        exact_stderr=None if ref is None else ref.stderr,
    )
