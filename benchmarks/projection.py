"""Projection (feasibility) solver against the zeroth-order hybrid and first-order Adam + autodiff.

Error against wall time and network evaluations on poisson2d, the 10-d heat problem with a
non-trivial solution (problems/heat_sin10.yaml, exact-condition ansatz) and the 20-d HJB, all
in one process on one device, float64. Sizes fit a few minutes on a 2-core CPU; each method gets
its own step budget (the projection steps are far more expensive and far fewer).

Run: ``python -m benchmarks.projection [--quick]`` (writes benchmarks/results/projection/).
"""

import datetime
import json
import sys
import time
from pathlib import Path

import jax

jax.config.update("jax_enable_x64", True)

import pdesolve  # noqa: E402
from pdesolve.results import device_description, versions  # noqa: E402

OUT = Path(__file__).parent / "results" / "projection"
SG = {"method": "sg", "level": 3, "sigma": 0.1}
# The hybrid vmaps ~21 perturbed losses at once; chunking the points keeps it within host memory.
SG_CHUNKED = {**SG, "chunk_size": 10}


def mlp(*widths: int) -> dict:
    """Dense tanh MLP (the problems' own defaults are BP-free TT networks since this was written)."""
    return {"type": "mlp", "activation": "tanh", "widths": list(widths)}


# (problem file, label, config); train.steps / batch sizes chosen to fit a few minutes each.
RUNS = [
    ("problems/poisson2d.yaml", "projection (fixed hidden, LS read-out)",
     {"model": mlp(32, 256), "operators": SG, "solver": {"name": "projection", "hidden": "fixed"},
      "train": {"steps": 100, "log_every": 10}}),
    ("problems/poisson2d.yaml", "projection (ZO hidden, LS read-out)",
     {"model": mlp(32, 128), "operators": SG,
      "solver": {"name": "projection", "hidden": "zeroth_order", "learning_rate": 1e-2, "schedule": "constant"},
      "train": {"steps": 100, "log_every": 10}}),
    ("problems/poisson2d.yaml", "projection (DR graph, 50 inner, LS read-out)",
     {"model": mlp(32, 32), "operators": SG,
      "solver": {"name": "projection", "hidden": "projection", "algorithm": "douglas_rachford", "inner_iterations": 50},
      "train": {"steps": 10, "log_every": 2}}),
    ("problems/poisson2d.yaml", "hybrid ZO (signRGE -> CGE), SG",
     {"model": mlp(32, 32), "operators": SG_CHUNKED, "solver": {"name": "hybrid"},
      "train": {"steps": 1000, "log_every": 100}}),
    ("problems/poisson2d.yaml", "adam + autodiff (BP reference)",
     {"model": mlp(32, 32), "operators": {"method": "ad"}, "solver": {"name": "adam", "learning_rate": 3e-3},
      "train": {"steps": 1000, "batch_size": 128, "log_every": 100}}),
    ("problems/poisson2d.yaml", "projection (fixed hidden, LS read-out), sigma 0.01",
     {"model": mlp(32, 256), "operators": {**SG, "sigma": 0.01}, "solver": {"name": "projection", "hidden": "fixed"},
      "train": {"steps": 100, "log_every": 10}}),
    ("problems/heat_sin10.yaml", "projection (fixed hidden, LS read-out)",
     {"model": mlp(64, 256), "operators": SG, "solver": {"name": "projection", "hidden": "fixed"},
      "train": {"steps": 60, "batch_size": 50, "log_every": 10}}),
    ("problems/heat_sin10.yaml", "projection (ZO hidden, LS read-out)",
     {"model": mlp(64, 128), "operators": SG,
      "solver": {"name": "projection", "hidden": "zeroth_order", "learning_rate": 1e-2, "schedule": "constant"},
      "train": {"steps": 60, "batch_size": 50, "log_every": 10}}),
    ("problems/heat_sin10.yaml", "hybrid ZO (signRGE -> CGE), SG",
     {"model": mlp(64, 64), "operators": SG_CHUNKED, "solver": {"name": "hybrid"}, "train": {"steps": 300, "batch_size": 50, "log_every": 30}}),
    ("problems/heat_sin10.yaml", "adam + autodiff (BP reference)",
     {"model": mlp(64, 64), "operators": {"method": "ad"}, "solver": {"name": "adam", "learning_rate": 1e-3},
      "train": {"steps": 1000, "log_every": 100}}),
    ("problems/hjb20.yaml", "projection (fixed hidden, Gauss-Newton LS read-out)",
     {"model": mlp(64, 256), "operators": SG, "solver": {"name": "projection", "hidden": "fixed"},
      "train": {"steps": 30, "batch_size": 20, "log_every": 5}}),
    ("problems/hjb20.yaml", "hybrid ZO (signRGE -> CGE), SG",
     {"model": mlp(64, 64), "operators": {**SG, "chunk_size": 2}, "solver": {"name": "hybrid"},
      "train": {"steps": 200, "batch_size": 20, "log_every": 20}}),
    ("problems/hjb20.yaml", "adam + autodiff (BP reference)",
     {"model": mlp(64, 64), "operators": {"method": "ad"}, "solver": {"name": "adam", "learning_rate": 3e-3},
      "train": {"steps": 1000, "log_every": 100}}),
]


