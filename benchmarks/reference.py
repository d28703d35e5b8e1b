"""Suite ``reference``: the paper's Tables 4 and 5 on the 20-d HJB, beside the published numbers.

Table 4: first-order (Adam, back-propagation) training with each derivative estimator (AD, FD,
Monte Carlo Stein SE, sparse-grid Stein SG). Table 5: BP-free training (ZO: antithetic Rademacher
RGE + Adam, mu 0.01, N 10, lr 1e-3) with FD, SE, SG, the paper's hybrid (signRGE then CGE) with
SG, and FO+AD as the reference. Each for a dense MLP and a TT-MLP. Stein and FD in float64.

Published MSE (docs/problems.md) are for 768-wide networks (dense 608,257 parameters;
TT-MLP 7,745 and 3,209). Relative L2 of a published MSE is sqrt(MSE) / rms(u), with
rms(u)^2 = E[(sum x + 1 - t)^2] = (d/2 + 1/2)^2 + d/12 + 1/12 for x ~ U[0,1]^d, t ~ U[0,1].
"""

import math

from ._common import CONFIGS, PROBLEMS, markdown_table, problem_with, train_run

PUBLISHED = {  # network -> method -> MSE (None: diverged)
    "mlp": {
        "FO+AD": 3.58e-4,
        "FO+FD": 5.97e-5,
        "FO+SE": 8.98e-4,
        "FO+SG": 4.27e-4,
        "ZO+FD": 9.23e-2,
        "ZO+SE": None,
        "ZO+SG": 1.62e-1,
    },
    "tt_3209": {
        "FO+AD": 1.63e-5,
        "FO+FD": 4.56e-5,
        "FO+SE": 3.82e-4,
        "FO+SG": 4.49e-5,
        "ZO+FD": 3.82e-4,
        "ZO+SE": 2.75e-4,
        "ZO+SG": 1.44e-5,
    },
    "tt_7745": {
        "FO+AD": 4.28e-5,
        "FO+FD": 4.90e-5,
        "FO+SE": 2.28e-4,
        "FO+SG": 7.14e-5,
        "ZO+FD": 3.79e-4,
        "ZO+SE": 4.35e-4,
        "ZO+SG": 4.79e-5,
    },
}
DIM = 20
RMS_U = math.sqrt((DIM / 2 + 0.5) ** 2 + DIM / 12 + 1 / 12)

SIZES = {
    "tiny": {
        "width": 16,
        "tt_width": 16,
        "fo_steps": 3,
        "zo_steps": 3,
        "batch": 8,
        "eval_points": 200,
        "validation_points": 50,
        "se_samples": 16,
        "log_every": 3,
    },
    "quick": {
        "width": 64,
        "tt_width": 64,
        "fo_steps": 150,
        "zo_steps": 40,
        "batch": 50,
        "eval_points": 2000,
        "validation_points": 200,
        "se_samples": 256,
        "log_every": 10,
    },
    "full": {
        "width": 768,
        "tt_width": None,
        "fo_steps": 10000,
        "zo_steps": 10000,
        "batch": 100,
        "eval_points": 10000,
        "validation_points": 1000,
        "se_samples": 1024,
        "log_every": 250,
        "zo_chunk": 7,
    },  # ZO+SE on the 768-wide MLP needs > 49 GiB with all 21 perturbations at once
}

METHODS = {  # label -> (table(s), operators, solver)
    "FO+AD": ("4,5", {"method": "ad"}, "adam"),
    "FO+FD": ("4", {"method": "fd", "step": 1e-2}, "adam"),
    "FO+SE": ("4", {"method": "se", "sigma": 0.1}, "adam"),
    "FO+SG": ("4", {"method": "sg", "sigma": 0.1, "level": 3}, "adam"),
    "ZO+FD": ("5", {"method": "fd", "step": 1e-2}, "rge"),
    "ZO+SE": ("5", {"method": "se", "sigma": 0.1}, "rge"),
    "ZO+SG": ("5", {"method": "sg", "sigma": 0.1, "level": 3}, "rge"),
    "ZO+SG hybrid": ("5", {"method": "sg", "sigma": 0.1, "level": 3}, "hybrid"),
}


def _network(kind: str, size: dict) -> tuple[dict | str, dict]:
    """(config file or None, model override) for the dense MLP or the TT-MLP at this size."""
    if kind == "mlp":
        return None, {"type": "mlp", "widths": [size["width"]] * 2, "activation": "sin", "init": "siren"}
    if size["tt_width"] is None:  # full: the reference TT-MLP 21-512-512-1 rank 2 (1,929 parameters)
        return str(CONFIGS / "hjb20_reference_gpu.yaml"), {}
    return None, {"type": "tt_mlp", "widths": [size["tt_width"]] * 2, "activation": "sin", "init": "siren", "rank": 2}


def _solver(name: str, n_params_hint: str) -> dict:
    if name == "adam":
        return {"name": "adam", "learning_rate": 1e-3, "schedule": "cosine"}
    if name == "rge":
        return {
            "name": "rge",
            "samples": 10,
            "mu": 0.01,
            "directions": "rademacher",
            "antithetic": True,
            "learning_rate": 1e-3,
        }
    hybrid = {
        "name": "hybrid",
        "patience": 5,
        "coarse_mu": 0.1,
        "coarse_samples": 10,
        "coarse_learning_rate": 1e-3,
        "fine_mu": 0.1 if n_params_hint == "tt" else 0.01,
        "fine_learning_rate": 1e-3,
        "momentum": 0.9,
        "chunk_size": 21,
    }  # CGE coordinates (and RGE perturbations) per vectorised call
    if n_params_hint == "mlp":
        hybrid["fine_block_size"] = 2000  # CGE over all 600k dense parameters per step is out of reach
    return hybrid


