"""Forward throughput and peak memory of the reference TT layer (512 -> 512, rank 2) vs dense.

Run: ``python benchmarks/tt_forward.py [--max-n N] [--call-limit-s S]``. Writes ``results.csv`` and
``results.md`` to ``benchmarks/results/tt_forward/``. CPU only (``JAX_PLATFORMS=cpu``), float32,
jitted, median wall time of repeats after compiling. Batch sizes grow by half-decades from 1 (below
1e2 to locate the switch point) to ``--max-n``; a layer whose call took longer than
``--call-limit-s`` is not run at larger sizes (so the run stays within a few minutes on a small
CPU), and the skipped cases are listed.
"""

import argparse
import csv
import datetime
import os
import platform
import statistics
import time
from pathlib import Path

os.environ.setdefault("JAX_PLATFORMS", "cpu")

import equinox as eqx  # noqa: E402
import jax  # noqa: E402
import jax.numpy as jnp  # noqa: E402
import numpy as np  # noqa: E402

from pdesolve.models import AUTO_DENSE_MIN_BATCH, DenseLinear, TTLinear  # noqa: E402

OUT_DIR = Path(__file__).parent / "results" / "tt_forward"
SIZES = [1, 3, 10, 30, 100, 300, 1_000, 3_000, 10_000, 30_000, 100_000, 300_000, 1_000_000]


def mib(nbytes: int | None) -> str:
    return "n/a" if nbytes is None else f"{nbytes / 2**20:8.1f}"


def layers() -> dict[str, eqx.Module]:
    """The second layer of the reference HJB network (METHODS.md section 3), both paths, and dense."""
    key = jax.random.key(0)
    tt = dict(rank=2, in_factors=[4, 4, 4, 8], out_factors=[8, 4, 4, 4], init="siren")
    return {
        "dense": DenseLinear(512, 512, key=key, init="siren"),
        "tt_contract": TTLinear(512, 512, key=key, path="contract", **tt),
        "tt_dense": TTLinear(512, 512, key=key, path="dense", **tt),
    }


def memory(forward, layer, n: int) -> dict[str, int | None]:
    """Compiled buffer sizes in bytes; ``peak`` = arguments + outputs + temporaries - aliased."""
    analysis = forward.lower(layer, jax.ShapeDtypeStruct((n, 512), jnp.float32)).compile().memory_analysis()
    if analysis is None:
        return dict(argument=None, output=None, temp=None, peak=None)
    sizes = dict(
        argument=analysis.argument_size_in_bytes, output=analysis.output_size_in_bytes,
        temp=analysis.temp_size_in_bytes,
    )
    return {**sizes, "peak": sum(sizes.values()) - analysis.alias_size_in_bytes}


def timing(forward, layer, z, min_repeats: int, min_time_s: float) -> tuple[float, int]:
    """Median seconds per call after one compiling call, over at least ``min_repeats`` calls."""
    forward(layer, z).block_until_ready()
    times: list[float] = []
    while len(times) < min_repeats or sum(times) < min_time_s:
        start = time.perf_counter()
        forward(layer, z).block_until_ready()
        times.append(time.perf_counter() - start)
    return statistics.median(times), len(times)


def switch_point(rows: list[dict]) -> int | None:
    """Smallest measured n from which the rebuilt-dense TT path is at least as fast as contracting."""
    per_n = {}
    for row in rows:
        per_n.setdefault(row["n"], {})[row["layer"]] = row["seconds"]
    ns = sorted(n for n, v in per_n.items() if {"tt_contract", "tt_dense"} <= set(v))
    faster = [per_n[n]["tt_dense"] <= per_n[n]["tt_contract"] for n in ns]
    for i, n in enumerate(ns):
        if all(faster[i:]):
            return n
    return None


def environment(args) -> dict[str, str]:
    cpu = next((line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                if line.startswith("model name")), platform.processor()) if Path("/proc/cpuinfo").exists() else platform.processor()
    return {
        "date": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        "device": f"{jax.devices()[0].platform} ({cpu}, {os.cpu_count()} logical cores)",
        "load average at start (1 min)": f"{os.getloadavg()[0]:.2f}",
        "versions": f"python {platform.python_version()}, jax {jax.__version__}, numpy {np.__version__}, equinox {eqx.__version__}",
        "settings": (f"float32, jit, median of >= {args.min_repeats} calls and >= {args.min_time_s} s after a compiling "
                     f"call; sizes up to {args.max_n:.0e}, a layer stops once one call exceeds {args.call_limit_s} s"),
    }


