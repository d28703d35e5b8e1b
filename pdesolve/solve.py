"""``solve(problem, config)``: build, train, evaluate and (optionally) write a run folder."""

import contextlib
import dataclasses
import datetime
import errno
import functools
import os
from collections.abc import Callable
from pathlib import Path

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import sympy as sp
import xarray as xr
import yaml
from tqdm.auto import tqdm

from .analysis import boundary_distance, error_breakdown, residual_statistics, slice_plan, slice_points, slices_dataset
from .assemble import assemble
from .baselines import constant_baselines
from .checkpoint import RunCheckpoints
from .config import RunConfig, load_config_file, preview, resolve, safe_load, upgrade_saved
from .defaults import run_defaults
from .errors import ConfigError, PdesolveError, ProblemError
from .limits import check_memory, fit_solver_chunk
from .metrics import error_metrics
from .models import Solution
from .problem import Problem, load_problem
from .reference import Reference, check_reference, compute_reference, reference_points
from .results import (atomic_write_text, device_description, history_dataset, new_run_folder, save_model,
                      solution_dataset, versions, write_run_folder)
from .sampling import PointSampler
from .solvers import build_solver
from .train import PREDICTION_ROWS, make_predictor, train


@dataclasses.dataclass
class RunResult:
    """A finished run: datasets, report, the trained solution and the run folder (if written)."""

    solution: xr.Dataset
    history: xr.Dataset
    report: dict
    model: Solution
    config: dict  # the plain mapping of config.yaml (RunConfig.to_dict())
    path: Path | None = None
    slices: xr.Dataset | None = None  # written with a run folder only


def _as_problem(problem: Problem | str | Path) -> Problem:
    return problem if isinstance(problem, Problem) else load_problem(problem)


def _as_config(config: dict | str | Path | None) -> dict | None:
    return load_config_file(config) if isinstance(config, (str, Path)) else config


def resolve_run(problem: Problem, *updates) -> RunConfig:
    """Defaults (the schema's, then the problem-dependent BP-free ones of ``pdesolve.defaults``),
    then the problem's own ``config`` section, then each update in order."""
    return resolve(run_defaults(problem.dimension, problem.has_time), problem.config, *updates)


def resolve_run_config(problem: Problem, *updates) -> dict:
    """``resolve_run`` as the plain mapping."""
    return resolve_run(problem, *updates).to_dict()


def solve(problem: Problem | str | Path, config: dict | str | Path | None = None, *,
          overrides: list[dict] | tuple = (), out: str | Path | None = None,
          output_root: str | Path = "outputs", resume: str | Path | None = None,
          on_log: Callable[[dict], None] | None = None) -> RunResult:
    """Solves ``problem`` (a Problem or a problem file) with ``config`` (a mapping or a YAML file),
    then ``overrides`` (mappings, e.g. from ``--set``). Writes a run folder when ``out`` is a
    folder (used as is: it must not hold files) or ``out == "auto"`` (under ``output_root``).

    ``resume`` is the folder of an unfinished run: training continues there from its last
    checkpoint with the run's own config (``config`` and ``overrides`` may only repeat it, or
    change ``train.progress``).

    ``on_log(row)`` is called with each logged training history row (see :func:`pdesolve.train.train`).
    """
    problem = _as_problem(problem)
    if resume is not None:
        config = _resume_config(Path(resume), problem, _as_config(config), overrides)
    else:
        config = resolve_run(problem, _as_config(config), *overrides)
    # the precision holds for this run only (and this thread), never for the rest of the process
    scope = jax.enable_x64(True) if config.precision == "float64" else contextlib.nullcontext()
    where: dict = {}  # the run folder, once made
    try:
        with scope:
            return _run(problem, config, out=out, output_root=output_root, resume=resume, where=where, on_log=on_log)
    except PdesolveError:
        if resume is None:
            _discard_unstarted(where)
        raise
    except OSError as err:
        if where.get("folder") is None or err.errno not in WRITE_ERRNOS:
            raise
        raise _write_error(err, where["folder"]) from None
    except KeyboardInterrupt as err:
        err.run_folder = where.get("folder")  # for the CLI's hint: continue with --resume there
        raise


