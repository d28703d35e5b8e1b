"""Suite ``peers``: pdesolve beside the PINN libraries a user would pick instead, on the same
problems (``problems/pub_*.yaml``), the same machine and the same training time, one at a time.

Each entry of :data:`ENTRIES` runs in its own process (so that its peak resident memory is its
own): pdesolve's default through ``benchmarks/peer_pdesolve.py``, the libraries through their runner
scripts (``benchmarks/peer_jinns.py``, ``benchmarks/peer_deepxde.py``), which write the network's
values at the suite's evaluation points; the suite computes every error itself, on the same points
(uniform in the box: the volume law), against the exact solution. The libraries come from the
optional extra ``peers`` (``pip install -e ".[peers]"``); ``PDESOLVE_PEERS_PYTHON`` names another
interpreter that has them (a separate virtual environment), else this one is used. An entry whose
library is missing is a row whose ``status`` says so.
"""

import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from ._common import PROBLEMS, ROOT, draw_error_curves, fmt, markdown_table, selected, write_partial

#: Seconds of training per entry and problem, evaluation points, problems (tiny: a smoke size).
SIZES = {
    "tiny": {"budget": 2, "eval_points": 200, "problems": 1},
    "quick": {"budget": 300, "eval_points": 2000, "problems": None},
    "full": {"budget": 600, "eval_points": 10000, "problems": None},
}
#: The problems every runner has written (see each runner's ``PROBLEMS``).
PROBLEM_NAMES = ("pub_engd_poisson5_box", "pub_kfac_poisson10_box", "pub_kfac_poisson100_box")
#: Entry label -> (runner script, library module it needs, optimizer / recipe argument).
ENTRIES = {
    "pdesolve default": ("peer_pdesolve.py", "pdesolve", "default"),
    "jinns Adam": ("peer_jinns.py", "jinns", "adam"),
    "jinns NGD": ("peer_jinns.py", "jinns", "ngd"),
    "jinns L-BFGS": ("peer_jinns.py", "jinns", "lbfgs"),
    "DeepXDE Adam+L-BFGS": ("peer_deepxde.py", "deepxde", "adam_lbfgs"),
}
#: Seconds a runner may take beyond its budget (compilation, evaluation) before it is stopped.
GRACE_S = 900


def python_for(module: str) -> str:
    """The interpreter for a runner: this one for pdesolve, else ``PDESOLVE_PEERS_PYTHON`` or this one."""
    return sys.executable if module == "pdesolve" else os.environ.get("PDESOLVE_PEERS_PYTHON", sys.executable)


def library_version(python: str, module: str) -> str | None:
    """The module's version in that interpreter, or None when it does not import."""
    code = f"import importlib.metadata as m, {module}; print(m.version('{module}'))"
    done = subprocess.run(
        [python, "-c", code], capture_output=True, text=True, timeout=300, env={**os.environ, "DDE_BACKEND": "pytorch"}
    )
    return done.stdout.strip() if done.returncode == 0 else None


def evaluation_set(problem, points: int) -> tuple[np.ndarray, np.ndarray]:
    """x (n, d) uniform in the domain (the problem's evaluation seed) and the exact u (n,)."""
    import jax.numpy as jnp

    from pdesolve.problem import compile_problem
    from pdesolve.sampling import PointSampler

    x, t = PointSampler(problem.domain, problem.time, "uniform", seed=problem.evaluation["seed"]).interior(points)
    exact = compile_problem(problem).exact
    return np.asarray(x, float), np.asarray(exact(jnp.asarray(x), jnp.asarray(t)), float)


def run(size_name: str, only=None):
    """Rows ``problem x entry``; curves of error against training time for the figure."""
    from pdesolve.problem import load_problem

    size = SIZES[size_name]
    names = list(PROBLEM_NAMES)
    keep = selected(only, names)
    if not set(only or ()) & set(names):
        keep = set(names[: size["problems"] or None])
    entries = [e for e in ENTRIES if e in selected(only, list(ENTRIES))]
    versions = {}
    rows, curves = [], {}
    with tempfile.TemporaryDirectory(prefix="pdesolve-peers-") as tmp:
        for name in (n for n in names if n in keep):
            problem = load_problem(PROBLEMS / f"{name}.yaml")
            x, u = evaluation_set(problem, size["eval_points"])
            points = Path(tmp) / f"{name}.npz"
            np.savez(points, x=x)
            for label in entries:
                row, curve = entry_row(label, problem, points, u, size["budget"], Path(tmp), versions)
                rows.append(row)
                write_partial("peers", rows)
                if curve is not None:
                    curves[(name, label)] = curve
    return rows, curves


