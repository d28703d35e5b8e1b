"""Scratch (issue 35 item 1): dense default vs the TT-MLP preset (configs/gn_tt.yaml) under the
layerwise Gauss-Newton default, at FIXED step counts (the CPU was shared: times are indicative).
``python benchmarks/results/tt_gn_fixed_steps/run.py PROBLEM STEPS [fit|pde]`` appends rows to rows.jsonl."""

import json
import os
import subprocess
import sys
from pathlib import Path

from benchmarks._common import train_run
from benchmarks.nontrivial import _with_eval_points, fitted_to_exact, method_config
from pdesolve.problem import load_problem

HERE = Path(__file__).resolve().parent
problem_name, steps, kind = sys.argv[1], int(sys.argv[2]), sys.argv[3]
problem = load_problem(f"problems/{problem_name}.yaml")
target = _with_eval_points(fitted_to_exact(problem) if kind == "fit" else problem, 2000)
pairs = [("fit-exact", "fit-exact-TT")] if kind == "fit" else [("GN-layerwise", "GN-TT")]
for method in pairs[0]:
    config = {**method_config(method, problem), "precision": "float64", "seed": 0}
    overrides = {"train": {"steps": steps, "time_budget": None, "validation_points": 500, "checkpoint_every": 0}}
    load = os.getloadavg()
    row, _ = train_run(target, config, overrides, label=f"{problem_name} {method}")
    row.update(
        problem=problem_name,
        dim=problem.dimension,
        method=method,
        load_at_start=load,
        load_at_end=os.getloadavg(),
        commit=subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True).stdout.strip(),
    )
    print(
        json.dumps(
            {
                k: row.get(k)
                for k in ("entry", "n_params", "steps", "rel_l2", "rel_l2_radius_uniform", "train_time_s", "status")
            }
        ),
        flush=True,
    )
    with open(HERE / "rows.jsonl", "a") as f:
        f.write(json.dumps(row, default=str) + "\n")
