"""Shared pieces of the benchmark suites: sizes, metadata, building a run's pieces, writing results.

Every suite returns a list of row dicts; :func:`write_results` turns them into ``table.csv``,
``table.nc`` (an xarray Dataset, one variable per column along a ``row`` dimension), ``summary.md``
and ``meta.json`` under ``benchmarks/results/<suite>/``, with the commit and whether the code had
uncommitted changes, the device, date, versions, the machine's load average and the settings.
:func:`regenerate_readme` rebuilds the summary section of ``benchmarks/README.md`` from every
suite's ``summary.md``.
"""

import contextlib
import dataclasses
import datetime
import json
import math
import os
import statistics
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
RESULTS = Path(__file__).resolve().parent / "results"
PROBLEMS = ROOT / "problems"
CONFIGS = ROOT / "configs"


def load_average() -> str:
    try:
        one, five, fifteen = os.getloadavg()
    except OSError:
        return "n/a"
    return f"{one:.2f} / {five:.2f} / {fifteen:.2f} (1 / 5 / 15 min), {os.cpu_count()} logical cores"


def metadata(suite: str, size: str, settings: dict) -> dict:
    import jax

    from pdesolve.results import device_description, versions

    return {
        "suite": suite,
        "size": size,
        "date": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
        "device": device_description(),
        "devices": [str(d) for d in jax.devices()],
        "versions": versions(),
        "load_average_start": load_average(),
        **git_state(),
        "settings": settings,
    }


#: What a run's code is: a change here makes the run "dirty" (results and the regenerated README are not).
CODE_PATHS = ("pdesolve", "benchmarks", "problems", "configs", ":!benchmarks/results", ":!benchmarks/README.md")


def git_state() -> dict:
    """``commit`` (HEAD), ``dirty`` (whether :data:`CODE_PATHS` had uncommitted changes) and the changed paths."""
    import subprocess

    def git(*args: str) -> str:
        return subprocess.run(["git", *args], cwd=ROOT, capture_output=True, text=True, timeout=10, check=True).stdout

    try:
        commit = git("rev-parse", "HEAD").strip()
        changed = [line[3:] for line in git("status", "--porcelain", "--", *CODE_PATHS).splitlines()]
    except (OSError, subprocess.SubprocessError):
        return {"commit": "unknown", "dirty": None, "dirty_paths": []}
    return {"commit": commit, "dirty": bool(changed), "dirty_paths": changed}


def problem_with(path: str | Path, *, dimension: int | None = None, eval_points: int | None = None, **params):
    """Loads a shipped problem with an optional dimension and evaluation-point override."""
    from pdesolve.problem import load_problem

    overrides = dict(params)
    if dimension is not None:
        overrides["dimension"] = dimension
    problem = load_problem(Path(path), overrides=overrides or None)
    if eval_points is not None:
        problem = dataclasses.replace(problem, evaluation={**problem.evaluation, "points": eval_points})
    return problem


@contextlib.contextmanager
def built(problem, config: dict, *, batch_size: int | None = None):
    """The pieces ``pdesolve.solve`` builds before training (``pdesolve.run.build``), for
    compile-time analyses, under the run's precision (float64 for the ``with`` block only).

    Yields a dict with ``loss`` (params, batch, key), ``params``, ``static``, ``solver``, ``state``,
    ``batch`` (of step 0), ``make_batch``, ``engine``, ``network``, ``compiled``, ``config``
    (resolved, plain) and ``dtype``.
    """
    import equinox as eqx

    from pdesolve.run import build, precision, resolve_run

    config = resolve_run(problem, config, None if batch_size is None else {"train": {"batch_size": batch_size}})
    with precision(config):
        pieces = build(problem, config)
        params, static = eqx.partition(pieces.solution, eqx.is_inexact_array)
        loss = pieces.loss(static)
        maker = pieces.batch_maker()
        yield {
            "make_batch": maker,
            "loss": loss,
            "params": params,
            "static": static,
            "solver": pieces.solver,
            "state": pieces.solver.init(loss, params),
            "batch": maker(0),
            "engine": pieces.engine,
            "network": pieces.network,
            "config": config.to_dict(),
            "dtype": pieces.dtype,
            "compiled": pieces.compiled,
        }


