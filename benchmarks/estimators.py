"""Derivative estimators on the 20-d HJB stencil (D = 21): cost, speed and error against autodiff.

For each engine: network evaluations per collocation point, the median time of one operator
evaluation of 100 points (compiled, float32), and the relative L2 difference of u, u_t, u_x,
lap_u to autodiff of the raw network, in float32 and float64. The Stein estimators return the
operators of the smoothed network f_s, whose exact derivatives are not available, so their
difference to AD of the raw network includes the smoothing bias O(s^2).

Run: ``python -m benchmarks.estimators`` (writes benchmarks/results/estimators/).
"""

import csv
import datetime
import platform
import statistics
import sys
import time
from pathlib import Path

import equinox as eqx
import jax

jax.config.update("jax_enable_x64", True)

import jax.numpy as jnp  # noqa: E402
import numpy as np  # noqa: E402

from pdesolve.operators import (  # noqa: E402
    AutodiffEngine,
    FiniteDifferenceEngine,
    MonteCarloSteinEngine,
    SparseGridSteinEngine,
)
from pdesolve.models import build_network  # noqa: E402

DIM, POINTS, REPEATS = 20, 100, 7
NEEDS = frozenset({"u", "u_t", "u_x", "lap_u"})
NETWORK = {"type": "mlp", "widths": [128, 128], "activation": "sin", "init": "lecun"}
SIGMA, STEP, LEVEL, SAMPLES = 0.1, 1e-2, 3, 1024
ENGINES = {
    "ad": AutodiffEngine(),
    "fd": FiniteDifferenceEngine(step=STEP),
    "sg (joint t)": SparseGridSteinEngine(sigma=SIGMA, level=LEVEL),
    "sg (fd t)": SparseGridSteinEngine(sigma=SIGMA, level=LEVEL, smooth_time=False, step=STEP),
    "se (joint t)": MonteCarloSteinEngine(sigma=SIGMA, samples=SAMPLES),
}
OUT = Path(__file__).parent / "results" / "estimators"


def operators(engine, net, x, t, key):
    field = lambda x, t: net(jnp.concatenate([x, t[:, None]], axis=1))
    return engine(field, x, t, NEEDS, key=key)


def relative_l2(estimate, reference) -> float:
    return float(jnp.linalg.norm(estimate - reference) / jnp.linalg.norm(reference))


def main() -> None:
    kx, kt, knet, kse = jax.random.split(jax.random.key(0), 4)
    x64, t64 = jax.random.uniform(kx, (POINTS, DIM), jnp.float64), jax.random.uniform(kt, (POINTS,), jnp.float64)
    nets = {dt: build_network(NETWORK, DIM + 1, key=knet, dtype=dt) for dt in (jnp.float32, jnp.float64)}
    inputs = {jnp.float64: (x64, t64), jnp.float32: (x64.astype(jnp.float32), t64.astype(jnp.float32))}

    rows = []
    for name, engine in ENGINES.items():
        run = eqx.filter_jit(lambda net, x, t, key: operators(engine, net, x, t, key))
        errors = {}
        for dtype in (jnp.float32, jnp.float64):
            out = run(nets[dtype], *inputs[dtype], kse)
            ref = eqx.filter_jit(lambda net, x, t: operators(ENGINES["ad"], net, x, t, None))(nets[dtype], *inputs[dtype])
            bits = 32 if dtype == jnp.float32 else 64
            errors.update({f"{op} f{bits}": relative_l2(out[op], ref[op]) for op in sorted(NEEDS)})
        jax.block_until_ready(run(nets[jnp.float32], *inputs[jnp.float32], kse))  # compiled already
        times = []
        for _ in range(REPEATS):
            start = time.perf_counter()
            jax.block_until_ready(run(nets[jnp.float32], *inputs[jnp.float32], kse))
            times.append(time.perf_counter() - start)
        rows.append(
            {
                "estimator": name,
                "evals_per_point": engine.evals_per_point(NEEDS, DIM),
                "median_ms": 1e3 * statistics.median(times),
                **errors,
            }
        )
        print(f"{name:14s} evals/pt {rows[-1]['evals_per_point']:5d}  {rows[-1]['median_ms']:8.2f} ms", flush=True)

    device = jax.devices()[0]
    meta = {
        "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "device": f"{device.platform}: {device.device_kind} ({platform.processor() or platform.machine()})",
        "versions": f"python {sys.version.split()[0]}, jax {jax.__version__}, numpy {np.__version__}",
        "settings": (
            f"d={DIM} (+t), {POINTS} points uniform in [0,1]^21, needs u,u_t,u_x,lap_u; "
            f"net 21-128-128-1 sin lecun; sigma={SIGMA}, fd step={STEP}, sg level={LEVEL}, "
            f"se samples={SAMPLES}; median of {REPEATS} compiled float32 calls"
        ),
    }
    OUT.mkdir(parents=True, exist_ok=True)
    with open(OUT / "estimators.csv", "w", newline="") as file:
        for key, value in meta.items():
            file.write(f"# {key}: {value}\n")
        writer = csv.DictWriter(file, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    columns = list(rows[0])
    lines = [
        "# Derivative estimators on the 20-d HJB stencil",
        "",
        *[f"- {key}: {value}" for key, value in meta.items()],
        "- errors: relative L2 difference to autodiff of the raw network (for the Stein rows this",
        "  includes the O(sigma^2) smoothing bias: they estimate the smoothed network's operators)",
        "",
        "| " + " | ".join(columns) + " |",
        "|" + "---|" * len(columns),
        *[
            "| " + " | ".join(f"{v:.3g}" if isinstance(v, float) else str(v) for v in row.values()) + " |"
            for row in rows
        ],
        "",
    ]
    (OUT / "estimators.md").write_text("\n".join(lines))
    print("\n".join(lines))


if __name__ == "__main__":
    main()
