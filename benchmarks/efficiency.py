"""Suite ``efficiency``: how close one batched BP-free loss evaluation runs to the device's dense
matmul speed, and the peak memory of a BP-free step against first-order steps.

1. Achieved FLOP/s of one batched BP-free loss evaluation: all 2N+1 RGE parameter vectors
   (N = 10 antithetic pairs and the centre) x B collocation points x the 925 sparse-grid Stein
   nodes (level 3, D = 21) through the TT-MLP on the 20-d HJB, one jitted vmapped call. FLOPs from
   XLA's ``cost_analysis()`` of the compiled call and, as a cross-check, counted analytically
   (2 x in x out per dense-equivalent layer per network evaluation; activations and the residual
   not counted). Divided by the FLOP/s of plain dense matmuls measured in the same run: one shaped
   like the network's hidden layer at the same number of rows, and a square one.
2. Peak memory (XLA ``memory_analysis()``: arguments + outputs + temporaries) of one training step
   at the same batch: BP-free (ZO-RGE + SG) vs FO+AD (Adam, autodiff operators) vs FO+SG (Adam,
   back-propagating through the sparse-grid stencil), for the quick network and the reference
   512-wide TT-MLP (compile only, nothing run).
"""

import itertools

from ._common import CONFIGS, PROBLEMS, built, flops_of, markdown_table, median_time, peak_bytes, problem_with

SIZES = {
    "tiny": {"width": 16, "flop_batch": 2, "memory_batch": 4, "square": 256, "reference_memory": False},
    "quick": {"width": 64, "flop_batch": 20, "memory_batch": 100, "square": 1024, "reference_memory": True},
    "full": {"width": 512, "flop_batch": 100, "memory_batch": 100, "square": 8192, "reference_memory": True},
}
N_DIRECTIONS, MU = 10, 0.01


def _tt(width: int) -> dict:
    if width == 512:
        from pdesolve.config import load_config_file

        return load_config_file(CONFIGS / "tt_mlp_reference.yaml")["model"]
    return {"type": "tt_mlp", "widths": [width, width], "activation": "sin", "init": "siren", "rank": 2}


def _dense_flops_per_eval(network) -> float:
    """2 x in x out summed over the network's layers (dense-equivalent); nan if the layers are opaque."""
    sizes = [
        (getattr(layer, "in_size", None), getattr(layer, "out_size", None)) for layer in getattr(network, "layers", [])
    ]
    if not sizes or any(a is None or b is None for a, b in sizes):
        return float("nan")
    return sum(2.0 * a * b for a, b in sizes)


def loss_throughput(problem, width: int, batch: int, dtype_name: str) -> dict:
    config = {
        "precision": dtype_name,
        "model": _tt(width),
        "operators": {"method": "sg", "level": 3, "sigma": 0.1},
        "solver": {"name": "rge", "samples": N_DIRECTIONS, "mu": MU},
    }
    with built(problem, config, batch_size=batch) as pieces:
        return _built_loss_throughput(problem, pieces, width, batch, dtype_name)


def _built_loss_throughput(problem, pieces: dict, width: int, batch: int, dtype_name: str) -> dict:
    """:func:`loss_throughput` on the pieces of ``_common.built`` (under the run's precision)."""
    import jax
    import jax.numpy as jnp
    from jax.flatten_util import ravel_pytree

    flat, unravel = ravel_pytree(pieces["params"])
    loss, batch_data = pieces["loss"], pieces["batch"]
    directions = jax.random.rademacher(jax.random.PRNGKey(1), (N_DIRECTIONS, flat.size), dtype=flat.dtype)
    thetas = jnp.concatenate([flat[None], flat + MU * directions, flat - MU * directions])  # (2N+1, n)

    @jax.jit
    def all_losses(thetas, batch_data):
        return jax.vmap(lambda th: loss(unravel(th), batch_data, None))(thetas)

    compiled = all_losses.lower(thetas, batch_data).compile()
    seconds = median_time(compiled, thetas, batch_data, repeats=3)
    nodes = pieces["engine"].evals_per_point(pieces["compiled"].needs, problem.dimension)
    evals = thetas.shape[0] * batch * nodes
    per_eval = _dense_flops_per_eval(pieces["network"])
    if per_eval != per_eval:  # nan: count from the widths
        w = pieces["config"]["model"]["widths"]
        sizes = [problem.dimension + 1, *w, 1]
        per_eval = sum(2.0 * a * b for a, b in itertools.pairwise(sizes))
    xla = flops_of(compiled)
    return {
        "entry": f"BP-free loss eval {dtype_name}",
        "kind": "loss",
        "dtype": dtype_name,
        "width": width,
        "batch": batch,
        "perturbations": int(thetas.shape[0]),
        "nodes_per_point": nodes,
        "network_evals": evals,
        "seconds": seconds,
        "xla_flops": xla,
        "analytic_flops": per_eval * evals,
        "xla_gflops_per_s": None if xla is None else xla / seconds / 1e9,
        "analytic_gflops_per_s": per_eval * evals / seconds / 1e9,
        "peak_bytes": peak_bytes(compiled),
        "n_params": int(flat.size),
    }