def peak_bytes(compiled) -> int | None:
    """arguments + outputs + temporaries - aliased, from XLA's ``memory_analysis()``."""
    analysis = compiled.memory_analysis()
    if analysis is None:
        return None
    return int(
        analysis.argument_size_in_bytes
        + analysis.output_size_in_bytes
        + analysis.temp_size_in_bytes
        - analysis.alias_size_in_bytes
    )


def flops_of(compiled) -> float | None:
    cost = compiled.cost_analysis()
    if isinstance(cost, (list, tuple)):
        cost = cost[0] if cost else None
    if not cost:
        return None
    value = cost.get("flops")
    return None if value is None or value < 0 else float(value)


def median_time(fn, *args, repeats: int = 5, min_time_s: float = 0.3) -> float:
    """Median wall time of ``fn(*args)`` (block_until_ready) after one warm-up call."""
    import jax

    jax.block_until_ready(fn(*args))
    times = []
    start = time.perf_counter()
    while len(times) < repeats or (time.perf_counter() - start < min_time_s and len(times) < 50):
        t0 = time.perf_counter()
        jax.block_until_ready(fn(*args))
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def fmt(value, digits: int = 3) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        if math.isnan(value):
            return "-"
        return f"{value:.{digits}g}"
    return str(value)


def markdown_table(rows: list[dict], columns: list[str], headers: list[str] | None = None) -> list[str]:
    headers = headers or columns
    lines = ["| " + " | ".join(headers) + " |", "|" + "---|" * len(columns)]
    for row in rows:
        lines.append("| " + " | ".join(fmt(row.get(c)) for c in columns) + " |")
    return lines


def _column(values):
    if all(isinstance(v, (bool, np.bool_)) or v is None for v in values) and any(v is not None for v in values):
        return np.array(["" if v is None else str(v) for v in values])
    if all(isinstance(v, (int, float, np.integer, np.floating)) or v is None for v in values):
        return np.array([np.nan if v is None else float(v) for v in values])
    return np.array(["" if v is None else str(v) for v in values])


def write_results(
    suite: str, rows: list[dict], meta: dict, summary: list[str], out: Path | None = None, figures: dict | None = None
) -> Path:
    """Writes table.csv, table.nc, meta.json, summary.md (and figures) to ``out`` (default
    ``benchmarks/results/<suite>``); returns the folder."""
    import csv

    import xarray as xr

    out = Path(out) if out is not None else RESULTS / suite
    out.mkdir(parents=True, exist_ok=True)
    meta = {**meta, "load_average_end": load_average()}
    columns = list(dict.fromkeys(k for row in rows for k in row))
    with open(out / "table.csv", "w", newline="") as file:
        for key in ("suite", "size", "commit", "dirty", "date", "device", "load_average_start", "load_average_end"):
            file.write(f"# {key}: {meta[key]}\n")
        file.write(f"# versions: {json.dumps(meta['versions'])}\n")
        writer = csv.DictWriter(file, fieldnames=columns)
        writer.writeheader()
        for row in rows:
            writer.writerow({c: row.get(c, "") for c in columns})
    attrs = {k: (v if isinstance(v, str) else json.dumps(v, default=str)) for k, v in meta.items()}
    ds = xr.Dataset({c: ("row", _column([row.get(c) for row in rows])) for c in columns}, attrs=attrs)
    ds.to_netcdf(out / "table.nc")
    (out / "meta.json").write_text(json.dumps(meta, indent=2, default=str) + "\n")
    dirty = f" with uncommitted changes in {len(meta['dirty_paths'])} files (meta.json)" if meta["dirty"] else ""
    header = [
        f"- size: `{meta['size']}`, commit `{meta['commit'][:12]}`{dirty}, date {meta['date']}, "
        f"device {meta['device']}",
        "- versions: " + ", ".join(f"{k} {v}" for k, v in meta["versions"].items()),
        f"- load average at start: {meta['load_average_start']}; at end: {meta['load_average_end']}",
        "",
    ]
    (out / "summary.md").write_text("\n".join(header + summary) + "\n")
    for name, fig in (figures or {}).items():
        fig.savefig(out / name, dpi=110, bbox_inches="tight")
    return out


