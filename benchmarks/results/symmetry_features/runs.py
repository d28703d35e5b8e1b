"""Issue 34, whole space at d = 1000: one solve per settings string, a JSON line each.

Usage: python runs.py PROBLEM "key=value;key=value" ...  (an empty string: the package default).
Settings are separated by ';' (values may hold commas, e.g. model.widths=[32,32]). Each line
gives the errors under the volume and radius-uniform laws, the largest error at the centre
(over the start, middle and end time), the best constant network's errors, the train time and
the load average at start and end.
"""

import json
import os
import sys
import time

import yaml

import pdesolve


def overrides(spec: str) -> dict:
    """``"a.b=1;c=x"`` as the nested mapping ``{"a": {"b": 1}, "c": "x"}``."""
    out: dict = {}
    for item in filter(None, spec.split(";")):
        key, value = item.split("=", 1)
        *parents, leaf = key.split(".")
        section = out
        for parent in parents:
            section = section.setdefault(parent, {})
        section[leaf] = yaml.safe_load(value)
    return out


def main() -> None:
    problem = sys.argv[1]
    for spec in sys.argv[2:]:
        start, load = time.time(), os.getloadavg()[0]
        report = pdesolve.solve(problem, None, overrides=[overrides(spec), {"train": {"progress": False}}]).report
        uniform = report.get("radius_uniform", {})
        record = {
            "problem": report["problem"],
            "spec": spec,
            "vol": report["rel_l2"],
            "ru": uniform.get("rel_l2"),
            "centre": max((c["abs_error"] for c in report.get("centre", [])), default=None),
            "best_const": report["baselines"]["best_constant_rel_l2"],
            "ru_best_const": uniform.get("best_constant_rel_l2"),
            "steps": report["steps"],
            "train_s": round(report["train_time_s"], 1),
            "wall_s": round(time.time() - start, 1),
            "inputs": report.get("inputs"),
            "load_start": load,
            "load_end": os.getloadavg()[0],
        }
        print(json.dumps(record), flush=True)


if __name__ == "__main__":
    main()