def matmul_throughput(rows: int, inner: int, cols: int, dtype_name: str, label: str) -> dict:
    import jax
    import jax.numpy as jnp

    dtype = jnp.float64 if dtype_name == "float64" else jnp.float32
    with jax.enable_x64(dtype_name == "float64"):  # for this measurement only
        a = jax.random.normal(jax.random.PRNGKey(2), (rows, inner), dtype)
        b = jax.random.normal(jax.random.PRNGKey(3), (inner, cols), dtype)
        compiled = jax.jit(jnp.matmul).lower(a, b).compile()
        seconds = median_time(compiled, a, b, repeats=5)
    flops = 2.0 * rows * inner * cols
    return {
        "entry": f"matmul {label} {dtype_name}",
        "kind": "matmul",
        "dtype": dtype_name,
        "shape": f"({rows}x{inner}) @ ({inner}x{cols})",
        "seconds": seconds,
        "analytic_flops": flops,
        "analytic_gflops_per_s": flops / seconds / 1e9,
        "xla_flops": flops_of(compiled),
    }


def step_memory(problem, model: dict, label: str, batch: int) -> list[dict]:
    import jax

    setups = {
        "BP-free: ZO-RGE + SG": {
            "operators": {"method": "sg", "level": 3, "sigma": 0.1},
            "solver": {"name": "rge", "samples": N_DIRECTIONS, "mu": MU},
        },
        "BP-free, perturbations one at a time (solver.chunk_size 1)": {
            "operators": {"method": "sg", "level": 3, "sigma": 0.1},
            "solver": {"name": "rge", "samples": N_DIRECTIONS, "mu": MU, "chunk_size": 1},
        },
        "FO+AD: Adam + autodiff": {"operators": {"method": "ad"}, "solver": {"name": "adam"}},
        "FO+SG: Adam + backprop through SG": {
            "operators": {"method": "sg", "level": 3, "sigma": 0.1},
            "solver": {"name": "adam"},
        },
    }
    rows = []
    for name, setup in setups.items():
        with built(problem, {"precision": "float64", "model": model, **setup}, batch_size=batch) as pieces:
            solver, loss = pieces["solver"], pieces["loss"]
            step = jax.jit(lambda p, s, b, k: solver.step(loss, p, s, b, k))  # noqa: B023
            compiled = step.lower(pieces["params"], pieces["state"], pieces["batch"], jax.random.PRNGKey(0)).compile()
        rows.append(
            {
                "entry": f"step memory {label}: {name}",
                "kind": "memory",
                "network": label,
                "method": name,
                "batch": batch,
                "peak_bytes": peak_bytes(compiled),
                "peak_mib": peak_bytes(compiled) / 2**20,
                "n_params": pieces["network"].n_params,
            }
        )
        print(f"  {rows[-1]['entry']}: {rows[-1]['peak_mib']:.1f} MiB", flush=True)
    base = next(r for r in rows if r["method"].startswith("FO+AD"))["peak_bytes"]
    fosg = next(r for r in rows if r["method"].startswith("FO+SG"))["peak_bytes"]
    for row in rows:
        row["ratio_to_fo_ad"] = row["peak_bytes"] / base
        row["ratio_to_fo_sg"] = row["peak_bytes"] / fosg
    return rows