README_MARK = "<!-- suite summaries: regenerated by `python -m benchmarks` -->"


def partial_path(suite: str) -> Path:
    """Where a running suite keeps its rows so far: ``<tmp>/pdesolve-benchmarks-<suite>-partial.csv``."""
    import tempfile

    return Path(tempfile.gettempdir()) / f"pdesolve-benchmarks-{suite}-partial.csv"


def write_partial(suite: str, rows: list[dict]) -> None:
    """Rows so far to :func:`partial_path`, so that a killed or hung run keeps them (removed when
    the suite's results are written)."""
    import csv

    columns = list(dict.fromkeys(k for row in rows for k in row))
    with open(partial_path(suite), "w", newline="") as file:
        writer = csv.DictWriter(file, fieldnames=columns)
        writer.writeheader()
        writer.writerows(rows)


def regenerate_readme(suites: list[str]) -> None:
    """Rewrites the part of benchmarks/README.md after the marker from each suite's summary.md."""
    readme = Path(__file__).resolve().parent / "README.md"
    text = readme.read_text() if readme.exists() else README_MARK + "\n"
    head = text.split(README_MARK)[0]
    parts = [head + README_MARK, ""]
    for suite in suites:
        summary = RESULTS / suite / "summary.md"
        parts.append(f"### `{suite}`")
        parts.append("")
        if summary.exists():
            parts.append(summary.read_text().rstrip())
            parts.append("")
            parts.append(
                f"Full table: [`results/{suite}/table.csv`](results/{suite}/table.csv)"
                f" (and `table.nc`, `meta.json`, figures in the same folder)."
            )
        else:
            parts.append("Not run yet.")
        parts.append("")
    readme.write_text("\n".join(parts))


def selected(only, names) -> set:
    """The names of ``names`` that ``--only`` keeps: those it lists, or all when it lists none of them."""
    listed = set(only or ()) & set(names)
    return listed or set(names)


def deep_update(base: dict, update: dict) -> dict:
    out = dict(base)
    for key, value in update.items():
        out[key] = deep_update(out[key], value) if isinstance(value, dict) and isinstance(out.get(key), dict) else value
    return out


def validation_seconds(run, problem) -> float:
    """Time of one validation pass (the prediction at ``train.validation_points``) of a finished run;
    the training loop's logged wall time includes one per log, which :func:`train_run` subtracts."""
    import equinox as eqx

    from pdesolve.config import resolve
    from pdesolve.run import build_engine, make_predictor, precision, run_dtype
    from pdesolve.sampling import PointSampler

    config = resolve(run.config)
    with precision(config):
        engine = build_engine(config.operators, dim=problem.dimension, has_time=problem.has_time)
        params, static = eqx.partition(run.model, eqx.is_inexact_array)
        predict = make_predictor(engine, static, problem.dimension)
        sampler = PointSampler(problem.domain, problem.time, "uniform", seed=problem.evaluation["seed"] + 1)
        x, t = (np.asarray(a, run_dtype(config)) for a in sampler.interior(config.train.validation_points))
        predict(params, x, t)  # compiled
        start = time.perf_counter()
        predict(params, x, t)
        return time.perf_counter() - start


