"""Suite ``catalogue``: every shipped problem (but the ``nt_*`` ones of the nontrivial suite) with the
first-order autodiff reference, at a stated step budget.

Each problem runs with its default settings overridden by ``configs/ad_reference.yaml`` (dense tanh
MLP 64x64, exact operators by autodiff, Adam 3e-3 with cosine decay, float32); heat_ball100 also
runs with ``ansatz: soft``, since with the exact-condition ansatz its base already is the exact
solution. Entries (``--only``): the problem names as in the table.
"""

from ._common import CONFIGS, PROBLEMS, markdown_table, train_run

REFERENCE = CONFIGS / "ad_reference.yaml"
SIZES = {  # full = quick: the reference network is small enough for a CPU; problems None: all
    "tiny": {"steps": 2, "problems": ("poisson2d",)},
    "quick": {"steps": 1000, "problems": None},
    "full": {"steps": 1000, "problems": None},
}


def entries(size_name: str) -> list[tuple[str, object, dict]]:
    """(entry label, problem file, extra overrides) of every run at this size."""
    chosen = SIZES[size_name]["problems"]
    paths = [
        p
        for p in sorted(PROBLEMS.glob("*.yaml"))
        if not p.stem.startswith("nt_") and (chosen is None or p.stem in chosen)
    ]
    out = [(p.stem, p, {}) for p in paths]
    if any(p.stem == "heat_ball100" for p in paths):
        out.append(("heat_ball100 (soft ansatz)", PROBLEMS / "heat_ball100.yaml", {"ansatz": "soft"}))
    return out


def run(size_name: str, only=None):
    from pdesolve.problem import load_problem

    steps = SIZES[size_name]["steps"]
    rows = []
    for label, path, extra in entries(size_name):
        if only and label not in only:
            continue
        overrides = {
            "precision": "float32",
            **extra,
            "train": {
                "steps": steps,
                "log_every": max(1, steps // 10),
                "validation_points": 1000,
                "batch_size": 100,
                "boundary_batch_size": 100,
            },
        }
        row, _ = train_run(path, str(REFERENCE), overrides, label=label)
        rows.append({**row, "dimension": load_problem(path).dimension})
    return rows, None


def summarise(rows: list[dict], size_name: str) -> list[str]:
    steps = SIZES[size_name]["steps"]
    return [
        f"Settings: {REFERENCE.name} (MLP 64x64 tanh, AD, Adam 3e-3 cosine), float32, {steps} steps x 100 "
        "points, evaluation on each problem's own test set.",
        "",
        *markdown_table(
            rows,
            ["entry", "dimension", "rel_l2", "mse", "max_abs_error", "train_time_s", "total_time_s", "status"],
            ["problem", "d", "rel L2", "MSE", "max abs", "train s", "total s", "status"],
        ),
    ]