def run(size_name: str, only=None):
    size = SIZES[size_name]
    problem = problem_with(PROBLEMS / "hjb20.yaml")
    rows = []
    for dtype in ("float64", "float32"):
        loss_row = loss_throughput(problem, size["width"], size["flop_batch"], dtype)
        hidden = matmul_throughput(loss_row["network_evals"], size["width"], size["width"], dtype, "hidden-layer shape")
        square = matmul_throughput(size["square"], size["square"], size["square"], dtype, "square")
        for ref in (hidden, square):
            key = "fraction_of_" + ("hidden_matmul" if ref is hidden else "square_matmul")
            best = loss_row["xla_gflops_per_s"] or loss_row["analytic_gflops_per_s"]
            loss_row[key] = best / ref["analytic_gflops_per_s"]
            loss_row[key + "_analytic"] = loss_row["analytic_gflops_per_s"] / ref["analytic_gflops_per_s"]
        rows += [loss_row, hidden, square]
        print(
            f"  {dtype}: loss {loss_row['xla_gflops_per_s']} GFLOP/s (xla), {loss_row['analytic_gflops_per_s']:.2f}"
            f" (analytic); matmul hidden {hidden['analytic_gflops_per_s']:.2f}, square "
            f"{square['analytic_gflops_per_s']:.2f}",
            flush=True,
        )
    rows += step_memory(problem, _tt(size["width"]), f"TT-MLP width {size['width']}", size["memory_batch"])
    if size["reference_memory"] and size["width"] != 512:
        rows += step_memory(problem, _tt(512), "TT-MLP 512 (reference)", size["memory_batch"])
    return rows, None


def summarise(rows, size_name):
    size = SIZES[size_name]
    loss = [r for r in rows if r["kind"] == "loss"]
    mm = [r for r in rows if r["kind"] == "matmul"]
    mem = [r for r in rows if r["kind"] == "memory"]
    lines = [
        f"One jitted BP-free loss evaluation: {N_DIRECTIONS * 2 + 1} parameter vectors x "
        f"{size['flop_batch']} points x 925 SG nodes through the TT-MLP (width {size['width']}), 20-d HJB.",
        "",
    ]
    lines += markdown_table(
        loss,
        [
            "dtype",
            "network_evals",
            "seconds",
            "xla_gflops_per_s",
            "analytic_gflops_per_s",
            "fraction_of_hidden_matmul",
            "fraction_of_square_matmul",
        ],
        [
            "dtype",
            "network evals",
            "s",
            "GFLOP/s (XLA count)",
            "GFLOP/s (analytic)",
            "fraction of hidden-shape matmul",
            "fraction of square matmul",
        ],
    )
    lines += ["", "Dense matmuls in the same run:", ""]
    lines += markdown_table(
        mm, ["entry", "shape", "seconds", "analytic_gflops_per_s"], ["matmul", "shape", "s", "GFLOP/s"]
    )
    lines += ["", f"Peak memory of one training step at batch {size['memory_batch']} (XLA memory_analysis):", ""]
    lines += markdown_table(
        mem,
        ["network", "method", "n_params", "peak_mib", "ratio_to_fo_ad", "ratio_to_fo_sg"],
        ["network", "step", "params", "peak MiB", "/ FO+AD", "/ FO+SG"],
    )
    return lines


def figures(rows, extra):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 2, figsize=(11, 4))
    perf = [r for r in rows if r["kind"] in ("loss", "matmul")]
    axes[0].barh([r["entry"] for r in perf], [r.get("xla_gflops_per_s") or r["analytic_gflops_per_s"] for r in perf])
    axes[0].set_xlabel("GFLOP/s")
    mem = [r for r in rows if r["kind"] == "memory"]
    axes[1].barh([f"{r['network']}\n{r['method']}" for r in mem], [r["peak_mib"] for r in mem])
    axes[1].set_xscale("log")
    axes[1].set_xlabel("peak MiB per step")
    fig.tight_layout()
    return {"efficiency.png": fig}
