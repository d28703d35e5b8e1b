"""Suite ``nontrivial``: BP-free Gauss-Newton against autodiff Adam, the previous BP-free default
and zeroth-order training, at equal training time, on the ``problems/nt_*.yaml`` catalogue.

Every problem there has a closed-form solution that the exact-condition ansatz base does not
contain; each row prints the rel L2 of the zero network and of the best constant network beside
the method's, so a method that did not beat the best constant visibly learned nothing.

Methods (all float64, one process, one device, ``train.time_budget`` seconds of training each,
compilation and validation not counted):
- ``GN-layerwise``: Gauss-Newton with the activity-perturbation Jacobian (forward differences of
  partial forward passes at perturbed pre-activations, BP-free) of finite-difference-stencil
  residuals: the package default for a problem file without a config section;
- ``GN-FD``: the same with a forward-difference Jacobian over the parameters (P + 1 residual
  evaluations; the previous default);
- ``GN-JVP``: the same with forward-mode tangents for the Jacobian (no backward pass);
- ``GN-AD``: Gauss-Newton with autodiff operators and a ``jax.jacrev`` Jacobian (the reference);
- ``Adam-AD``: the ordinary PINN (dense tanh MLP 64x64, autodiff operators, Adam);
- ``projection-SG``: the previous BP-free default (TT-MLP, sparse-grid Stein, ZO hidden
  layers + least-squares read-out), which the SG stencil (2d^2 nodes) confines to small d;
- ``ZO-hybrid``: the paper's signRGE -> CGE hybrid on the GN network and stencil;
- ``fit-exact``: not a PDE solver but a yardstick: the default network, points per step, solver
  and budget fitted to the exact solution itself (the residual ``u - u_exact``, no derivatives).
  Where ``GN-layerwise`` is close to it, the network and the budget limit the error, not PDE
  training. Not a strict lower bound: the PDE residual weights the error differently, and the
  fit's cheaper steps make more of them in the same time;
- ``GN-TT``, ``fit-exact-TT``: ``GN-layerwise`` and ``fit-exact`` with the TT-MLP of
  ``configs/gn_tt.yaml`` instead of the default dense network (issue 35): the equal-time table
  dense vs TT is ``--only <problems> GN-layerwise GN-TT fit-exact fit-exact-TT``.
"""

from pathlib import Path

import numpy as np

from ._common import PROBLEMS, draw_error_curves, fmt, markdown_table, selected, train_run, write_partial

#: Seconds of training per method, by problem dimension (quick: this 2-core CPU).
SIZES = {
    "tiny": {"budget": {2: 2, 100: 2, 10_000: 2}, "eval_points": 200, "validation_points": 100, "problems": 2},
    # d = 20 - 100 get 240 s: the 40 x 40 (d = 20) and 64 x 64 (d = 50 - 100) defaults take 1 - 2.6 s per
    # step there, so 30 s are 10 - 20 steps.
    "quick": {
        "budget": {10: 60, 100: 240, 10_000: 90},
        "eval_points": 2000,
        "validation_points": 500,
        "problems": None,
    },
    "full": {
        "budget": {10: 300, 100: 600, 10_000: 1200},
        "eval_points": 10000,
        "validation_points": 1000,
        "problems": None,
    },
}
METHODS = (
    "GN-layerwise",
    "GN-FD",
    "GN-JVP",
    "GN-AD",
    "Adam-AD",
    "projection-SG",
    "ZO-hybrid",
    "fit-exact",
    "GN-TT",
    "fit-exact-TT",
)
#: The TT-MLP preset of ``GN-TT`` and ``fit-exact-TT`` (its ``model`` section replaces the default's).
TT_PRESET = Path(__file__).resolve().parent.parent / "configs" / "gn_tt.yaml"
TT_METHODS = {"GN-TT": "GN-layerwise", "fit-exact-TT": "fit-exact"}  # each the dense method it repeats
#: The package default (``pdesolve.defaults``), whose record the summary states.
DEFAULT = "GN-layerwise"


def budget_for(size: dict, dim: int) -> float:
    return next(seconds for limit, seconds in sorted(size["budget"].items()) if dim <= limit)


