"""Suite ``scaling``: cost and accuracy of the BP-free derivative estimators as the dimension grows.

Problem: ``problems/nt_sine_gordon1000_ball.yaml`` at dimension d (parabolic Sine-Gordon
``u_t - lap_u + sin(u) = f`` in the unit ball, two-body solution / (1 + t), which the
exact-condition ansatz does not contain). It is valid at every d >= 2 (a sum over d - 1 coordinate
pairs in the ball, no d-dependent constants); it is the issue's 1000-d target; and its residual is
affine in the stencil operators (``lap_u``, ``u_t``) given the centre value, so the randomised
coordinate estimator is unbiased on it. (``nt_heat100_ball`` is its linear special case and
``nt_product100_ball`` is stationary with ``u * sum u_x``; one problem keeps the run short.)

Cases per d, all with THE SAME network (``pdesolve.defaults.default_model(d + 1)``: a dense tanh MLP,
40 x 40 up to 11 inputs (since 1b064d5; 20 x 20 before), 20 x 20 below 50 inputs, 16 x 16 from 50;
the table committed at 914574c predates 903ffdd and used a rank-2 TT first layer from 50 inputs), THE SAME
batch (``batch`` points per step), float64, one process:

- ``GN-layerwise SG3 / FD / FD-k / auto``: the BP-free default solver (Gauss-Newton, layerwise
  activity-perturbation Jacobian) on sparse-grid Stein level 3, finite differences on all
  coordinates, on k = min(16, d // 2) random coordinates per set, and ``method: auto`` (the package
  default: FD on all coordinates up to d = 200, 16 random coordinates per set beyond; run only where
  it differs from FD);
- ``... (plain first layer)``: the same FD steps with the stencil-aware first layer switched off
  (``FiniteDifferenceEngine(aware=False)``: the engine evaluates every node's coordinates through
  the whole first layer). The package has no config key for it, so the suite swaps the engine of
  the built loss; timing only (same numbers, so the error per step is the same);
- ``GN-AD``: Gauss-Newton with autodiff operators and a reverse-mode Jacobian (``configs/ad_gauss_newton.yaml``);
- ``Adam-AD``: Adam (lr 1e-3, constant) with autodiff operators (as ``configs/ad_reference.yaml``).

Measured per case: stencil nodes (network evaluations) per point, the compiled training step's
seconds (median of ``repeats`` calls after compilation and one warm-up call, same batch and key),
its peak memory (XLA ``memory_analysis``: arguments + outputs + temporaries - aliased), and the
rel L2 error after ``train.time_budget`` seconds of training through ``pdesolve.solve`` (compilation
and validation not counted). Cases over the size's caps (node evaluations per residual
evaluation, compiled peak memory, seconds of one step) are recorded as skipped, not run.
"""

import dataclasses
import time

from ._common import (
    PROBLEMS,
    flops_of,
    fmt,
    markdown_table,
    median_time,
    peak_bytes,
    selected,
    train_run,
    write_partial,
)

PROBLEM_FILE = PROBLEMS / "nt_sine_gordon1000_ball.yaml"
SIZES = {
    "tiny": {
        "dims": [10],
        "batch": 16,
        "budget_s": {10_000: 1},
        "repeats": 2,
        "eval_points": 200,
        "validation_points": 100,
        "max_node_evals": 2e5,
        "max_peak_gib": 2,
        "max_step_s": 20,
    },
    "quick": {
        "dims": [10, 20, 50, 100, 200, 500, 1000],
        "batch": 100,
        "budget_s": {50: 15, 200: 20, 10_000: 40},
        "repeats": 3,
        "eval_points": 1000,
        "validation_points": 200,
        "max_node_evals": 2.5e6,
        "max_peak_gib": 8,
        "max_step_s": 30,
    },
    "full": {
        "dims": [10, 20, 50, 100, 200, 500, 1000],
        "batch": 500,
        "budget_s": {50: 120, 200: 300, 10_000: 600},
        "repeats": 5,
        "eval_points": 2000,
        "validation_points": 500,
        "max_node_evals": 2e7,
        "max_peak_gib": 60,
        "max_step_s": 120,
    },
}
#: Case -> (operators kind, solver kind, stencil-aware first layer); ``None``: not an FD engine.
CASES = {
    "GN-layerwise SG3": ("sg3", "layerwise", None),
    "GN-layerwise FD": ("fd", "layerwise", True),
    "GN-layerwise FD (plain first layer)": ("fd", "layerwise", False),
    "GN-layerwise FD-k": ("fdk", "layerwise", True),
    "GN-layerwise FD-k (plain first layer)": ("fdk", "layerwise", False),
    "GN-layerwise auto": ("auto", "layerwise", True),
    "GN-AD": ("ad", "gn_ad", None),
    "Adam-AD": ("ad", "adam", None),
}
#: FLOP/s assumed to guard against a step that would run far past ``max_step_s`` before running it
#: (the efficiency suite measured ~1 GFLOP/s for a batched BP-free loss on this 2-core CPU).
ASSUMED_GFLOPS = 2.0
#: The BP-free default's rows and the AD references their s/step is divided by.
REFERENCES = ("GN-AD", "Adam-AD")


