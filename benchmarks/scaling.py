"""Suite ``scaling``: cost and accuracy of the derivative estimators as the dimension grows.

d = 10, 20, 50, 100, 200 on the HJB-type problem (``problems/hjb20.yaml`` at dimension d) and
the heat-type problem (``problems/heat_ball100.yaml`` at dimension d, soft conditions). For each
estimator: network evaluations per collocation point (stencil nodes), time per training step,
peak memory of the compiled step (XLA ``memory_analysis``), and the relative L2 error reached
after a few steps. Stein estimators (sparse grid level 2 and 3, Monte Carlo) train BP-free
(antithetic Rademacher RGE, N = 10, mu 0.01, Adam lr 1e-3); AD trains first-order (Adam lr 1e-3).
Cases whose network evaluations per step exceed the size's cap are recorded as skipped.
The loop here is the library's step function driven directly (no validation passes), so step
time is the step alone.
"""

import time

import numpy as np

from ._common import PROBLEMS, build_pieces, markdown_table, peak_bytes, predictor, problem_with

SIZES = {
    "tiny": {"dims": [5], "width": 8, "batch": 4, "steps": 2, "eval_points": 50, "se_samples": 16,
             "max_evals_per_step": 1e5},
    "quick": {"dims": [10, 20, 50, 100, 200], "width": 32, "batch": 10, "steps": 4, "eval_points": 500,
              "se_samples": 1024, "max_evals_per_step": 1.5e6},
    "full": {"dims": [10, 20, 50, 100, 200], "width": 512, "batch": 100, "steps": 200, "eval_points": 10000,
             "se_samples": 1024, "max_evals_per_step": 2e9, "point_chunk": 10, "zo_chunk": 7},  # chunks: GPU memory
}
ESTIMATORS = {
    "SG level 2": {"method": "sg", "level": 2, "sigma": 0.1},
    "SG level 3": {"method": "sg", "level": 3, "sigma": 0.1},
    "SE (Monte Carlo Stein)": {"method": "se", "sigma": 0.1},
    "AD": {"method": "ad"},
}
PROBLEM_FILES = {"hjb": "hjb20.yaml", "heat": "heat_ball100.yaml"}


def one_case(prob: str, dim: int, name: str, size: dict) -> dict:
    import jax
    import jax.numpy as jnp

    from pdesolve.metrics import error_metrics
    from pdesolve.operators import build_engine
    from pdesolve.sampling import PointSampler

    row = {"entry": f"{prob} d={dim} {name}", "problem": prob, "dimension": dim, "estimator": name}
    ops = dict(ESTIMATORS[name])
    if ops["method"] == "se":
        ops["samples"] = size["se_samples"]
    from pdesolve.config import resolve_config

    try:  # the engine checks its settings (e.g. the sparse-grid level) when built
        engine = build_engine(resolve_config({"operators": ops})["operators"], dim=dim, has_time=True)
    except Exception as err:  # noqa: BLE001
        row["status"] = f"unsupported: {str(err).splitlines()[0][:200]}"
        return row
    problem = problem_with(PROBLEMS / PROBLEM_FILES[prob], dimension=dim, eval_points=size["eval_points"])
    from pdesolve.problem import compile_problem

    needs = compile_problem(problem).needs
    nodes = engine.evals_per_point(needs, dim)
    zo = ops["method"] != "ad"
    losses_per_step = 21 if zo else 1
    evals = losses_per_step * size["batch"] * nodes * (2 if prob == "heat" else 1)
    row.update({"nodes_per_point": nodes, "training": "ZO-RGE (BP-free)" if zo else "FO Adam",
                "network_evals_per_step": evals})
    if evals > size["max_evals_per_step"]:
        row["status"] = f"skipped: {evals:.2g} network evals per step > cap {size['max_evals_per_step']:.2g}"
        return row
    solver = ({"name": "rge", "samples": 10, "mu": 0.01, "directions": "rademacher", "learning_rate": 1e-3}
              if zo else {"name": "adam", "learning_rate": 1e-3})
    config = {"precision": "float64", "operators": ops, "solver": solver,
              "model": {"type": "tt_mlp", "widths": [size["width"]] * 2, "activation": "sin", "init": "siren",
                        "rank": 2, "dense_layers": [0, -1]},  # d + 1 inputs have no balanced factorisation for most d
              "train": {"steps": size["steps"], "batch_size": size["batch"], "boundary_batch_size": size["batch"]}}
    if prob == "heat":
        config["ansatz"] = "soft"
    if size.get("point_chunk") and zo:
        config["operators"]["chunk_size"] = size["point_chunk"]
        config["solver"]["chunk_size"] = size["zo_chunk"]
    pieces = build_pieces(problem, config)
    solver_obj, loss = pieces["solver"], pieces["loss"]
    step = jax.jit(lambda p, s, b, k: solver_obj.step(loss, p, s, b, k))
    params, state, key = pieces["params"], pieces["state"], jax.random.PRNGKey(0)
    t0 = time.perf_counter()
    compiled = step.lower(params, state, pieces["batch"], key).compile()
    row["compile_s"] = time.perf_counter() - t0
    row["peak_mib"] = (peak_bytes(compiled) or 0) / 2**20
    times = []
    for step in range(1, size["steps"] + 1):
        key, sub = jax.random.split(key)
        batch = pieces["make_batch"](step)
        t0 = time.perf_counter()
        params, state, stats = compiled(params, state, batch, sub)
        jax.block_until_ready(params)
        times.append(time.perf_counter() - t0)
    row["step_s"] = float(np.median(times))
    sampler = PointSampler(problem.domain, problem.time, "uniform", seed=problem.evaluation["seed"])
    x, t = (np.asarray(a, pieces["dtype"]) for a in sampler.interior(size["eval_points"]))
    predict = predictor(pieces["engine"], pieces["static"], dim)  # chunked: bounded memory
    u = predict(params, x, t)[0]
    exact = np.asarray(pieces["compiled"].exact(jnp.asarray(x), jnp.asarray(t)))
    row.update({f"after_{size['steps']}_steps_{k}": v for k, v in error_metrics(u, exact).items()
                if k in ("rel_l2", "mse")})
    row["rel_l2_after_steps"] = row[f"after_{size['steps']}_steps_rel_l2"]
    row["final_loss"] = float(stats["loss"])
    row["status"] = "ok"
    return row