#: Largest d at which each method runs (None: every d). GN-JVP repeats GN-FD with exact Jacobian
#: columns, which small d shows; the SG stencil (2d^2 + O(d) nodes) confines the previous default;
#: the ZO hybrid stalls far above the baselines at small d already; autodiff operators at d = 1000
#: need 2d forward-mode passes per point. At d = 20 the previous default's run (925 SG nodes x 64 points
#: x 21 perturbations per step through a 64-wide TT network) had not ended after 17 minutes on the
#: 2-core CPU (quick size, 30 s budget), so both ZO rows stop at d = 10. GN-FD's Jacobian is P + 1
#: residual evaluations: at d = 50 (64 x 64 default, P = 7,553, 500 points x 103 nodes) one step is
#: ~3 x 10^12 FLOP, minutes on this CPU, so it stops at d = 20 (it ran to d = 100 with the earlier
#: 16 x 16 default: ``results/nontrivial``).
MAX_DIM = {
    "GN-layerwise": None,
    "GN-FD": 20,
    "GN-JVP": 20,
    "GN-AD": 100,
    "Adam-AD": None,
    "projection-SG": 10,
    "ZO-hybrid": 10,
    "fit-exact": None,
    "GN-TT": None,
    "fit-exact-TT": None,
}


def method_config(method: str, problem) -> dict | None:
    """The config of ``method`` for ``problem`` (None: not run at this d). GN-layerwise is the
    package default for a problem without a config section (``pdesolve.defaults``)."""
    from pdesolve.defaults import problem_defaults

    dim = problem.dimension
    if MAX_DIM[method] is not None and dim > MAX_DIM[method]:
        return None
    if method in TT_METHODS:
        import yaml

        return {**method_config(TT_METHODS[method], problem), "model": yaml.safe_load(TT_PRESET.read_text())["model"]}
    default = problem_defaults(problem)
    train = {"steps": 10**7, "batch_size": default["train"]["batch_size"], "log_every": 5}
    if method == "fit-exact":
        return {**default, "train": train}
    if method.startswith("GN-"):
        jacobian = {"GN-layerwise": "layerwise", "GN-FD": "forward_difference", "GN-JVP": "jvp", "GN-AD": "ad"}[method]
        operators = {"method": "ad"} if method == "GN-AD" else default["operators"]
        return {
            **default,
            "operators": operators,
            "solver": {**default["solver"], "jacobian": jacobian},
            "train": train,
        }
    if method == "Adam-AD":
        return {
            "model": {"type": "mlp", "widths": [64, 64], "activation": "tanh"},
            "operators": {"method": "ad"},
            "solver": {"name": "adam", "learning_rate": 1e-3, "schedule": "constant"},
            "train": {**train, "batch_size": 256, "log_every": 100},
        }
    if method == "projection-SG":
        return {
            "model": {"type": "tt_mlp", "widths": [64, 64], "activation": "sin", "rank": 2, "dense_layers": [0, -1]},
            "operators": {"method": "sg", "level": 3, "sigma": 0.01},
            "solver": {
                "name": "projection",
                "hidden": "zeroth_order",
                "output_layer": "least_squares",
                "learning_rate": 1e-2,
                "schedule": "constant",
            },
            "train": {**train, "batch_size": 64},
        }
    return {
        "model": default["model"],
        "operators": default["operators"],
        "solver": {"name": "hybrid", "coarse_learning_rate": 1e-3, "fine_learning_rate": 1e-3, "chunk_size": 64},
        "train": {**train, "batch_size": 256, "log_every": 20},
    }


def problem_files(size: dict) -> list[Path]:
    files = sorted(PROBLEMS.glob("nt_*.yaml"))
    return files[: size["problems"]] if size["problems"] else files