def entry_row(
    label: str, problem, points: Path, u: np.ndarray, budget: float, tmp: Path, versions: dict
) -> tuple[dict, tuple | None]:
    """Runs one entry's runner on ``problem`` and measures its values against ``u``."""
    script, module, recipe = ENTRIES[label]
    python = python_for(module)
    info = {"problem": problem.name, "dim": problem.dimension, "entry": label, "budget_s": budget}
    if module not in versions:
        versions[module] = library_version(python, module)
    if versions[module] is None:
        return {
            **info,
            "status": f"not installed: {module} does not import in {python} "
            "(pip install -e '.[peers]' or set PDESOLVE_PEERS_PYTHON)",
        }, None
    spec = {
        "problem": problem.name,
        "dim": problem.dimension,
        "optimizer": recipe,
        "budget_s": budget,
        "seed": 0,
        "points": str(points),
    }
    spec_path, out = tmp / "spec.json", tmp / f"{problem.name}-{recipe}-{module}.npz"
    spec_path.write_text(json.dumps(spec))
    start = time.perf_counter()
    done = subprocess.run(
        [python, str(ROOT / "benchmarks" / script), str(spec_path), str(out)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=budget + GRACE_S,
        env={**os.environ, "DDE_BACKEND": "pytorch"},
    )
    if done.returncode != 0 or not out.exists():
        tail = (done.stderr or done.stdout).strip().splitlines()[-1:] or ["no output"]
        print(f"  {problem.name} {label}: FAILED {tail[0][:200]}", flush=True)
        return {**info, "version": versions[module], "status": f"failed: {tail[0][:200]}"}, None
    return measured(info, np.load(out), u, versions[module], time.perf_counter() - start)


def measured(info: dict, result, u: np.ndarray, version: str, wall: float) -> tuple[dict, tuple]:
    """The row of a runner's result (``times``, ``u`` (m, n), ``peak_rss_mb``) against exact ``u``."""
    errors = np.linalg.norm(np.asarray(result["u"]) - u[None, :], axis=1) / np.linalg.norm(u)
    row = {
        **info,
        "version": version,
        "status": "ok",
        "rel_l2": float(errors[-1]),
        "train_time_s": float(result["times"][-1]),
        "checks": len(errors),
        "peak_rss_mb": float(result["peak_rss_mb"]),
        "process_wall_s": wall,
    }
    if "iterations" in result:
        row["iterations"] = int(np.asarray(result["iterations"])[-1])
    print(
        f"  {info['problem']} {info['entry']}: rel_l2 {fmt(row['rel_l2'])} train {row['train_time_s']:.1f}s "
        f"peak {row['peak_rss_mb']:.0f} MB",
        flush=True,
    )
    if "curve_times" in result:  # pdesolve: its validation history (uniform points of its own)
        return row, (np.asarray(result["curve_times"], float), np.asarray(result["curve_rel_l2"], float))
    return row, (np.asarray(result["times"], float), errors)


def summarise(rows: list[dict], size_name: str) -> list[str]:
    budget = SIZES[size_name]["budget"]
    columns = ["problem", "dim", "entry", "version", "rel_l2", "train_time_s", "peak_rss_mb", "status"]
    lines = [
        f"Relative L2 error on points uniform in the domain (the volume law; the same points for every "
        f"entry) after {budget} s of training each on this machine, one process at a time (size "
        f"`{size_name}`); `peak_rss_mb`: the process's peak resident memory (libraries and compilation "
        "included).",
        "",
    ]
    lines += markdown_table(rows, columns)
    mine = {r["problem"]: r for r in rows if r["entry"] == "pdesolve default" and r.get("status") == "ok"}
    raced = [r for r in rows if r["entry"] != "pdesolve default" and r.get("status") == "ok" and r["problem"] in mine]
    wins = [r for r in raced if mine[r["problem"]]["rel_l2"] < r["rel_l2"]]
    lines += ["", f"pdesolve's default below the peer on {len(wins)} of {len(raced)} peer rows that ran."]
    return lines


def figures(rows: list[dict], curves: dict) -> dict:
    """Error against training time, one panel per problem, one curve per entry."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    problems = list(dict.fromkeys(r["problem"] for r in rows))
    fig, axes = plt.subplots(1, len(problems), figsize=(4.4 * len(problems), 3.4), squeeze=False)
    colours = dict(zip(ENTRIES, plt.rcParams["axes.prop_cycle"].by_key()["color"]))
    for ax, name in zip(axes.flat, problems):
        draw_error_curves(ax, curves, name, ENTRIES, colours)
        ax.set_title(name, fontsize=9)
        ax.set_xlabel("training time [s]")
        ax.set_ylabel("rel L2 (volume law)")
        ax.legend(fontsize=7)
    fig.tight_layout()
    return {"error_vs_time.png": fig}