def interior_errors(report: dict) -> dict:
    """The report's errors away from the volume law's boundary shell (none without an exact solution):
    rel L2 under the radius-uniform law and its best constant network's, the worst radius band's,
    and the largest abs error at the domain's centre (over its times)."""
    if "radius_uniform" not in report:
        return {}
    bands = [row["rel_l2"] for row in report["by_radius_band"] if "rel_l2" in row]
    return {
        "rel_l2_radius_uniform": report["radius_uniform"]["rel_l2"],
        "best_constant_rel_l2_radius_uniform": report["radius_uniform"]["best_constant_rel_l2"],
        "worst_band_rel_l2": max(bands) if bands else None,
        "centre_abs_error": max(row["abs_error"] for row in report["centre"]),
    }


def train_run(
    problem, config: dict | str | Path | None, overrides: dict, *, label: str, targets: tuple[float, ...] = ()
) -> tuple[dict, object]:
    """Runs ``pdesolve.solve`` and returns (row, history Dataset). A failure becomes a row with
    ``status`` set to the error (the suite goes on)."""
    import pdesolve

    start = time.perf_counter()
    try:
        run = pdesolve.solve(problem, config, overrides=[deep_update({"train": {"progress": False}}, overrides)])
    except Exception as err:  # recorded in the table, not hidden
        print(f"  {label}: FAILED {type(err).__name__}: {err}", flush=True)
        return {"entry": label, "status": f"failed: {type(err).__name__}: {str(err).splitlines()[0][:200]}"}, None
    rep, hist = run.report, run.history
    row = {
        "entry": label,
        "status": "ok",
        "model": rep["model"],
        "operators": rep["operators"],
        "solver": rep["solver"],
        "backprop": rep["backprop"],
        "precision": rep["precision"],
        "n_params": rep["n_params"],
        "steps": rep["steps"],
        "batch_size": run.config["train"]["batch_size"],
        "mse": rep.get("mse"),
        "rel_l2": rep.get("rel_l2"),
        "max_abs_error": rep.get("max_abs_error"),
        **interior_errors(rep),
        "train_time_s": rep["train_time_s"],
        "total_time_s": time.perf_counter() - start,
        "loss_evals": rep["loss_evals"],
        "network_evals": rep["network_evals"],
        "stop_reason": rep["stop_reason"],
    }
    if "stage" in hist:
        row["final_stage"] = int(hist["stage"].values[-1])
    if targets:
        val = validation_seconds(run, problem)
        row["validation_s_per_log"] = val
        wall = np.asarray(hist["wall_time"].values, float)
        corrected = wall - val * np.arange(1, len(wall) + 1)  # each logged time includes that many validations
        rel = np.asarray(hist["rel_l2"].values, float)
        for target in targets:
            hit = np.nonzero(rel <= target)[0]
            tag = f"{target:.0e}"
            if len(hit):
                i = hit[0]
                row[f"steps_to_{tag}"] = int(hist["step"].values[i])
                row[f"wall_to_{tag}_s"] = float(wall[i])
                row[f"train_wall_to_{tag}_s"] = float(corrected[i])
                row[f"network_evals_to_{tag}"] = float(hist["network_evals"].values[i])
            else:
                row[f"steps_to_{tag}"] = None
                row[f"wall_to_{tag}_s"] = None
                row[f"train_wall_to_{tag}_s"] = None
                row[f"network_evals_to_{tag}"] = None
    uniform = f" (radius-uniform {row['rel_l2_radius_uniform']:.3e})" if "rel_l2_radius_uniform" in row else ""
    print(
        f"  {label}: rel_l2 {row['rel_l2']:.3e}{uniform} mse {row['mse']:.3e} steps {row['steps']} "
        f"train {row['train_time_s']:.1f}s ({rep['stop_reason']})",
        flush=True,
    )
    return row, hist


def draw_error_curves(ax, curves: dict, problem: str, labels, colours: dict) -> None:
    """Error against training time on ``ax``, one curve per label with ``(problem, label)`` in
    ``curves`` ({(problem, label): (seconds (k,), error (k,))}); times floored at 10 ms for the log axis."""
    for label in labels:
        if (problem, label) in curves:
            seconds, error = curves[(problem, label)]
            ax.loglog(np.maximum(seconds, 1e-2), error, marker=".", color=colours[label], label=label)