def entries(size_name: str) -> list[tuple[str, str, object, dict]]:
    """(label, network kind, config file, overrides) for every run of the suite at this size."""
    size = SIZES[size_name]
    out = []
    for net in ("mlp", "tt"):
        config_file, model = _network(net, size)
        for method, (_, operators, solver) in METHODS.items():
            ops = dict(operators)
            if ops["method"] == "se":
                ops["samples"] = size["se_samples"]
            steps = size["fo_steps"] if solver == "adam" else size["zo_steps"]
            overrides = {
                "precision": "float64",
                "operators": ops,
                "solver": _solver(solver, net),
                "train": {
                    "steps": steps,
                    "batch_size": size["batch"],
                    "log_every": min(size["log_every"], steps),
                    "validation_points": size["validation_points"],
                },
            }
            if model:
                overrides["model"] = model
            if size.get("zo_chunk") and solver != "adam":  # perturbations per vectorised call (GPU memory)
                overrides["solver"]["chunk_size"] = size["zo_chunk"]
            out.append((f"{net} {method}", net, config_file, overrides))
    return out


def run(size_name: str, only: list[str] | None = None):
    size = SIZES[size_name]
    problem = problem_with(PROBLEMS / "hjb20.yaml", eval_points=size["eval_points"])
    rows, histories = [], {}
    for label, net, config_file, overrides in entries(size_name):
        if only and label not in only:
            continue
        method = label.split(" ", 1)[1]
        row, hist = train_run(problem, config_file, overrides, label=label)
        tables = METHODS[method][0]
        base = method.replace(" hybrid", "")
        pub = PUBLISHED["mlp" if net == "mlp" else "tt_3209"].get(base, "n/a")
        pub2 = PUBLISHED["tt_7745"].get(base) if net == "tt" else None
        row.update(
            {
                "network": "dense MLP" if net == "mlp" else "TT-MLP",
                "method": method,
                "tables": tables,
                "published_mse": "diverged" if pub is None else pub,
                "published_rel_l2": (math.sqrt(pub) / RMS_U) if isinstance(pub, float) else None,
                "published_mse_tt7745": pub2,
            }
        )
        if isinstance(pub, float) and row.get("mse") is not None:
            row["mse_over_published"] = row["mse"] / pub
        rows.append(row)
        if hist is not None:
            histories[label] = hist
    return rows, histories


def summarise(rows: list[dict], size_name: str) -> list[str]:
    size = SIZES[size_name]
    lines = [
        f"20-d HJB, {size['batch']} points per step resampled, {size['eval_points']} uniform test points; "
        f"FO steps {size['fo_steps']}, ZO steps {size['zo_steps']}; float64; SE samples {size['se_samples']}. "
        f"Published: 768-wide networks, 10,000 steps (dense MLP row; TT rows compared with the 3,209-parameter "
        f"TT-MLP, the 7,745 one in the CSV). rel_l2 of a published MSE = sqrt(MSE)/rms(u), rms(u) = {RMS_U:.3f}.",
        "",
    ]
    cols = [
        "network",
        "tables",
        "method",
        "n_params",
        "steps",
        "mse",
        "published_mse",
        "rel_l2",
        "published_rel_l2",
        "train_time_s",
        "status",
    ]
    lines += markdown_table(
        rows,
        cols,
        [
            "network",
            "table",
            "method",
            "params",
            "steps",
            "MSE",
            "published MSE",
            "rel L2",
            "published rel L2",
            "train s",
            "status",
        ],
    )
    return lines


def figures(rows, histories):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figs = {}
    fig, axes = plt.subplots(1, 2, figsize=(11, 4), sharey=True)
    for ax, net in zip(axes, ("dense MLP", "TT-MLP")):
        sub = [r for r in rows if r.get("network") == net and r.get("mse") is not None]
        xs = range(len(sub))
        ax.bar([x - 0.2 for x in xs], [r["mse"] for r in sub], 0.4, label="this run")
        ax.bar(
            [x + 0.2 for x in xs],
            [r["published_mse"] if isinstance(r["published_mse"], float) else 0 for r in sub],
            0.4,
            label="published (768 wide, 10k steps)",
        )
        ax.set_xticks(list(xs), [r["method"] for r in sub], rotation=45, ha="right")
        ax.set_yscale("log")
        ax.set_title(net)
        ax.set_ylabel("test MSE")
        ax.legend(fontsize=8)
    figs["mse_vs_published.png"] = fig
    fig, axes = plt.subplots(1, 2, figsize=(11, 4), sharey=True)
    for ax, net in zip(axes, ("mlp", "tt")):
        for label, hist in histories.items():
            if label.startswith(net + " "):
                ax.semilogy(hist["step"], hist["rel_l2"], label=label.split(" ", 1)[1])
        ax.set_title({"mlp": "dense MLP", "tt": "TT-MLP"}[net])
        ax.set_xlabel("step")
        ax.set_ylabel("validation rel L2")
        if ax.get_legend_handles_labels()[1]:  # a --only run may leave one panel empty
            ax.legend(fontsize=7)
    figs["rel_l2_vs_step.png"] = fig
    return figs
