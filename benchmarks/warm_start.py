"""Suite ``warm-start``: steps and training time to a target error after a parameter change, from
the old solution (``solve(init_from=...)``, ``--init-from``) and from scratch.

For each entry: a run at the old parameter value (its run folder in a temporary folder), then two
runs at the new value with the same config and seed, from scratch and warm-started from the old
run. The problem's own ``config:`` section is dropped, so every run uses the package default for
its dimension. The target is the from-scratch run's best validation error; the table gives the
steps and training time (solver steps only, the history's ``train_time``) each run took to reach
it, to the resolution of ``log_every`` steps, and the warm run's time as a fraction of the
scratch run's. Entries (``--only``): the labels.
"""

import dataclasses
import tempfile
from pathlib import Path

import numpy as np

from ._common import PROBLEMS, markdown_table, problem_with

ENTRIES = ({"label": "bsb r 0.05 -> 0.07", "problem": "bsb100.yaml", "param": "r", "old": 0.05, "new": 0.07},)
SIZES = {
    "tiny": {"dimension": 4, "steps": 3, "batch_size": 50, "log_every": 1, "eval_points": 256, "validation_points": 64},
    "quick": {
        "dimension": 20,
        "steps": None,
        "batch_size": None,
        "log_every": 5,
        "eval_points": 4096,
        "validation_points": 1000,
    },
    "full": {
        "dimension": 100,
        "steps": None,
        "batch_size": None,
        "log_every": 5,
        "eval_points": 10000,
        "validation_points": 1000,
    },
}


def _config(size: dict) -> dict:
    """The overrides of the package default: the size's steps and batch (None: the default's)."""
    train = {"log_every": size["log_every"], "validation_points": size["validation_points"], "progress": False}
    train |= {key: size[key] for key in ("steps", "batch_size") if size[key] is not None}
    return {"seed": 0, "train": train}


def _problem(entry: dict, size: dict, value: float):
    problem = problem_with(
        PROBLEMS / entry["problem"],
        dimension=size["dimension"],
        eval_points=size["eval_points"],
        **{entry["param"]: value},
    )
    return dataclasses.replace(problem, config={})


def _to_target(history, target: float) -> tuple[int | None, float | None, float | None]:
    """The first logged step whose validation error is at most ``target``, with its training time
    (solver steps after the first, compiling one) and wall time (all of it, validations included)."""
    rel = np.asarray(history["rel_l2"].values, float)
    hit = np.nonzero(rel <= target)[0]
    if not len(hit):
        return None, None, None
    i = hit[0]
    return int(history["step"].values[i]), float(history["train_time"].values[i]), float(history["wall_time"].values[i])


def _row(entry: dict, start: str, run, target: float | None) -> dict:
    history = run.history
    row = {
        "entry": entry["label"],
        "start": start,
        "rel_l2": run.report.get("rel_l2"),
        "steps": run.report["steps"],
        "train_time_s": run.report["train_time_s"],
        "first_logged_rel_l2": float(history["rel_l2"].values[0]),
    }
    if target is not None:
        row["target_rel_l2"] = target
        row["steps_to_target"], row["time_to_target_s"], row["wall_to_target_s"] = _to_target(history, target)
    return row


def measure(entry: dict, size: dict) -> list[dict]:
    import pdesolve

    config = _config(size)
    with tempfile.TemporaryDirectory() as folder:
        old = pdesolve.solve(_problem(entry, size, entry["old"]), config, out=Path(folder) / "old")
        new_problem = _problem(entry, size, entry["new"])
        scratch = pdesolve.solve(new_problem, config)
        warm = pdesolve.solve(new_problem, config, init_from=old.path)
    target = float(np.nanmin(np.asarray(scratch.history["rel_l2"].values, float)))
    rows = [
        _row(entry, f"old run ({entry['param']} = {entry['old']})", old, None),
        _row(entry, "scratch", scratch, target),
        _row(entry, "warm", warm, target),
    ]
    scratch_time, warm_time = rows[1]["time_to_target_s"], rows[2]["time_to_target_s"]
    rows[2]["time_fraction_of_scratch"] = warm_time / scratch_time if warm_time is not None and scratch_time else None
    for row in rows:
        print(
            f"  {row['entry']} {row['start']}: rel_l2 {row['rel_l2']:.3e}, steps to target "
            f"{row.get('steps_to_target')}, time to target {row.get('time_to_target_s')}",
            flush=True,
        )
    return rows


def run(size_name: str, only=None):
    size = SIZES[size_name]
    return [row for entry in ENTRIES if not only or entry["label"] in only for row in measure(entry, size)], None


def summarise(rows: list[dict], size_name: str) -> list[str]:
    size = SIZES[size_name]
    return [
        f"Warm start after a parameter change: the package default at d = {size['dimension']}, seed 0, "
        f"validation every {size['log_every']} steps; target = the from-scratch run's best validation "
        "error; train time counts solver steps after the first (compiling) one, wall time everything "
        "(compilation and validations included).",
        "",
        *markdown_table(
            rows,
            [
                "entry",
                "start",
                "rel_l2",
                "steps",
                "train_time_s",
                "first_logged_rel_l2",
                "target_rel_l2",
                "steps_to_target",
                "time_to_target_s",
                "wall_to_target_s",
                "time_fraction_of_scratch",
            ],
            [
                "entry",
                "start",
                "rel L2",
                "steps",
                "train time (s)",
                "first logged rel L2",
                "target",
                "steps to target",
                "train time to target (s)",
                "wall time to target (s)",
                "train time / scratch's",
            ],
        ),
    ]