def run(size_name: str, only=None):
    """Rows ``problem x method`` and the error-vs-time histories for the figure. ``only`` lists
    problem names and/or method names (each kind: all when none is listed)."""
    from pdesolve.baselines import problem_baselines
    from pdesolve.problem import load_problem

    size = SIZES[size_name]
    rows, curves = [], {}
    files = problem_files(size)
    problems, methods = selected(only, [f.stem for f in files]), selected(only, METHODS)
    for path in files:
        problem = load_problem(path)
        if problem.name not in problems:
            continue
        base = problem_baselines(problem, size["eval_points"])
        budget = budget_for(size, problem.dimension)
        print(
            f"{problem.name} (d = {problem.dimension}, {budget} s each): best constant "
            f"{base['best_constant_rel_l2']:.3e}, zero {base['zero_rel_l2']:.3e}",
            flush=True,
        )
        for method in (m for m in METHODS if m in methods):
            info = {
                "problem": problem.name,
                "dim": problem.dimension,
                "method": method,
                "budget_s": budget,
                "best_constant_rel_l2": base["best_constant_rel_l2"],
                "zero_rel_l2": base["zero_rel_l2"],
            }
            config = method_config(method, problem)
            if config is None:
                rows.append(
                    {
                        **info,
                        "entry": f"{problem.name} {method}",
                        "status": f"not run above d = {MAX_DIM[method]} (see MAX_DIM)",
                    }
                )
                continue
            config = {**config, "precision": "float64", "seed": 0}
            overrides = {
                "train": {"time_budget": budget, "validation_points": size["validation_points"], "checkpoint_every": 0}
            }
            target = fitted_to_exact(problem) if method.startswith("fit-exact") else problem
            row, hist = train_run(
                _with_eval_points(target, size["eval_points"]), config, overrides, label=f"{problem.name} {method}"
            )
            rows.append({**info, **row})
            write_partial("nontrivial", rows)
            if hist is not None:
                curves[(problem.name, method)] = (
                    np.asarray(hist["train_time"].values),
                    np.asarray(hist["rel_l2"].values),
                )
    return rows, curves


def fitted_to_exact(problem):
    """``problem`` with the equation ``u = f`` and the exact solution as ``f``: least squares of the
    same ansatz (domain, conditions, sampling, test points) against the closed form."""
    import dataclasses

    from pdesolve.problem.symbols import SOURCE, U

    equation = "u - f = 0"
    return dataclasses.replace(
        problem,
        residual=U - SOURCE,
        equation_text=equation,
        source="from_exact",
        raw={**problem.raw, "equation": equation, "source": "from_exact"},
    )


def _with_eval_points(problem, points: int):
    import dataclasses

    return dataclasses.replace(problem, evaluation={**problem.evaluation, "points": points})


def summarise(rows: list[dict], size_name: str) -> list[str]:
    """A problem x method table of rel L2 (with the baselines), and the default's record against Adam-AD."""
    problems = list(dict.fromkeys(r["problem"] for r in rows))
    table, raced = [], []  # raced: the lines where Adam-AD was run (ok or failed)
    for name in problems:
        mine = {r["method"]: r for r in rows if r["problem"] == name}
        first = next(iter(mine.values()))
        line = {
            "problem": name,
            "d": first["dim"],
            "budget_s": first["budget_s"],
            "best_const": first["best_constant_rel_l2"],
            "zero": first["zero_rel_l2"],
        }
        for method in METHODS:
            row = mine.get(method, {})
            line[method] = row.get("rel_l2") if row.get("status") == "ok" else None
        table.append(line)
        if "Adam-AD" in mine:
            raced.append(line)
    methods = [m for m in METHODS if any(line.get(m) is not None for line in table)]
    wins = [line for line in raced if _beats(line.get(DEFAULT), line.get("Adam-AD"))]
    learned = [line for line in table if _beats(line.get(DEFAULT), line["best_const"])]
    lines = [
        f"Relative L2 error after `train.time_budget` seconds of training per method (size `{size_name}`); "
        "`best_const` / `zero`: the ansatz with a constant / zero network; `-`: not run or failed "
        "(see table.csv `status`).",
        "",
    ]
    lines += markdown_table(table, ["problem", "d", "budget_s", "best_const", "zero", *methods])
    lines += [
        "",
        "The same runs under the radius-uniform law (the normalised radius uniform: the interior weighted "
        "like the boundary shell where the volume law puts its points), with its best constant network, and "
        "the largest abs error at the domain's centre:",
        "",
    ]
    lines += markdown_table(interior_table(rows, methods), ["problem", "d", "best_const", *interior_columns(methods)])
    against_adam = (
        f"below Adam-AD on {len(wins)} of the {len(raced)} problems where it ran" if raced else "Adam-AD not run"
    )
    lines += [
        "",
        f"{DEFAULT} (BP-free) {against_adam}; below the best constant network on {len(learned)} of {len(table)}.",
        f"{DEFAULT} rel L2 (target <= 1e-4 for d <= 10): "
        + ", ".join(f"{line['problem']} {fmt(line.get(DEFAULT))}" for line in table if line["d"] <= 10),
        f"{DEFAULT} rel L2 (target <= 1e-3 for 20 <= d <= 100): "
        + ", ".join(f"{line['problem']} {fmt(line.get(DEFAULT))}" for line in table if 20 <= line["d"] <= 100),
    ]
    uniform = {r["problem"]: r for r in rows if r["method"] == DEFAULT and r.get("rel_l2_radius_uniform") is not None}
    if uniform:
        lines.append(
            f"{DEFAULT} rel L2 radius-uniform law / volume law (target <= 2 on bounded domains; uniform-radius "
            "target <= 1e-3 for d <= 10, <= 1e-2 for 20 <= d <= 100): "
            + ", ".join(
                f"{name} {fmt(r['rel_l2_radius_uniform'])} / {fmt(r['rel_l2'])} = "
                f"{r['rel_l2_radius_uniform'] / r['rel_l2']:.2g}"
                for name, r in uniform.items()
            )
        )
    fitted = [line for line in table if line.get(DEFAULT) is not None and line.get("fit-exact") is not None]
    if fitted:
        lines.append(
            f"{DEFAULT} over fit-exact (near 1: PDE training costs nothing; the network, points "
            "and budget limit the error): "
            + ", ".join(f"{line['problem']} {line[DEFAULT] / line['fit-exact']:.2g}" for line in fitted)
        )
    return lines