def main(quick: bool = False) -> None:
    OUT.mkdir(parents=True, exist_ok=True)
    records = []
    for problem, label, config in RUNS:
        config = {**config, "precision": "float64", "seed": 0,
                  "train": {**config["train"], "progress": False}}
        if quick:
            config["train"] = {**config["train"], "steps": max(2, config["train"]["steps"] // 10),
                               "log_every": max(1, config["train"]["log_every"] // 10)}
        start = time.perf_counter()
        run = pdesolve.solve(problem, config)
        h = run.history
        record = {
            "problem": Path(problem).stem, "method": label, "config": config,
            "final_rel_l2": run.report["rel_l2"], "final_mse": run.report["mse"],
            "total_s": time.perf_counter() - start,
            "history": {k: [float(v) for v in h[k].values] for k in ("step", "rel_l2", "wall_time", "network_evals")},
        }
        records.append(record)
        print(f"{record['problem']:14s} {label:52s} rel_l2 {record['final_rel_l2']:.3e} "
              f"train {h['wall_time'].values[-1]:7.1f}s net evals {h['network_evals'].values[-1]:.2e}", flush=True)
    meta = {"date": datetime.datetime.now().isoformat(timespec="seconds"), "device": device_description(),
            "versions": versions(), "command": " ".join(sys.argv)}
    (OUT / "results.json").write_text(json.dumps({"meta": meta, "runs": records}, indent=1))
    lines = [f"# Projection solver vs hybrid ZO vs Adam+AD ({meta['date']})", "",
             f"Device: {meta['device']}; versions: {meta['versions']}", "",
             "| problem | method | final rel L2 | train wall s | network evals |", "|---|---|---|---|---|"]
    for r in records:
        lines.append(f"| {r['problem']} | {r['method']} | {r['final_rel_l2']:.3e} | "
                     f"{r['history']['wall_time'][-1]:.1f} | {r['history']['network_evals'][-1]:.3g} |")
    (OUT / "results.md").write_text("\n".join(lines) + "\n")
    _plot(records)


def _plot(records) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    problems = sorted({r["problem"] for r in records})
    fig, axes = plt.subplots(2, len(problems), figsize=(5 * len(problems), 8))
    for j, problem in enumerate(problems):
        for r in (r for r in records if r["problem"] == problem):
            h = r["history"]
            axes[0, j].loglog(h["wall_time"], h["rel_l2"], marker=".", label=r["method"])
            axes[1, j].loglog(h["network_evals"], h["rel_l2"], marker=".", label=r["method"])
        axes[0, j].set(title=problem, xlabel="wall time (s)", ylabel="relative L2")
        axes[1, j].set(xlabel="network evaluations", ylabel="relative L2")
        axes[0, j].legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(OUT / "error_vs_time_and_evals.png", dpi=110)


if __name__ == "__main__":
    main(quick="--quick" in sys.argv)
