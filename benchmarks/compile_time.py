"""Compile time of a problem against its dimension: vector reductions compile to array
reductions, so the expression (and its compile time) must not grow with d.

``python benchmarks/compile_time.py``: for the HJB-type and the two-body Allen-Cahn problems at
d = 2, 20, 100, 1000, times (a) loading + validating + compiling to JAX (sympy work and one
abstract trace), (b) XLA compilation of the residual + exact solution (+ manufactured source) on
100 points, (c) one compiled call. Writes benchmarks/results/compile_time/.
"""

import datetime
import os
import sys
import time
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np

from pdesolve.operators import OPERATOR_SHAPES
from pdesolve.problem import compile_problem, load_problem
from pdesolve.results import device_description, versions

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "benchmarks" / "results" / "compile_time"
PROBLEMS = ("problems/hjb20.yaml", "problems/two_body_allen_cahn100.yaml")
DIMENSIONS = (2, 20, 100, 1000)
POINTS = 100


def measure(path: str, dim: int) -> dict:
    start = time.perf_counter()
    compiled = compile_problem(load_problem(ROOT / path, overrides={"dimension": dim}))
    sympy_s = time.perf_counter() - start

    rng = np.random.default_rng(0)
    x = jnp.asarray(rng.random((POINTS, dim)) * 0.5)
    t = jnp.asarray(rng.random(POINTS))
    ops = {name: jnp.asarray(rng.standard_normal((POINTS, dim) if "d" in shape else (POINTS,)))
           for name, shape in OPERATOR_SHAPES.items() if name in compiled.needs}

    def everything(ops, x, t):
        f = compiled.source(x, t) if compiled.source is not None else jnp.zeros_like(t)
        return compiled.residual(ops, x, t, f), compiled.exact(x, t)

    start = time.perf_counter()
    fn = jax.jit(everything).lower(ops, x, t).compile()
    xla_s = time.perf_counter() - start
    jax.block_until_ready(fn(ops, x, t))
    start = time.perf_counter()
    for _ in range(10):
        jax.block_until_ready(fn(ops, x, t))
    call_ms = (time.perf_counter() - start) / 10 * 1e3
    return {"problem": Path(path).stem, "dimension": dim, "sympy_and_trace_s": sympy_s,
            "xla_compile_s": xla_s, "call_ms": call_ms}


def main() -> None:
    rows = [measure(path, dim) for path in PROBLEMS for dim in DIMENSIONS]
    OUT.mkdir(parents=True, exist_ok=True)
    header = "problem,dimension,sympy_and_trace_s,xla_compile_s,call_ms"
    (OUT / "compile_time.csv").write_text(header + "\n" + "\n".join(
        f"{r['problem']},{r['dimension']},{r['sympy_and_trace_s']:.3f},{r['xla_compile_s']:.3f},{r['call_ms']:.3f}"
        for r in rows) + "\n")
    lines = [f"# Problem compile time against dimension ({datetime.date.today()})", "",
             f"Device: {device_description()}; load average {os.getloadavg()[0]:.1f}; versions: {versions()}.",
             f"Residual + exact solution (+ manufactured source by AD for the two-body problem) on {POINTS} points, "
             "float32; the dimension overrides the problem file's.", "",
             "| problem | d | load + sympy + trace (s) | XLA compile (s) | call (ms) |", "|---|---|---|---|---|"]
    lines += [f"| {r['problem']} | {r['dimension']} | {r['sympy_and_trace_s']:.2f} | {r['xla_compile_s']:.2f} | "
              f"{r['call_ms']:.2f} |" for r in rows]
    (OUT / "compile_time.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    sys.exit(main())
