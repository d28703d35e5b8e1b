"""Suite ``projection``: the projection (feasibility) solver against the zeroth-order hybrid and
first-order Adam + autodiff.

Error against wall time and network evaluations on poisson2d, the 10-d heat problem with a
non-trivial solution (problems/heat_sin10.yaml, exact-condition ansatz) and the 20-d HJB, all
in one process on one device, float64. The quick size fits a few minutes per run on a 2-core
CPU; each method gets its own step budget (the projection steps are far more expensive and far
fewer). Entries (``--only``): ``problem: method`` as in the table.
"""

from ._common import PROBLEMS, markdown_table, train_run

SG = {"method": "sg", "level": 3, "sigma": 0.1}
# The hybrid's signRGE stage vmaps 21 perturbed losses, its CGE stage one per parameter (4994 for
# mlp(64, 64) on heat_sin10, which reaches that stage at step 270 since 28577e2 changed its ansatz);
# chunking the points bounds each of them, pdesolve.solve chunks the perturbations (limits.fit_solver_chunk).
SG_CHUNKED = {**SG, "chunk_size": 10}
SIZES = {  # step budgets are divided by ``divisor``; ``time_budget``: a cap of seconds per run (the
    # hybrid's CGE stage on heat_sin10 takes ~37 s per step on the 2-core CPU)
    "tiny": {"divisor": 100, "first_run_per_problem": True, "time_budget": None},
    "quick": {"divisor": 1, "first_run_per_problem": False, "time_budget": 120},
    "full": {"divisor": 1, "first_run_per_problem": False, "time_budget": None},
}


def mlp(*widths: int) -> dict:
    """Dense tanh MLP (the problems' own defaults are BP-free TT networks since this was written)."""
    return {"type": "mlp", "activation": "tanh", "widths": list(widths)}


# (problem file, label, config); train.steps / batch sizes chosen to fit a few minutes each.
RUNS = [
    (
        "poisson2d.yaml",
        "projection (fixed hidden, LS read-out)",
        {
            "model": mlp(32, 256),
            "operators": SG,
            "solver": {"name": "projection", "hidden": "fixed"},
            "train": {"steps": 100, "log_every": 10},
        },
    ),
    (
        "poisson2d.yaml",
        "projection (ZO hidden, LS read-out)",
        {
            "model": mlp(32, 128),
            "operators": SG,
            "solver": {"name": "projection", "hidden": "zeroth_order", "learning_rate": 1e-2, "schedule": "constant"},
            "train": {"steps": 100, "log_every": 10},
        },
    ),
    (
        "poisson2d.yaml",
        "projection (DR graph, 50 inner, LS read-out)",
        {
            "model": mlp(32, 32),
            "operators": SG,
            "solver": {
                "name": "projection",
                "hidden": "projection",
                "algorithm": "douglas_rachford",
                "inner_iterations": 50,
            },
            "train": {"steps": 10, "log_every": 2},
        },
    ),
    (
        "poisson2d.yaml",
        "hybrid ZO (signRGE -> CGE), SG",
        {
            "model": mlp(32, 32),
            "operators": SG_CHUNKED,
            "solver": {"name": "hybrid"},
            "train": {"steps": 1000, "log_every": 100},
        },
    ),
    (
        "poisson2d.yaml",
        "adam + autodiff (BP reference)",
        {
            "model": mlp(32, 32),
            "operators": {"method": "ad"},
            "solver": {"name": "adam", "learning_rate": 3e-3},
            "train": {"steps": 1000, "batch_size": 128, "log_every": 100},
        },
    ),
    (
        "poisson2d.yaml",
        "projection (fixed hidden, LS read-out), sigma 0.01",
        {
            "model": mlp(32, 256),
            "operators": {**SG, "sigma": 0.01},
            "solver": {"name": "projection", "hidden": "fixed"},
            "train": {"steps": 100, "log_every": 10},
        },
    ),
    (
        "heat_sin10.yaml",
        "projection (fixed hidden, LS read-out)",
        {
            "model": mlp(64, 256),
            "operators": SG,
            "solver": {"name": "projection", "hidden": "fixed"},
            "train": {"steps": 60, "batch_size": 50, "log_every": 10},
        },
    ),
    (
        "heat_sin10.yaml",
        "projection (ZO hidden, LS read-out)",
        {
            "model": mlp(64, 128),
            "operators": SG,
            "solver": {"name": "projection", "hidden": "zeroth_order", "learning_rate": 1e-2, "schedule": "constant"},
            "train": {"steps": 60, "batch_size": 50, "log_every": 10},
        },
    ),
    (
        "heat_sin10.yaml",
        "hybrid ZO (signRGE -> CGE), SG",
        {
            "model": mlp(64, 64),
            "operators": SG_CHUNKED,
            "solver": {"name": "hybrid"},
            "train": {"steps": 300, "batch_size": 50, "log_every": 30},
        },
    ),
    (
        "heat_sin10.yaml",
        "adam + autodiff (BP reference)",
        {
            "model": mlp(64, 64),
            "operators": {"method": "ad"},
            "solver": {"name": "adam", "learning_rate": 1e-3},
            "train": {"steps": 1000, "log_every": 100},
        },
    ),
    (
        "hjb20.yaml",
        "projection (fixed hidden, Gauss-Newton LS read-out)",
        {
            "model": mlp(64, 256),
            "operators": SG,
            "solver": {"name": "projection", "hidden": "fixed"},
            "train": {"steps": 30, "batch_size": 20, "log_every": 5},
        },
    ),
    (
        "hjb20.yaml",
        "hybrid ZO (signRGE -> CGE), SG",
        {
            "model": mlp(64, 64),
            "operators": {**SG, "chunk_size": 2},
            "solver": {"name": "hybrid"},
            "train": {"steps": 200, "batch_size": 20, "log_every": 20},
        },
    ),
    (
        "hjb20.yaml",
        "adam + autodiff (BP reference)",
        {
            "model": mlp(64, 64),
            "operators": {"method": "ad"},
            "solver": {"name": "adam", "learning_rate": 3e-3},
            "train": {"steps": 1000, "log_every": 100},
        },
    ),
]


