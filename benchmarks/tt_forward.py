"""Suite ``tt-forward``: forward throughput and peak memory of the reference TT layer (512 -> 512,
rank 2; both evaluation paths) against a dense layer of the same shape.

float32, jitted, median wall time of repeats after a compiling call, on the default device (recorded
in the metadata). Batch sizes grow by half-decades from 1 to the size's ``max_n``; a layer whose
call took longer than ``call_limit_s`` is not run at larger sizes, and the skipped cases are listed.
Entries (``--only``): ``dense``, ``tt_contract``, ``tt_dense``.
"""

import statistics
import time

from ._common import peak_bytes

N_VALUES = [1, 3, 10, 30, 100, 300, 1_000, 3_000, 10_000, 30_000, 100_000, 300_000, 1_000_000]
SIZES = {  # full = quick: the largest batch already fills the CPU memory budget of one call
    "tiny": {"max_n": 10, "call_limit_s": 1.0, "min_repeats": 1, "min_time_s": 0.0},
    "quick": {"max_n": 1_000_000, "call_limit_s": 1.0, "min_repeats": 5, "min_time_s": 0.5},
    "full": {"max_n": 1_000_000, "call_limit_s": 1.0, "min_repeats": 5, "min_time_s": 0.5},
}


def layers() -> dict:
    """The second layer of the reference HJB network (docs/methods.md, TT layers), both paths, and dense."""
    import jax

    from pdesolve.models import DenseLinear, TTLinear

    key = jax.random.key(0)
    tt = dict(rank=2, in_factors=[4, 4, 4, 8], out_factors=[8, 4, 4, 4], init="siren")
    return {
        "dense": DenseLinear(512, 512, key=key, init="siren"),
        "tt_contract": TTLinear(512, 512, key=key, path="contract", **tt),
        "tt_dense": TTLinear(512, 512, key=key, path="dense", **tt),
    }


def _timing(forward, layer, z, size: dict) -> tuple[float, int]:
    """Median seconds per call after one compiling call, over at least ``min_repeats`` calls."""
    forward(layer, z).block_until_ready()
    times: list[float] = []
    while len(times) < size["min_repeats"] or sum(times) < size["min_time_s"]:
        start = time.perf_counter()
        forward(layer, z).block_until_ready()
        times.append(time.perf_counter() - start)
    return statistics.median(times), len(times)


def run(size_name: str, only=None):
    import jax
    import jax.numpy as jnp

    size = SIZES[size_name]
    forward = jax.jit(lambda layer, z: layer(z))
    todo = {name: layer for name, layer in layers().items() if not only or name in only}
    rows, too_slow = [], set()
    for n in [n for n in N_VALUES if n <= size["max_n"]]:
        z = jax.random.uniform(jax.random.key(1), (n, 512), jnp.float32, -1, 1)
        for name, layer in todo.items():
            if name in too_slow:
                rows.append({"entry": name, "n": n, "status": "skipped: a smaller n took over call_limit_s"})
                continue
            seconds, repeats = _timing(forward, layer, z, size)
            if seconds > size["call_limit_s"]:
                too_slow.add(name)
            peak = peak_bytes(forward.lower(layer, z).compile())
            rows.append(
                {
                    "entry": name,
                    "n": n,
                    "status": "ok",
                    "seconds": seconds,
                    "points_per_s": n / seconds,
                    "repeats": repeats,
                    "peak_bytes": peak,
                }
            )
            print(f"  n={n:>8} {name:<12} {seconds * 1e3:9.3f} ms  {n / seconds / 1e6:8.3f} Mpt/s", flush=True)
    return rows, None


def switch_point(rows: list[dict]) -> int | None:
    """Smallest measured n from which the rebuilt-dense TT path is at least as fast as contracting."""
    per_n: dict = {}
    for row in (r for r in rows if r["status"] == "ok"):
        per_n.setdefault(row["n"], {})[row["entry"]] = row["seconds"]
    ns = sorted(n for n, v in per_n.items() if {"tt_contract", "tt_dense"} <= set(v))
    faster = [per_n[n]["tt_dense"] <= per_n[n]["tt_contract"] for n in ns]
    return next((n for i, n in enumerate(ns) if all(faster[i:])), None)


def summarise(rows: list[dict], size_name: str) -> list[str]:
    from pdesolve.models import AUTO_DENSE_MIN_BATCH

    size = SIZES[size_name]
    by = {(r["n"], r["entry"]): r for r in rows if r["status"] == "ok"}
    names = ("dense", "tt_contract", "tt_dense")
    lines = [
        f"float32, jit, median of >= {size['min_repeats']} calls and >= {size['min_time_s']} s after a "
        f"compiling call; n up to {size['max_n']:.0e}, a layer stops once one call exceeds "
        f"{size['call_limit_s']} s. Throughput in million points per second; peak memory in MiB from XLA's "
        "`memory_analysis()` (arguments + outputs + temporaries - aliased).",
        "",
        "| n | dense Mpt/s | TT contract Mpt/s | TT rebuild-dense Mpt/s | dense MiB | TT contract MiB | "
        "TT rebuild MiB |",
        "|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for n in sorted({r["n"] for r in rows}):
        cells = [by.get((n, name)) for name in names]
        rate = [f"{c['points_per_s'] / 1e6:.3f}" if c else "-" for c in cells]
        mem = [f"{c['peak_bytes'] / 2**20:.1f}" if c and c["peak_bytes"] is not None else "-" for c in cells]
        lines.append(f"| {n:.0e} | " + " | ".join(rate + mem) + " |")
    switch = switch_point(rows)
    skipped = [f"{r['entry']} n={r['n']:.0e}" for r in rows if r["status"] != "ok"]
    lines += [
        "",
        f"Skipped (a smaller n already took over the per-call cap): {', '.join(skipped) or 'none'}.",
        f"The rebuilt-dense TT path is at least as fast as contracting for every measured n >= {switch:.0e}."
        if switch
        else "The rebuilt-dense TT path is not at least as fast as contracting at the largest sizes.",
        f"`AUTO_DENSE_MIN_BATCH` in `pdesolve/models/_tt.py`: {AUTO_DENSE_MIN_BATCH}.",
    ]
    return lines