def interior_columns(methods: list[str]) -> list[str]:
    return [f"{m} {what}" for m in methods for what in ("uniform-radius", "centre")]


def interior_table(rows: list[dict], methods: list[str]) -> list[dict]:
    """Per problem: the radius-uniform law's best constant, and per method its rel L2 there and the
    centre's abs error."""
    table = []
    for name in dict.fromkeys(r["problem"] for r in rows):
        mine = {r["method"]: r for r in rows if r["problem"] == name and r.get("status") == "ok"}
        first = next((r for r in rows if r["problem"] == name), {})
        line = {
            "problem": name,
            "d": first.get("dim"),
            "best_const": next((r.get("best_constant_rel_l2_radius_uniform") for r in mine.values()), None),
        }
        for method in methods:
            row = mine.get(method, {})
            line[f"{method} uniform-radius"] = row.get("rel_l2_radius_uniform")
            line[f"{method} centre"] = row.get("centre_abs_error")
        table.append(line)
    return table


def _beats(value, other) -> bool:
    return value is not None and (other is None or value < other)


def figures(rows: list[dict], curves: dict) -> dict:
    """Error against training time, one panel per problem, one line per method."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    problems = list(dict.fromkeys(r["problem"] for r in rows))
    cols = 4
    rows_of_panels = (len(problems) + cols - 1) // cols
    fig, axes = plt.subplots(rows_of_panels, cols, figsize=(4.2 * cols, 3.3 * rows_of_panels), squeeze=False)
    colours = dict(zip(METHODS, plt.rcParams["axes.prop_cycle"].by_key()["color"]))
    for ax, name in zip(axes.flat, problems):
        draw_error_curves(ax, curves, name, METHODS, colours)
        baseline = next(r["best_constant_rel_l2"] for r in rows if r["problem"] == name)
        ax.axhline(baseline, color="black", linestyle=":", label="best constant")
        ax.set_title(name, fontsize=9)
        ax.set_xlabel("training time [s]")
        ax.set_ylabel("validation rel L2")
    for ax in list(axes.flat)[len(problems) :]:
        ax.axis("off")
    shown = [m for m in METHODS if any(key[1] == m for key in curves)]
    handles = [plt.Line2D([], [], color=colours[m], marker=".", label=m) for m in shown]
    handles.append(plt.Line2D([], [], color="black", linestyle=":", label="best constant"))
    fig.legend(handles=handles, loc="lower right", fontsize=9)  # one colour per method in every panel
    fig.tight_layout()
    return {"rel_l2_vs_time.png": fig}
