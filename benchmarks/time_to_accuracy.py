"""Suite ``time-to-accuracy``: wall time and network evaluations until the validation relative L2
reaches 1e-2 and 1e-3, for the ordinary PINN (FO+AD, dense MLP, Adam), FO+AD on the TT-MLP, the
BP-free ZO+SG hybrid, multi-tangent forward gradients, and the projection solver (when
``"projection"`` is in ``pdesolve.solvers.solver_specs()``), all in one run on one device.

Problems: the 20-d HJB and the heat equation in the unit ball with soft conditions (with the exact
ansatz its base already equals the exact solution); quick size runs the heat problem at d = 10.
Each method trains until ``train.target_rel_l2 = 1e-3`` or its step budget. The logged wall time
includes the validation passes; ``train_wall_to_*`` subtracts them (one validation pass timed
after training, times the number of logs so far). Ratios are to the ordinary PINN's
(FO+AD dense) in the same run; "not reached" where a method did not reach the target in its budget.
"""

from ._common import CONFIGS, PROBLEMS, markdown_table, problem_with, train_run

TARGETS = (1e-2, 1e-3)
SIZES = {
    "tiny": {
        "hjb_dim": 20,
        "heat_dim": 5,
        "width": 16,
        "batch": 8,
        "eval_points": 200,
        "validation_points": 50,
        "log_every": 2,
        "budget": {"fo_dense": 4, "fo": 4, "fg": 4, "zo": 2, "projection": 2},
    },
    "quick": {
        "hjb_dim": 20,
        "heat_dim": 10,
        "width": 64,
        "batch": 50,
        "eval_points": 2000,
        "validation_points": 200,
        "log_every": 10,
        "budget": {"fo_dense": 2000, "fo": 300, "fg": 300, "zo": 60, "projection": 60},
    },
    "full": {
        "hjb_dim": 20,
        "heat_dim": 100,
        "width": None,
        "batch": 100,
        "eval_points": 10000,
        "validation_points": 1000,
        "log_every": 50,
        "budget": {"fo_dense": 10000, "fo": 10000, "fg": 10000, "zo": 10000, "projection": 10000},
        "sg_point_chunk": 5,
    },
}


def _models(size: dict) -> tuple[dict, dict | None]:
    """(dense model, TT model or None for the reference TT-MLP config file)."""
    if size["width"] is None:
        return {"type": "mlp", "widths": [512, 512], "activation": "sin", "init": "siren"}, None
    w = size["width"]
    return (
        {"type": "mlp", "widths": [w, w], "activation": "tanh", "init": "lecun"},
        {"type": "tt_mlp", "widths": [w, w], "activation": "sin", "init": "siren", "rank": 2},
    )


def _projection_available() -> bool:
    from pdesolve.solvers import solver_specs

    return "projection" in solver_specs()


def entries(size_name: str):
    """(problem key, label, config file, overrides, budget kind)."""
    size = SIZES[size_name]
    dense, tt = _models(size)
    out = []
    for prob in ("hjb", "heat"):
        ttfile = str(CONFIGS / "hjb20_reference_gpu.yaml") if (tt is None and prob == "hjb") else None
        tt_model = tt or (
            {} if ttfile else {"type": "tt_mlp", "widths": [512, 512], "activation": "sin", "init": "siren", "rank": 2}
        )
        extra = {"ansatz": "soft"} if prob == "heat" else {}
        if prob == "heat" and tt_model:  # d + 1 = 11 or 101 inputs have no balanced TT factorisation
            tt_model = {**tt_model, "dense_layers": [0, -1]}
        methods = {
            # the ordinary PINN: configs/ad_reference.yaml (dense tanh MLP, autodiff, Adam lr 3e-3 cosine)
            "FO+AD dense (ordinary PINN)": (
                None,
                dense,
                {"method": "ad"},
                {"name": "adam", "learning_rate": 3e-3, "schedule": "cosine"},
                "fo_dense",
            ),
            "FO+AD TT": (
                ttfile,
                tt_model,
                {"method": "ad"},
                {"name": "adam", "learning_rate": 1e-3, "schedule": "cosine"},
                "fo",
            ),
            "ZO+SG hybrid TT": (
                ttfile,
                tt_model,
                {"method": "sg", "level": 3, "sigma": 0.1},
                {
                    "name": "hybrid",
                    "patience": 5,
                    "coarse_mu": 0.1,
                    "coarse_samples": 10,
                    "coarse_learning_rate": 1e-3,
                    "fine_mu": 0.1,
                    "fine_learning_rate": 1e-3,
                    "momentum": 0.9,
                    "chunk_size": 21,
                },
                "zo",
            ),
            "forward gradient TT": (
                ttfile,
                tt_model,
                {"method": "ad"},
                {"name": "forward_gradient", "tangents": 4, "combine": "projection", "learning_rate": 1e-3},
                "fg",
            ),
            "projection TT": (
                ttfile,
                tt_model,
                {"method": "sg", "level": 3, "sigma": 0.1},
                {"name": "projection"},
                "projection",
            ),
        }
        for label, (cfile, model, ops, solver, kind) in methods.items():
            steps = size["budget"][kind]
            overrides = {
                "precision": "float64",
                "operators": ops,
                "solver": solver,
                **extra,
                "train": {
                    "steps": steps,
                    "batch_size": size["batch"],
                    "log_every": size["log_every"],
                    "validation_points": size["validation_points"],
                    "target_rel_l2": TARGETS[-1],
                },
            }
            if model:
                overrides["model"] = model
            if size.get("sg_point_chunk") and ops["method"] == "sg" and prob == "heat":
                overrides["operators"] = {**ops, "chunk_size": size["sg_point_chunk"]}  # 20,605 nodes at d = 100
            out.append((prob, f"{prob} {label}", cfile, overrides, kind))
    return out


