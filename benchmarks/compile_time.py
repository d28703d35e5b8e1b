"""Suite ``compile-time``: compile time of a problem against its dimension. Vector reductions
compile to array reductions, so the expression (and its compile time) must not grow with d.

For the HJB-type and the two-body Allen-Cahn problems at each dimension of the size: (a) loading +
validating + compiling to JAX (sympy work and one abstract trace), (b) XLA compilation of the
residual + exact solution (+ manufactured source) on 100 points, (c) one compiled call (float32).
Entries (``--only``): the problem names.
"""

import time

from ._common import PROBLEMS, markdown_table

PROBLEM_FILES = ("hjb20.yaml", "two_body_allen_cahn100.yaml")
POINTS = 100
SIZES = {  # full = quick: compile time does not depend on the device's size
    "tiny": {"dimensions": (2, 20)},
    "quick": {"dimensions": (2, 20, 100, 1000)},
    "full": {"dimensions": (2, 20, 100, 1000)},
}


def measure(name: str, dim: int) -> dict:
    import jax
    import jax.numpy as jnp
    import numpy as np

    from pdesolve.operators import OPERATOR_SHAPES
    from pdesolve.problem import compile_problem, load_problem

    start = time.perf_counter()
    compiled = compile_problem(load_problem(PROBLEMS / name, overrides={"dimension": dim}))
    sympy_s = time.perf_counter() - start

    rng = np.random.default_rng(0)
    x = jnp.asarray(rng.random((POINTS, dim), np.float32) * 0.5)
    t = jnp.asarray(rng.random(POINTS, np.float32))
    ops = {
        op: jnp.asarray(rng.standard_normal((POINTS, dim) if "d" in shape else (POINTS,), np.float32))
        for op, shape in OPERATOR_SHAPES.items()
        if op in compiled.needs
    }

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
    return {
        "entry": name.removesuffix(".yaml"),
        "dimension": dim,
        "sympy_and_trace_s": sympy_s,
        "xla_compile_s": xla_s,
        "call_ms": call_ms,
    }


def run(size_name: str, only=None):
    names = [n for n in PROBLEM_FILES if not only or n.removesuffix(".yaml") in only]
    return [measure(name, dim) for name in names for dim in SIZES[size_name]["dimensions"]], None


def summarise(rows: list[dict], size_name: str) -> list[str]:
    return [
        f"Residual + exact solution (+ manufactured source by AD for the two-body problem) on {POINTS} points, "
        "float32; the dimension overrides the problem file's.",
        "",
        *markdown_table(
            rows,
            ["entry", "dimension", "sympy_and_trace_s", "xla_compile_s", "call_ms"],
            ["problem", "d", "load + sympy + trace (s)", "XLA compile (s)", "call (ms)"],
        ),
    ]
