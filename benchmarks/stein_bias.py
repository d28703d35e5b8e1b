"""Suite ``stein-bias``: the O(sigma^2) floor of Stein-trained predictions, and what removes it.

At equal training time (``train.time_budget``, float64, one process) per problem and solver:
- ``FD``: finite-difference operators (the reference BP-free stencil);
- ``SG old``: sparse-grid Stein smoothing the whole solution u = g + phi N (``smooth: solution``),
  reporting the smoothed model u_s;
- ``SG raw``: the same trained model, reporting the raw u = g + phi N instead;
- ``SG Richardson``: ``smooth: solution`` trained at sigma and at sigma / 2 (half the budget each),
  reporting (4 u_{s/2} - u_s) / 3 of the two smoothed predictions;
- ``SG network``: sparse-grid Stein smoothing the network only, the ansatz applied exactly
  (``smooth: network``): trained and reported field g + phi N_s. Its floor is the rule's own
  quadrature error in second derivatives, O(sigma^2) at level 3 and O(sigma^4) at level 4.

Solvers: ``GN`` (the package default solver at d <= 200: Gauss-Newton, layerwise Jacobian, one
solve at damping 1e-6 and a 20-point line search; 20 x 20 tanh MLP, 500 points per step) and
``projection`` (poisson2d's file default: TT-MLP, ZO hidden layers + least-squares read-out).
Entries (``--only``): problem names and solver names (all of a kind when none of it is listed).
"""

import dataclasses

from ._common import PROBLEMS, fmt, markdown_table, selected

#: ``stein``: the (sigma, level) pairs run; ``richardson``: the sigma extrapolated with sigma / 2.
SIZES = {
    "tiny": {"budget": 2, "eval_points": 200, "stein": [(0.1, 3)], "richardson": 0.1},
    "quick": {
        "budget": 25,
        "eval_points": 4096,
        "stein": [(0.1, 3), (0.1, 4), (0.03, 4), (0.01, 3), (0.01, 4)],
        "richardson": 0.1,
    },
    "full": {
        "budget": 120,
        "eval_points": 4096,
        "stein": [(0.1, 3), (0.1, 4), (0.03, 4), (0.01, 3), (0.01, 4)],
        "richardson": 0.1,
    },
}
PROBLEM_FILES = ("poisson2d", "nt_sine_gordon2_ball")
SOLVERS = {
    "GN": {
        "model": {"type": "mlp", "widths": [20, 20], "activation": "tanh", "init": "lecun"},
        "solver": {"name": "gauss_newton", "jacobian": "layerwise", "line_search": 20, "min_damping": 1e-6},
        "train": {"batch_size": 500, "log_every": 10},
    },
    "projection": {
        "model": {"type": "tt_mlp", "widths": [64, 64], "activation": "sin", "rank": 2, "dense_layers": [0, -1]},
        "solver": {
            "name": "projection",
            "hidden": "zeroth_order",
            "output_layer": "least_squares",
            "learning_rate": 1e-2,
            "schedule": "constant",
        },
        "train": {"batch_size": 64, "log_every": 5},
    },
}


def _solve(problem, solver: str, operators: dict, budget: float):
    """(u_pred, u_raw or None, u_exact, report) of one run of ``solver`` with ``operators``."""
    import pdesolve

    base = SOLVERS[solver]
    config = {
        **base,
        "precision": "float64",
        "seed": 0,
        "operators": operators,
        "train": {
            **base["train"],
            "steps": 10**7,
            "time_budget": budget,
            "progress": False,
            "checkpoint_every": 0,
            "validation_points": 200,
        },
    }
    run = pdesolve.solve(problem, config)
    ds = run.solution
    raw = ds["u_raw"].values if "u_raw" in ds else None
    return ds["u_pred"].values, raw, ds["u_exact"].values, run.report


def _rows_for(problem, solver: str, size: dict) -> list[dict]:
    from pdesolve.metrics import error_metrics

    budget = size["budget"]
    info = {"problem": problem.name, "solver": solver, "budget_s": budget}
    rows = []

    def add(label, sigma, level, pred, exact, report):
        rows.append(
            {
                **info,
                "entry": f"{problem.name} {solver} {label} s={sigma} L{level}",
                "operators": label,
                "sigma": sigma,
                "level": level,
                "rel_l2": error_metrics(pred, exact)["rel_l2"],
                "steps": report["steps"],
                "train_time_s": report["train_time_s"],
                "prediction": report["prediction"],
            }
        )
        print(f"  {rows[-1]['entry']}: rel_l2 {rows[-1]['rel_l2']:.3e} ({report['steps']} steps)", flush=True)

    pred, _, exact, rep = _solve(problem, solver, {"method": "fd"}, budget)
    add("FD", None, None, pred, exact, rep)
    for sigma, level in size["stein"]:
        sg = {"method": "sg", "level": level, "sigma": sigma}
        if level == 3:
            pred, raw, exact, rep = _solve(problem, solver, {**sg, "smooth": "solution"}, budget)
            add("SG old", sigma, level, pred, exact, rep)
            add("SG raw", sigma, level, raw, exact, {**rep, "prediction": "raw network (ansatz)"})
        if sigma == size["richardson"] and level == 3:
            coarse, _, _, rep_c = _solve(problem, solver, {**sg, "smooth": "solution"}, budget / 2)
            fine, _, _, rep_f = _solve(problem, solver, {**sg, "sigma": sigma / 2, "smooth": "solution"}, budget / 2)
            add(
                "SG Richardson",
                sigma,
                level,
                (4 * fine - coarse) / 3,
                exact,
                {
                    "steps": rep_c["steps"] + rep_f["steps"],
                    "prediction": "(4 u_{s/2} - u_s) / 3",
                    "train_time_s": rep_c["train_time_s"] + rep_f["train_time_s"],
                },
            )
        pred, _, exact, rep = _solve(problem, solver, {**sg, "smooth": "network"}, budget)
        add("SG network", sigma, level, pred, exact, rep)
    return rows


def run(size_name: str, only=None):
    """Rows ``problem x solver x operators`` (``only``: problem and solver names)."""
    from pdesolve.problem import load_problem

    size = SIZES[size_name]
    rows = []
    problems, solvers = selected(only, PROBLEM_FILES), selected(only, SOLVERS)
    for name in PROBLEM_FILES:
        if name not in problems:
            continue
        problem = load_problem(PROBLEMS / f"{name}.yaml")
        problem = dataclasses.replace(
            problem, config={}, evaluation={**problem.evaluation, "points": size["eval_points"]}
        )
        for solver in (s for s in SOLVERS if s in solvers):
            rows += _rows_for(problem, solver, size)
    return rows, None


def summarise(rows: list[dict], size: str) -> list[str]:
    s = SIZES[size]
    lines = [
        f"Rel L2 at {s['eval_points']} Sobol points after {s['budget']} s of training each (float64; "
        "Richardson: two runs of half the budget); the load average above says whether it ran alone.",
        "",
    ]
    table = [{**r, "rel_l2": fmt(r["rel_l2"]), "train_time_s": fmt(r["train_time_s"])} for r in rows]
    return lines + markdown_table(
        table, ["problem", "solver", "operators", "sigma", "level", "rel_l2", "steps", "train_time_s", "prediction"]
    )