def coordinates_k(dim: int) -> int:
    """Random coordinates per set for the FD-k case: min(16, d // 2) (k >= d would be all of them)."""
    return max(1, min(16, dim // 2))


def operators_for(kind: str, dim: int) -> dict:
    """The ``operators`` section of an estimator kind at dimension ``dim``."""
    if kind == "sg3":
        return {"method": "sg", "level": 3, "sigma": 0.1}
    if kind == "fd":
        return {"method": "fd", "coordinates": "all"}
    if kind == "fdk":
        return {"method": "fd", "coordinates": coordinates_k(dim)}
    return {"method": kind}  # auto, ad


def case_config(case: str, dim: int, has_time: bool, size: dict) -> dict:
    """The run config of ``case``: the package-default network for d, the size's batch, float64."""
    from pdesolve.defaults import default_model

    kind, solver, _ = CASES[case]
    solvers = {
        "layerwise": {"name": "gauss_newton", "jacobian": "layerwise"},
        "gn_ad": {"name": "gauss_newton", "jacobian": "ad"},
        "adam": {"name": "adam", "learning_rate": 1e-3, "schedule": "constant"},
    }
    return {
        "precision": "float64",
        "seed": 0,
        "model": default_model(dim + int(has_time)),
        "operators": operators_for(kind, dim),
        "solver": solvers[solver],
        "train": {"steps": 10**7, "batch_size": size["batch"], "log_every": 100 if solver == "adam" else 5},
    }


def not_run_reason(case: str, dim: int) -> str | None:
    """Why ``case`` is not run at ``dim`` because another row measures the same thing (else None)."""
    from pdesolve.operators import FULL_STENCIL_MAX_DIM

    if case == "GN-layerwise auto" and dim <= FULL_STENCIL_MAX_DIM:
        return f"same as GN-layerwise FD (auto = all coordinates up to d = {FULL_STENCIL_MAX_DIM})"
    return None


def nodes_per_point(config: dict, problem) -> tuple[int, int]:
    """(network evaluations per collocation point, per residual evaluation of the batch)."""
    from pdesolve.problem import compile_problem
    from pdesolve.run import build_engine, resolve_run

    engine = build_engine(resolve_run(problem, config).operators, dim=problem.dimension, has_time=problem.has_time)
    nodes = engine.evals_per_point(compile_problem(problem).needs, problem.dimension)
    return nodes, nodes * config["train"]["batch_size"]


def time_step(problem, config: dict, aware: bool | None, size: dict) -> dict:
    """Compiles one training step (``solver.step`` under ``jax.jit``) and times it.

    Returns ``compile_s``, ``peak_mib``, ``gflop`` (XLA's count) and ``step_s`` (median of ``repeats``
    calls after a warm-up call, same batch and key), or a ``status`` saying which cap stopped it
    (peak memory, XLA's FLOP count, or one call over ``max_step_s``). ``aware=False``
    swaps the loss's FD engine for one without the stencil-aware first layer.
    """
    from ._common import built

    with built(problem, config) as pieces:
        return _time_built_step(pieces, aware, size)


def _time_built_step(pieces: dict, aware: bool | None, size: dict) -> dict:
    """:func:`time_step` on the pieces of ``_common.built`` (under the run's precision)."""
    import jax

    loss, solver = pieces["loss"], pieces["solver"]
    if aware is False:
        loss.engine = dataclasses.replace(loss.engine, aware=False)
    step = jax.jit(lambda p, s, b, k: solver.step(loss, p, s, b, k))
    args = (pieces["params"], pieces["state"], pieces["batch"], jax.random.PRNGKey(1))
    start = time.perf_counter()
    compiled = step.lower(*args).compile()
    out = {"compile_s": time.perf_counter() - start}
    peak = peak_bytes(compiled)
    out["peak_mib"] = None if peak is None else peak / 2**20
    if peak is not None and peak > size["max_peak_gib"] * 2**30:
        return {**out, "status": f"skipped: compiled step peak {peak / 2**30:.1f} GiB > cap {size['max_peak_gib']} GiB"}
    out["gflop"] = None if flops_of(compiled) is None else flops_of(compiled) / 1e9
    if out["gflop"] is not None and out["gflop"] / ASSUMED_GFLOPS > 10 * size["max_step_s"]:
        return {
            **out,
            "status": f"skipped: XLA counts {out['gflop']:.3g} GFLOP per step (> 10 x the step cap "
            f"at {ASSUMED_GFLOPS} GFLOP/s)",
        }
    start = time.perf_counter()
    jax.block_until_ready(compiled(*args))
    once = time.perf_counter() - start
    if once > size["max_step_s"]:  # one call measured; no repeats, no training
        return {
            **out,
            "step_s": once,
            "step_s_calls": 1,
            "status": f"skipped training: one step {once:.1f} s > cap {size['max_step_s']} s",
        }
    out["step_s"] = median_time(compiled, *args, repeats=size["repeats"], min_time_s=0.0)
    out["step_s_calls"] = size["repeats"]
    return out


def budget_for(size: dict, dim: int) -> float:
    return next(seconds for limit, seconds in sorted(size["budget_s"].items()) if dim <= limit)


def one_case(case: str, problem, size: dict) -> dict:
    """Nodes, step time, peak memory and (FD engine with its stencil-aware layer, SG, AD) the error
    after the size's time budget, of ``case`` at the problem's dimension; caps give a status."""
    dim = problem.dimension
    kind, _, aware = CASES[case]
    row = {
        "entry": f"d={dim} {case}",
        "dim": dim,
        "case": case,
        "estimator": kind,
        "k": coordinates_k(dim) if kind == "fdk" else None,
        "stencil_aware": aware,
    }
    reason = not_run_reason(case, dim)
    if reason:
        return {**row, "status": f"not run: {reason}"}
    config = case_config(case, dim, problem.has_time, size)
    row["model"] = config["model"]["type"]
    row["nodes_per_point"], row["node_evals_per_residual"] = nodes_per_point(config, problem)
    if row["node_evals_per_residual"] > size["max_node_evals"]:
        return {
            **row,
            "status": f"skipped: {row['node_evals_per_residual']:.3g} network evaluations per residual "
            f"evaluation > cap {size['max_node_evals']:.3g}",
        }
    row.update(time_step(problem, config, aware, size))
    if "status" in row or aware is False:
        row.setdefault("status", "ok (timing only: same numbers as the stencil-aware row)")
        return row
    budget = budget_for(size, dim)
    overrides = {
        "train": {"time_budget": budget, "validation_points": size["validation_points"], "checkpoint_every": 0}
    }
    trained, hist = train_run(problem, config, overrides, label=row["entry"])
    row.update(
        {
            "budget_s": budget,
            "status": trained["status"],
            "rel_l2": trained.get("rel_l2"),
            "train_steps": trained.get("steps"),
            "n_params": trained.get("n_params"),
            "backprop": trained.get("backprop"),
            "train_clock_s": None if hist is None else float(hist["train_time"].values[-1]),
        }
    )
    return row


def run(size_name: str, only=None):
    """Rows ``d x case``. ``only`` lists case names, ``d=<dim>`` labels and/or entry labels
    (``d=<dim> <case>``); each kind selects all when none of it is listed."""
    from pdesolve.baselines import problem_baselines

    from ._common import problem_with

    size = SIZES[size_name]
    dims = selected(only, [f"d={d}" for d in size["dims"]])
    cases = selected(only, list(CASES))
    entries = {f"d={d} {c}" for d in size["dims"] for c in CASES} & set(only or ())
    rows = []
    for dim in size["dims"]:
        wanted = [
            c for c in CASES if (f"d={dim} {c}" in entries) or (not entries and f"d={dim}" in dims and c in cases)
        ]
        if not wanted:
            continue
        problem = problem_with(PROBLEM_FILE, dimension=dim, eval_points=size["eval_points"])
        best = problem_baselines(problem, size["eval_points"])["best_constant_rel_l2"]
        print(f"d = {dim}: best constant rel L2 {best:.3e}", flush=True)
        mine = []
        for case in wanted:
            try:
                row = one_case(case, problem, size)
            except Exception as err:  # recorded, the suite goes on
                row = {
                    "entry": f"d={dim} {case}",
                    "dim": dim,
                    "case": case,
                    "status": f"failed: {type(err).__name__}: {str(err).splitlines()[0][:200]}",
                }
            row["best_constant_rel_l2"] = best
            mine.append(row)
            print(
                f"  {row['entry']}: nodes {row.get('nodes_per_point')} s/step {fmt(row.get('step_s'))} "
                f"peak MiB {fmt(row.get('peak_mib'))} rel L2 {fmt(row.get('rel_l2'))} [{row['status']}]",
                flush=True,
            )
            write_partial("scaling", rows + mine)
        rows += add_ratios(mine)
    return rows, None


def add_ratios(rows: list[dict]) -> list[dict]:
    """Each row's s/step over the AD references' of the same d (same process, network, batch)."""
    refs = {r["case"]: r.get("step_s") for r in rows if r["case"] in REFERENCES}
    for row in rows:
        for ref, column in (("GN-AD", "step_over_gn_ad"), ("Adam-AD", "step_over_adam_ad")):
            if row.get("step_s") is not None and refs.get(ref):
                row[column] = row["step_s"] / refs[ref]
    return rows


def summarise(rows: list[dict], size_name: str) -> list[str]:
    """The d x case table, what each column means, and the issue's ratio at d = 100 and 1000."""
    size = SIZES[size_name]
    lines = [
        f"`nt_sine_gordon1000_ball` at dimension d; the package-default network for d (dense tanh MLP: 40 x 40 "
        f"up to 11 inputs, 20 x 20 below 50, 16 x 16 from 50), {size['batch']} points per step for every "
        f"case, float64, one process. Training budget per case: {size['budget_s']} (seconds by largest d).",
        "",
        "Columns: `nodes/pt` network evaluations per collocation point (stencil nodes; AD: as counted by the "
        "autodiff engine); `s/step` the compiled training step alone (median of "
        f"{size['repeats']} calls after compilation and a warm-up call; one call where the step is over the "
        "cap); `peak MiB` XLA memory_analysis of the compiled step; `/GN-AD`, `/Adam-AD` s/step over that "
        "reference's at the same d; `rel L2` after the time budget (`pdesolve.solve`, compilation and "
        "validation not counted); `steps` taken in it; `best const` the ansatz with the best constant "
        "network. `(plain first layer)`: the stencil-aware first layer switched off (timing only). "
        "With a dense first layer (d < 49) GN-layerwise evaluates node coordinates through its probed "
        "network, so the stencil-aware path is not used by that step either way.",
        "",
    ]
    lines += markdown_table(
        rows,
        [
            "dim",
            "case",
            "k",
            "nodes_per_point",
            "step_s",
            "peak_mib",
            "step_over_gn_ad",
            "step_over_adam_ad",
            "rel_l2",
            "train_steps",
            "best_constant_rel_l2",
            "status",
        ],
        [
            "d",
            "case",
            "k",
            "nodes/pt",
            "s/step",
            "peak MiB",
            "/GN-AD",
            "/Adam-AD",
            "rel L2",
            "steps",
            "best const",
            "status",
        ],
    )
    ratios = [
        f"d = {r['dim']} {r['case']} {fmt(r['step_over_adam_ad'])}"
        for r in rows
        if r["dim"] in (100, 1000) and r["case"].startswith("GN-layerwise") and r.get("step_over_adam_ad")
    ]
    lines += [
        "",
        "BP-free (GN-layerwise) s/step over Adam-AD's, side by side (issue 12 asks <= 3 at d = 100 and "
        "1000): " + ("; ".join(ratios) or "not measured at this size"),
    ]
    return lines


def figures(rows: list[dict], extra) -> dict:
    """s/step and rel L2 against d (log axes), one line per case."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 3, figsize=(15, 4.2))
    colours = dict(zip(CASES, plt.rcParams["axes.prop_cycle"].by_key()["color"]))  # one colour per case everywhere
    for case in CASES:
        for ax, column in zip(axes, ("nodes_per_point", "step_s", "rel_l2")):
            points = [(r["dim"], r[column]) for r in rows if r["case"] == case and r.get(column) is not None]
            if points:
                style = "--" if "plain" in case else "-"
                ax.loglog(*zip(*points), style, marker="o", color=colours[case], label=case)
    best = sorted({(r["dim"], r["best_constant_rel_l2"]) for r in rows if r.get("best_constant_rel_l2")})
    if best:
        axes[2].loglog(*zip(*best), ":", marker="x", color="black", label="best constant")
        axes[2].legend(fontsize=7)
    for ax, label in zip(axes, ("network evaluations per point", "seconds per training step", "rel L2 after budget")):
        ax.set_xlabel("dimension d")
        ax.set_ylabel(label)
    axes[1].legend(fontsize=7)
    fig.tight_layout()
    return {"scaling.png": fig}
