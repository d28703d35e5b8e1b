"""Every shipped problem with the first-order autodiff reference, at a stated CPU budget.

``python benchmarks/catalogue.py [--steps N]``: runs each problem in ``problems/`` with its
default settings overridden by ``configs/ad_reference.yaml`` (dense tanh MLP 64x64, exact
operators by autodiff, Adam 3e-3 with cosine decay, float32) for N steps (default 1000), and
records error and time in benchmarks/results/catalogue/. heat_ball100 is also run with
``ansatz: soft``, since with the exact-condition ansatz its base already is the exact solution.
"""

import argparse
import datetime
import os
import time
from pathlib import Path

import pdesolve
from pdesolve.config import load_config_file
from pdesolve.results import device_description, versions

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "benchmarks" / "results" / "catalogue"
REFERENCE = ROOT / "configs" / "ad_reference.yaml"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=1000)
    args = parser.parse_args()
    reference = load_config_file(REFERENCE)
    runs = [(path, {}) for path in sorted((ROOT / "problems").glob("*.yaml"))]
    runs.append((ROOT / "problems" / "heat_ball100.yaml", {"ansatz": "soft"}))
    rows = []
    for path, extra in runs:
        settings = {"precision": "float32",
                    "train": {"steps": args.steps, "log_every": max(1, args.steps // 10), "progress": False,
                              "validation_points": 1000, "batch_size": 100, "boundary_batch_size": 100}, **extra}
        start = time.perf_counter()
        run = pdesolve.solve(path, reference, overrides=[settings])
        report = run.report
        row = {"problem": path.stem + (" (soft ansatz)" if extra else ""), "dimension": report["dimension"],
               "rel_l2": report["rel_l2"], "mse": report["mse"], "max_abs_error": report["max_abs_error"],
               "train_s": report["train_time_s"], "total_s": time.perf_counter() - start, "steps": report["steps"]}
        rows.append(row)
        print(row, flush=True)
    OUT.mkdir(parents=True, exist_ok=True)
    keys = list(rows[0])
    (OUT / "catalogue.csv").write_text(",".join(keys) + "\n" + "\n".join(
        ",".join(str(r[k]) for k in keys) for r in rows) + "\n")
    lines = [f"# Shipped problems with the autodiff reference ({datetime.date.today()})", "",
             f"Device: {device_description()}; load average at the end {os.getloadavg()[0]:.1f}; "
             f"versions: {versions()}.", f"Settings: {REFERENCE.name} (MLP 64x64 tanh, AD, Adam 3e-3 cosine), float32, "
             f"{args.steps} steps x 100 points, evaluation on each problem's own test set (10,000 points; 4,096 "
             "Sobol for poisson2d).", "",
             "| problem | d | rel L2 | MSE | max abs | train s | total s |", "|---|---|---|---|---|---|---|"]
    lines += [f"| {r['problem']} | {r['dimension']} | {r['rel_l2']:.2e} | {r['mse']:.2e} | {r['max_abs_error']:.2e} | "
              f"{r['train_s']:.0f} | {r['total_s']:.0f} |" for r in rows]
    (OUT / "catalogue.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