def entries(size_name: str) -> list[tuple[str, str, dict]]:
    """(problem file, entry label, config) of every run at this size."""
    size, out, seen = SIZES[size_name], [], set()
    for problem, label, config in RUNS:
        if size["first_run_per_problem"] and problem in seen:
            continue
        seen.add(problem)
        train = {
            **config["train"],
            "progress": False,
            "steps": max(2, config["train"]["steps"] // size["divisor"]),
            "log_every": max(1, config["train"]["log_every"] // size["divisor"]),
            "time_budget": size["time_budget"],
        }
        out.append(
            (
                problem,
                f"{problem.removesuffix('.yaml')}: {label}",
                {**config, "precision": "float64", "seed": 0, "train": train},
            )
        )
    return out


def run(size_name: str, only=None):
    rows, histories = [], {}
    for problem, label, config in entries(size_name):
        if only and label not in only:
            continue
        row, history = train_run(PROBLEMS / problem, config, {}, label=label)
        rows.append({**row, "problem": problem.removesuffix(".yaml"), "method": label.split(": ", 1)[1]})
        if history is not None:
            histories[label] = history
    return rows, histories


def summarise(rows: list[dict], size_name: str) -> list[str]:
    size = SIZES[size_name]
    return [
        f"float64, seed 0, step budgets divided by {size['divisor']}, at most {size['time_budget']} s of "
        "training per run (`stop` says which ended it); train s excludes compilation.",
        "",
        *markdown_table(
            rows,
            ["problem", "method", "rel_l2", "steps", "train_time_s", "network_evals", "stop_reason", "status"],
            ["problem", "method", "final rel L2", "steps", "train s", "network evals", "stop", "status"],
        ),
    ]


def figures(rows, histories) -> dict:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    problems = sorted({label.split(": ", 1)[0] for label in histories})
    fig, axes = plt.subplots(2, len(problems), figsize=(5 * len(problems), 8), squeeze=False)
    for j, problem in enumerate(problems):
        for label, h in histories.items():
            if label.startswith(problem + ": "):
                method = label.split(": ", 1)[1]
                axes[0, j].loglog(h["wall_time"], h["rel_l2"], marker=".", label=method)
                axes[1, j].loglog(h["network_evals"], h["rel_l2"], marker=".", label=method)
        axes[0, j].set(title=problem, xlabel="wall time (s)", ylabel="relative L2")
        axes[1, j].set(xlabel="network evaluations", ylabel="relative L2")
        axes[0, j].legend(fontsize=7)
    fig.tight_layout()
    return {"error_vs_time_and_evals.png": fig}