def _run(problem: Problem, config: RunConfig, *, out, output_root, resume, where: dict, on_log=None) -> RunResult:
    """Builds, trains and evaluates under the run's precision (see :func:`solve`)."""
    pieces = assemble(problem, config)
    compiled, network, solution, engine, dtype = (pieces.compiled, pieces.network, pieces.solution, pieces.engine,
                                                  pieces.dtype)
    soft_kinds = pieces.soft_kinds
    config, solver = _solver_of(problem, config, pieces)
    _check_exact(problem, compiled, dtype)

    resolved = {"problem_file": problem.source_file, "problem": _plain(problem.raw), "config": config.to_dict()}
    if jax.process_count() > 1:  # several hosts: process 0 writes the run folder
        if resume is not None:
            raise ConfigError("--resume", "resuming is supported on one host only")
        out = out if jax.process_index() == 0 else None
    created = out == "auto" or (out is not None and not Path(out).exists())  # else an empty folder given
    folder = Path(resume) if resume is not None else _prepare_folder(problem, config, out, Path(output_root))
    where.update(folder=folder, created=created)
    checkpoints = None
    if folder is not None:
        if resume is None:  # first thing in the folder: enough to rerun, or to resume
            atomic_write_text(folder / "config.yaml", yaml.safe_dump(resolved, sort_keys=False))
        checkpoints = RunCheckpoints(folder, {"problem": problem.name, "solver": config.solver.name,
                                              "operators": engine.name})
    # a resumed run whose training had finished (it was stopped in the final evaluation) is not retrained
    result = checkpoints.load_trained(solution) if resume is not None else None
    if result is None:
        result = train(compiled, solution, engine, solver, config, soft_kinds, checkpoints=checkpoints,
                       resume=checkpoints is not None and checkpoints.exists(), on_log=on_log)
    if folder is not None:  # the trained network first: open_run(folder).predict reloads it
        save_model(folder, result.solution)
        checkpoints.save_trained(result)  # names model.eqx: from here on --resume only evaluates

    x, t = _evaluation_points(problem, dtype)
    params, static = eqx.partition(result.solution, eqx.is_inexact_array)
    predict = make_predictor(engine, static, problem.dimension)
    chunk = max(1, PREDICTION_ROWS // engine.evals_per_point(frozenset({"u"}), problem.dimension))
    u_pred, u_raw = _evaluate(predict, params, x, t, chunk, config.train.progress)
    smoothed = engine.solution(result.solution) is not result.solution
    u_exact, ref = _reference_values(compiled, x, t)  # exact solution, or reference: values or Monte Carlo

    report = _report(problem, config, result, engine, solver, network, u_pred, u_exact, smoothed, ref)
    report.update(_analysis(problem, compiled, result.solution, x, t, u_pred, u_exact, smoothed))
    solution_ds = _solution_dataset(problem, config, report, x, t, u_pred, u_raw if smoothed else None, u_exact, ref)
    history_ds = history_dataset(result.history, {"problem": problem.name, "solver": report["solver"],
                                                  "operators": report["operators"]})
    run = RunResult(solution_ds, history_ds, report, result.solution, resolved["config"], folder)
    if folder is not None:
        line = _line(problem, compiled, predict, params, dtype)
        evaluate = functools.partial(_evaluate, predict, params, chunk=chunk, progress=config.train.progress)
        run.slices = _slices(problem, compiled, evaluate, x, dtype, smoothed, solution_ds.attrs)
        write_run_folder(folder, solution=solution_ds, history=history_ds, report=report, resolved=resolved,
                         line=line, history_arrays=result.history, slices=run.slices,
                         units=problem.evaluation.get("units"))
    return run


def _solver_of(problem: Problem, config: RunConfig, pieces) -> tuple[RunConfig, object]:
    """The config with ``solver.chunk_size`` fitted to memory (``limits.fit_solver_chunk``; it is
    what config.yaml records) and its solver, after the memory check."""
    evals_per_point = pieces.engine.evals_per_point(pieces.compiled.needs, problem.dimension)
    config = fit_solver_chunk(config, evals_per_point, pieces.network.n_params)
    solver = build_solver(config.solver, config.train.steps)
    if config.train.check_memory:
        check_memory(config, evals_per_point, pieces.network.n_params)
    return config, solver


def _evaluation_points(problem: Problem, dtype) -> tuple[np.ndarray, np.ndarray]:
    """The evaluation points x (n, d), t (n,): those of ``reference.values`` if listed, else sampled."""
    listed = reference_points(problem)
    if listed is None:
        sampler = PointSampler(problem.domain, problem.time, problem.evaluation["sampling"], problem.evaluation["seed"])
        listed = sampler.interior(problem.evaluation["points"])
    return tuple(np.asarray(a, dtype) for a in listed)


def _reference_values(compiled, x, t) -> tuple[np.ndarray | None, Reference | None]:
    """(values (n,) the errors are measured against or None, the ``reference:`` result or None)."""
    if compiled.exact is not None:
        return np.asarray(compiled.exact(jnp.asarray(x), jnp.asarray(t))), None
    ref = compute_reference(compiled, x, t)
    return (None, None) if ref is None else (ref.u.astype(x.dtype), ref)


def _check_exact(problem: Problem, compiled, dtype) -> None:
    """Refuses, before training, an exact solution that is not finite on the evaluation points:
    an error report against NaN says nothing (it would read ``rel_l2 nan``). Identifies the form
    of a Monte Carlo ``reference:`` (refusing an unsupported one) before training too."""
    check_reference(compiled)
    if compiled.exact is None:
        return
    sampler = PointSampler(problem.domain, problem.time, problem.evaluation["sampling"], problem.evaluation["seed"])
    x, t = (np.asarray(a, dtype) for a in sampler.interior(problem.evaluation["points"]))
    u = np.asarray(compiled.exact(jnp.asarray(x), jnp.asarray(t)))
    bad = ~np.isfinite(u)
    if bad.any():
        i = int(np.argmax(bad))
        at = f"x = {preview(x[i].tolist())}" + (f", t = {t[i]:.6g}" if problem.has_time else "")
        raise ProblemError("exact", f"is {u[i]} at {int(bad.sum())} of {len(u)} evaluation points (e.g. {at}); "
                           "give an expression that is finite on the whole domain", source=problem.source_file)


def _evaluate(predict, params, x, t, chunk: int, progress: bool,
              desc: str = "evaluation") -> tuple[np.ndarray, np.ndarray]:
    """``predict`` over the evaluation points in chunks of ``chunk`` points, with a progress bar."""
    parts = []
    with tqdm(total=len(x), disable=not progress, desc=desc, unit="point", leave=False) as bar:
        for i in range(0, len(x), chunk):
            parts.append(predict(params, x[i:i + chunk], t[i:i + chunk]))
            bar.update(len(parts[-1][0]))
    return tuple(np.concatenate([p[k] for p in parts]) for k in range(2))


def _discard_unstarted(where: dict) -> None:
    """After an error, removes a new run folder that holds nothing but ``config.yaml`` (and
    temporary files), so that the same ``--out`` can be used again."""
    folder = where.get("folder")
    if folder is None or not folder.is_dir():
        return
    names = os.listdir(folder)
    if not all(n == "config.yaml" or (n.startswith(".") and n.endswith(".tmp")) for n in names):
        return  # training had started: keep what it wrote
    for name in names:
        (folder / name).unlink(missing_ok=True)
    if where.get("created"):
        folder.rmdir()


WRITE_ERRNOS = (errno.ENOSPC, errno.EDQUOT, errno.EROFS, errno.EACCES, errno.EPERM, errno.EFBIG, errno.EIO)


def _write_error(err: OSError, folder: Path) -> ConfigError:
    """A failure to write the run folder (read-only, disk full), as an error with the fix."""
    reason = err.strerror or str(err)
    if (folder / "model.eqx").is_file():
        fix = f"make room, then finish the evaluation with --resume {folder} (the trained model is saved)"
    else:
        fix = "make room or choose a writable --out / --output-root"
    if err.errno in (errno.ENOSPC, errno.EDQUOT):
        reason = "the disk is full"
    return ConfigError("--out", f"cannot write the run folder {folder}: {reason}; {fix}")


def _resume_config(folder: Path, problem: Problem, config: dict | None, overrides) -> RunConfig:
    """The config of the unfinished run in ``folder``; refuses a different problem or config."""
    path = folder / "config.yaml"
    if not path.is_file():
        raise ConfigError("--resume", f"{folder} is not a run folder (no config.yaml)")
    if (folder / "report.json").is_file():
        raise ConfigError("--resume", f"the run in {folder} has finished (report.json exists); start a new run")
    try:
        saved = safe_load(path.read_text())
        saved_config = upgrade_saved(saved["config"])
    except (yaml.YAMLError, TypeError, KeyError):
        raise ConfigError("--resume", f"{path} is not a run's config.yaml") from None
    if _plain(problem.raw) != saved.get("problem"):
        raise ConfigError("--resume", f"the problem differs from the one the run in {folder} was made with "
                          f"({saved.get('problem_file')})")
    merged = resolve(saved_config, config, *overrides)
    for section, values in merged.to_dict().items():
        for key, value in values.items() if isinstance(values, dict) else [(None, values)]:
            field = section if key is None else f"{section}.{key}"
            old = saved_config[section] if key is None else saved_config[section].get(key)
            if value != old and field != "train.progress":
                raise ConfigError(field, f"is {old!r} in the run being resumed, not {value!r}; "
                                  "a resumed run keeps its config")
    return merged


def _prepare_folder(problem: Problem, config: RunConfig, out, root: Path) -> Path | None:
    if out is None:
        return None
    folder = Path(out)
    try:
        if out == "auto":
            stamp = datetime.datetime.now().strftime("%Y%m%d-%H%M%S")
            label = f"{config.operators.kind}-{config.solver.name}-{config.model.kind}"
            folder = root
            return new_run_folder(root, problem.name, label, stamp)
        if folder.exists() and (not folder.is_dir() or any(folder.iterdir())):
            raise ConfigError("--out", f"{folder} already exists and is not empty; choose a new folder "
                              "(runs are never overwritten)")
        folder.mkdir(parents=True, exist_ok=True)
        if not os.access(folder, os.W_OK | os.X_OK):
            raise PermissionError(errno.EACCES, "permission denied", str(folder))
    except OSError as err:
        option = "--output-root" if out == "auto" else "--out"
        raise ConfigError(option, f"cannot create a run folder in {folder}: {err.strerror or err}; choose a "
                          "folder you can write to") from None
    return folder


def _report(problem, config, result, engine, solver, network, u_pred, u_exact, smoothed, ref=None) -> dict:
    report = {"problem": problem.name, "title": problem.title, "equation": problem.equation_text,
              "domain": problem.domain.describe(), "dimension": problem.dimension,
              "warnings": list(problem.warnings)}  # well-posedness concerns (pdesolve check prints them)
    if u_exact is not None:
        report.update(error_metrics(u_pred, u_exact))
    report["errors_against"] = (ref.label if ref is not None else "exact solution" if u_exact is not None
                                else "none (no exact solution or reference)")
    if ref is not None:
        report["reference"] = ref.info  # Monte Carlo: paths, seed, method, stderr_mean, stderr_max
    final_wall = float(result.history["wall_time"][-1]) if len(result.history["wall_time"]) else 0.0
    report.update({
        "prediction": engine.prediction if smoothed else "network",
        "wall_time_s": result.wall_time_s,
        "train_time_s": final_wall,
        "steps": result.steps_done,
        "stop_reason": result.stop_reason,
        "n_params": int(network.n_params),
        "dense_n_params": int(network.dense_n_params),
        "model": config.model.kind,
        "solver": config.solver.name,
        "operators": engine.name,
        "backprop": bool(solver.uses_backprop),
        "loss_evals": int(result.history["loss_evals"][-1]) if len(result.history["loss_evals"]) else 0,
        "network_evals": int(result.history["network_evals"][-1]) if len(result.history["network_evals"]) else 0,
        "seed": config.seed,
        "precision": config.precision,
        "device": device_description(),
        "versions": versions(),
        "evaluation_points": problem.evaluation["points"],
    })
    return report


ANALYSIS_ATTRS = ("mse", "rel_l2", "rel_l1", "max_abs_error", "baselines", "residual_mean_abs", "residual_max_abs",
                  "residual_rms", "residual_of", "reference")


def _attributes(problem, config, report) -> dict:
    """Dataset attributes: the problem, what errors are measured against, every setting (flattened
    to ``section_key`` by the writer) and the report's global numbers."""
    return {"problem": problem.name, "title": problem.title, "equation": problem.equation_text,
            "domain": problem.domain.describe(), "prediction": report["prediction"],
            "errors_against": report["errors_against"],
            **config.to_dict(), **{k: report[k] for k in ANALYSIS_ATTRS if k in report}}


def _solution_dataset(problem, config, report, x, t, u_pred, u_raw, u_exact, ref=None) -> xr.Dataset:
    """``solution.nc``: values (n,) on the evaluation points, x (n, d) and t (n,) as coordinates;
    with a ``reference:``, ``u_exact`` holds the reference (its long_name says which) and a Monte
    Carlo one adds ``u_exact_stderr``."""
    distance = boundary_distance(problem.domain, x)
    extra = {} if distance is None else {"boundary_distance": (distance, {"long_name": "distance to the boundary"})}
    name = "exact solution" if ref is None else {"values": "reference values"}.get(ref.info["kind"], ref.label)
    return solution_dataset(x, t if problem.has_time else None, u_pred, u_raw, u_exact,
                            _attributes(problem, config, report), units=problem.evaluation.get("units"),
                            extra_coords=extra, exact_name=name, exact_stderr=None if ref is None else ref.stderr)


#: Test points (the first ones) at which the report gives residual statistics by autodiff.
RESIDUAL_POINTS = 512


def _analysis(problem, compiled, trained, x, t, u_pred, u_exact, smoothed) -> dict:
    """Report entries beyond the global errors: error breakdowns and constant baselines (with an
    exact solution), and residual statistics by autodiff at the first ``RESIDUAL_POINTS`` test
    points (always)."""
    out = {}
    if u_exact is not None:
        out.update(error_breakdown(problem, x, t if problem.has_time else None, u_pred, u_exact))
        out["baselines"] = constant_baselines(trained, jnp.asarray(x), jnp.asarray(t), u_exact)
    # Autodiff costs 2d + 1 passes per point: at d = 1000 all 2000 test points took ~7 minutes.
    out.update(residual_statistics(compiled, trained, x[:RESIDUAL_POINTS], t[:RESIDUAL_POINTS]))
    out["residual_points"] = min(len(x), RESIDUAL_POINTS)
    # A Stein run reports the smoothed model; autodiff through the smoothing rule would cost
    # (rule nodes) x (autodiff passes) per point, so its residual is that of the raw network.
    out["residual_of"] = "raw network (by autodiff)" if smoothed else "network (by autodiff)"
    return out


def _slices(problem, compiled, evaluate, x_test, dtype, smoothed, attrs) -> xr.Dataset | None:
    """``slices.nc``: prediction (and exact, error) on the 2-d slice grid of ``evaluation.slice``;
    ``evaluate(x, t, desc=...) -> (u_pred, u_raw)`` in chunks; ``attrs`` those of ``solution.nc``."""
    plan = slice_plan(problem, x_test)
    if plan is None:
        return None
    t_default = 0.0 if problem.time is None else problem.time[0]
    xs, ts, shape = slice_points(plan, t_default)
    xs, ts = xs.astype(dtype), ts.astype(dtype)
    u_pred, u_raw = evaluate(xs, ts, desc="slices")
    values = {"u_pred": u_pred, **({"u_raw": u_raw} if smoothed else {})}
    if compiled.exact is not None:
        values["u_exact"] = np.asarray(compiled.exact(jnp.asarray(xs), jnp.asarray(ts)))
    keep = ("problem", "title", "equation", "domain", "prediction", "errors_against")
    if "u_exact" not in values and problem.reference is not None:
        attrs = {**attrs, "errors_against": "none on the slices (the reference is at the evaluation points only)"}
    ds = slices_dataset(problem, plan, xs, values, shape, {"Conventions": "CF-1.10", **{k: attrs[k] for k in keep}})
    return ds


def _line(problem, compiled, predict, params, dtype) -> dict:
    s, x = problem.domain.line(201)
    t_mid = 0.0 if problem.time is None else 0.5 * (problem.time[0] + problem.time[1])
    t = np.full(len(s), t_mid)
    u_pred = predict(params, x.astype(dtype), t.astype(dtype))[0]
    u_exact = None if compiled.exact is None else np.asarray(compiled.exact(jnp.asarray(x, dtype), jnp.asarray(t, dtype)))
    label = "position along the domain's diagonal" + ("" if problem.time is None else f" (t = {t_mid:g})")
    return {"s": s, "u_pred": u_pred, "u_exact": u_exact, "label": label}


def _plain(value):
    """Raw problem data made YAML-safe (sympy objects from Python modules become strings)."""
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if isinstance(value, (str, int, float, bool)) or value is None:
        return value
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, sp.Equality):  # str() gives Eq(a, b): write it as the parser reads it
        return f"{value.lhs} = {value.rhs}"
    return str(value)


__all__ = ["RunResult", "resolve_run", "resolve_run_config", "solve"]