def run(size_name: str, only=None):
    size = SIZES[size_name]
    rows = []
    for prob in PROBLEM_FILES:
        for dim in size["dims"]:
            for name in ESTIMATORS:
                label = f"{prob} d={dim} {name}"
                if only and label not in only:
                    continue
                try:
                    row = one_case(prob, dim, name, size)
                except Exception as err:  # noqa: BLE001 (recorded, the suite goes on)
                    row = {"entry": label, "problem": prob, "dimension": dim, "estimator": name,
                           "status": f"failed: {type(err).__name__}: {str(err).splitlines()[0][:200]}"}
                rows.append(row)
                _partial(rows)
                print(f"  {label}: nodes {row.get('nodes_per_point')} step {row.get('step_s')} s "
                      f"mem {row.get('peak_mib')} MiB rel_l2 {row.get('rel_l2_after_steps')} [{row['status']}]",
                      flush=True)
    return rows, None


def _partial(rows) -> None:
    """Rows so far to <tmp>/pdesolve-benchmarks-scaling-partial.csv, so that a killed run (e.g. out
    of memory) keeps them."""
    import csv
    import tempfile
    from pathlib import Path

    columns = list(dict.fromkeys(k for row in rows for k in row))
    with open(Path(tempfile.gettempdir()) / "pdesolve-benchmarks-scaling-partial.csv", "w", newline="") as file:
        writer = csv.DictWriter(file, fieldnames=columns)
        writer.writeheader()
        writer.writerows(rows)


def summarise(rows, size_name):
    size = SIZES[size_name]
    lines = [f"TT-MLP width {size['width']} (first and last layer dense, hidden layer TT rank 2), float64, batch {size['batch']}, {size['steps']} steps "
             f"(error after so few steps shows that training runs, not what it converges to); "
             f"Stein: BP-free RGE (21 loss evaluations per step), AD: first-order Adam (1 per step).", ""]
    lines += markdown_table(rows, ["problem", "dimension", "estimator", "nodes_per_point", "network_evals_per_step",
                                   "step_s", "peak_mib", "rel_l2_after_steps", "status"],
                            ["problem", "d", "estimator", "nodes/point", "net evals/step", "s/step", "peak MiB",
                             "rel L2 after steps", "status"])
    return lines


def figures(rows, extra):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 3, figsize=(14, 4))
    for prob, ls in (("hjb", "-"), ("heat", "--")):
        for name in ESTIMATORS:
            sub = [r for r in rows if r["problem"] == prob and r["estimator"] == name and r.get("status") == "ok"]
            if not sub:
                continue
            d = [r["dimension"] for r in sub]
            axes[0].loglog(d, [r["nodes_per_point"] for r in sub], ls, marker="o", label=f"{prob} {name}")
            axes[1].loglog(d, [r["step_s"] for r in sub], ls, marker="o", label=f"{prob} {name}")
            axes[2].loglog(d, [r["peak_mib"] for r in sub], ls, marker="o", label=f"{prob} {name}")
    for ax, lab in zip(axes, ("network evals per point", "s per step", "peak MiB per step")):
        ax.set_xlabel("dimension d")
        ax.set_ylabel(lab)
    axes[0].legend(fontsize=7)
    fig.tight_layout()
    return {"scaling.png": fig}