def write_markdown(path: Path, env: dict, rows: list[dict], skipped: list[int], switch: int | None) -> None:
    by = {(r["n"], r["layer"]): r for r in rows}
    ns = sorted({r["n"] for r in rows})
    lines = ["# TT forward benchmark: reference layer 512 -> 512, rank 2, vs dense", ""]
    lines += [f"- {k}: {v}" for k, v in env.items()]
    lines += [f"- skipped (a smaller n already took over the per-call time cap): {', '.join(skipped) or 'none'}", ""]
    lines += ["Throughput in million points per second (higher is better); peak memory in MiB from XLA's",
              "`memory_analysis()` (arguments + outputs + temporaries).", "",
              "| n | dense Mpt/s | TT contract Mpt/s | TT rebuild-dense Mpt/s | dense MiB | TT contract MiB | TT rebuild MiB |",
              "|---:|---:|---:|---:|---:|---:|---:|"]
    for n in ns:
        cells = [by.get((n, layer)) for layer in ("dense", "tt_contract", "tt_dense")]
        rate = [f"{c['points_per_s'] / 1e6:.3f}" if c else "-" for c in cells]
        mem = [mib(c["peak_bytes"]).strip() if c else "-" for c in cells]
        lines.append(f"| {n:.0e} | " + " | ".join(rate + mem) + " |")
    verdict = (f"The rebuilt-dense TT path is at least as fast as contracting for every measured n >= {switch:.0e}."
               if switch else "The rebuilt-dense TT path is not at least as fast as contracting at the largest sizes.")
    if float(env["load average at start (1 min)"]) > (os.cpu_count() or 1):
        lines += ["", "The machine was shared with other jobs (load average above its core count): expect",
                  "noise of tens of percent between runs, mostly where two columns are close."]
    lines += ["", verdict, f"`AUTO_DENSE_MIN_BATCH` in `pdesolve/models/_tt.py`: {AUTO_DENSE_MIN_BATCH}."]
    path.write_text("\n".join(lines) + "\n")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--max-n", type=int, default=SIZES[-1])
    parser.add_argument("--call-limit-s", type=float, default=1.0)
    parser.add_argument("--min-repeats", type=int, default=5)
    parser.add_argument("--min-time-s", type=float, default=0.5)
    args = parser.parse_args()

    env = environment(args)
    forward = jax.jit(lambda layer, z: layer(z))
    rows, skipped, too_slow = [], [], set()
    for n in [n for n in SIZES if n <= args.max_n]:
        todo = {name: layer for name, layer in layers().items() if name not in too_slow}
        skipped += [f"{name} n={n:.0e}" for name in too_slow]
        if not todo:
            continue
        z = jax.random.uniform(jax.random.key(1), (n, 512), jnp.float32, -1, 1)
        for name, layer in todo.items():
            seconds, repeats = timing(forward, layer, z, args.min_repeats, args.min_time_s)
            if seconds > args.call_limit_s:
                too_slow.add(name)
            mem = memory(forward, layer, n)
            rows.append(dict(n=n, layer=name, seconds=seconds, points_per_s=n / seconds, repeats=repeats,
                             peak_bytes=mem["peak"], argument_bytes=mem["argument"], output_bytes=mem["output"],
                             temp_bytes=mem["temp"]))
            print(f"n={n:>8} {name:<12} {seconds * 1e3:9.3f} ms  {n / seconds / 1e6:8.3f} Mpt/s  "
                  f"peak {mib(mem['peak'])} MiB  ({repeats} calls)", flush=True)
        del z

    env["load average at end (1 min)"] = f"{os.getloadavg()[0]:.2f}"
    switch = switch_point(rows)
    OUT_DIR.mkdir(parents=True, exist_ok=True)
    with open(OUT_DIR / "results.csv", "w", newline="") as f:
        f.write("".join(f"# {k}: {v}\n" for k, v in env.items()))
        writer = csv.DictWriter(f, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    write_markdown(OUT_DIR / "results.md", env, rows, skipped, switch)
    print(f"switch point (TT rebuild-dense >= contract from here on): {switch}; skipped: {skipped}")
    print(f"wrote {OUT_DIR}/results.csv and results.md")


if __name__ == "__main__":
    main()