def run(size_name: str, only=None):
    size = SIZES[size_name]
    problems = {
        "hjb": problem_with(PROBLEMS / "hjb20.yaml", dimension=size["hjb_dim"], eval_points=size["eval_points"]),
        "heat": problem_with(
            PROBLEMS / "heat_ball100.yaml", dimension=size["heat_dim"], eval_points=size["eval_points"]
        ),
    }
    rows, histories = [], {}
    for prob, label, cfile, overrides, kind in entries(size_name):
        if only and label not in only:
            continue
        meta = {
            "problem": f"{problems[prob].name} (d={problems[prob].dimension})",
            "method": label.split(" ", 1)[1],
            "budget_steps": overrides["train"]["steps"],
        }
        if kind == "projection" and not _projection_available():
            rows.append(
                {
                    "entry": label,
                    **meta,
                    "status": "not available: 'projection' not in pdesolve.solvers.solver_specs() at run time",
                }
            )
            print(f"  {label}: projection solver not available", flush=True)
            continue
        row, hist = train_run(problems[prob], cfile, overrides, label=label, targets=TARGETS)
        rows.append({**meta, **row})
        if hist is not None:
            histories[label] = hist
    postprocess(rows)
    return rows, histories


def postprocess(rows) -> None:
    """Ratios to the baselines of the same problem (also after merging rerun entries)."""
    for prob in ("hjb", "heat"):
        _ratios(rows, prob, "FO+AD dense (ordinary PINN)", "")
        _ratios(rows, prob, "FO+AD TT", "_vs_fo_ad_tt")  # same network as the BP-free rows


def _ratios(rows, prob: str, baseline: str, suffix: str) -> None:
    base = next((r for r in rows if r["entry"] == f"{prob} {baseline}"), None)
    for row in rows:
        if not row["entry"].startswith(prob + " "):
            continue
        for target in TARGETS:
            tag = f"{target:.0e}"
            for key, out in (
                (f"train_wall_to_{tag}_s", f"time_ratio_{tag}{suffix}"),
                (f"network_evals_to_{tag}", f"evals_ratio_{tag}{suffix}"),
            ):
                mine, ref = row.get(key), (base or {}).get(key)
                if row.get("status") != "ok":
                    row[out] = row.get("status", "").split(":")[0]
                elif mine is None:
                    row[out] = "not reached"
                elif ref is None:
                    row[out] = "baseline not reached"
                else:
                    row[out] = mine / ref if ref > 0 else None


def summarise(rows, size_name):
    size = SIZES[size_name]
    lines = [
        f"Validation rel L2 targets 1e-2 and 1e-3, {size['batch']} points per step, validation on "
        f"{size['validation_points']} points every {size['log_every']} steps (the resolution of the "
        f"step counts); step budgets {size['budget']}; float64. Ratios to the ordinary PINN (FO+AD, "
        f"dense MLP) in the same run: wall time without validation passes, and network evaluations.",
        "",
    ]
    cols = [
        "problem",
        "method",
        "n_params",
        "steps",
        "rel_l2",
        "train_wall_to_1e-02_s",
        "time_ratio_1e-02",
        "evals_ratio_1e-02",
        "train_wall_to_1e-03_s",
        "time_ratio_1e-03",
        "evals_ratio_1e-03",
        "status",
    ]
    lines += markdown_table(
        rows,
        cols,
        [
            "problem",
            "method",
            "params",
            "steps run",
            "final rel L2",
            "s to 1e-2",
            "time ratio 1e-2",
            "evals ratio 1e-2",
            "s to 1e-3",
            "time ratio 1e-3",
            "evals ratio 1e-3",
            "status",
        ],
    )
    lines += ["", "The same ratios against FO+AD on the TT-MLP (the network of the BP-free rows):", ""]
    lines += markdown_table(
        rows,
        [
            "problem",
            "method",
            "time_ratio_1e-02_vs_fo_ad_tt",
            "evals_ratio_1e-02_vs_fo_ad_tt",
            "time_ratio_1e-03_vs_fo_ad_tt",
            "evals_ratio_1e-03_vs_fo_ad_tt",
        ],
        ["problem", "method", "time ratio 1e-2", "evals ratio 1e-2", "time ratio 1e-3", "evals ratio 1e-3"],
    )
    return lines


def figures(rows, histories):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 2, figsize=(11, 4))
    for ax, prob in zip(axes, ("hjb", "heat")):
        for label, hist in histories.items():
            if label.startswith(prob + " "):
                ax.loglog(hist["wall_time"], hist["rel_l2"], marker=".", label=label.split(" ", 1)[1])
        for target in TARGETS:
            ax.axhline(target, color="grey", lw=0.5, ls="--")
        ax.set_title(prob)
        ax.set_xlabel("wall time s (incl. validation)")
        ax.set_ylabel("validation rel L2")
        ax.legend(fontsize=7)
    return {"rel_l2_vs_time.png": fig}
