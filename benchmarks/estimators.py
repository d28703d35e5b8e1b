"""Suite ``estimators``: derivative engines on the 20-d HJB stencil (D = 21): cost, speed, error.

For each engine: network evaluations per collocation point, the median time of one compiled
operator evaluation (float32), and the relative L2 difference of u, u_t, u_x, lap_u to autodiff
of the raw network, in float32 and float64. The Stein estimators return the operators of the
smoothed network f_s, whose exact derivatives are not available, so their difference to AD of
the raw network includes the smoothing bias O(s^2).
"""

import statistics
import time

from ._common import markdown_table

DIM = 20
NEEDS = frozenset({"u", "u_t", "u_x", "lap_u"})
SIGMA, STEP, LEVEL = 0.1, 1e-2, 3
SIZES = {  # full = quick: a per-call measurement, not a training budget
    "tiny": {"points": 4, "repeats": 1, "width": 8, "se_samples": 16},
    "quick": {"points": 100, "repeats": 7, "width": 128, "se_samples": 1024},
    "full": {"points": 100, "repeats": 7, "width": 128, "se_samples": 1024},
}


def engines(size: dict) -> dict:
    from pdesolve.operators import AutodiffEngine, FiniteDifferenceEngine, MonteCarloSteinEngine, SparseGridSteinEngine

    return {
        "ad": AutodiffEngine(),
        "fd": FiniteDifferenceEngine(step=STEP),
        "sg (joint t)": SparseGridSteinEngine(sigma=SIGMA, level=LEVEL),
        "sg (fd t)": SparseGridSteinEngine(sigma=SIGMA, level=LEVEL, smooth_time=False, step=STEP),
        "se (joint t)": MonteCarloSteinEngine(sigma=SIGMA, samples=size["se_samples"]),
    }


def _relative_l2(estimate, reference) -> float:
    import jax.numpy as jnp

    return float(jnp.linalg.norm(estimate - reference) / jnp.linalg.norm(reference))


def run(size_name: str, only=None):
    import jax

    with jax.enable_x64(True):  # float64 for this suite only, not for the suites run after it
        return _run(size_name, only)


def _run(size_name: str, only=None):
    import equinox as eqx
    import jax
    import jax.numpy as jnp

    from pdesolve.config import MlpConfig
    from pdesolve.run import build_network

    size = SIZES[size_name]
    kx, kt, knet, kse = jax.random.split(jax.random.key(0), 4)
    x64 = jax.random.uniform(kx, (size["points"], DIM), jnp.float64)
    t64 = jax.random.uniform(kt, (size["points"],), jnp.float64)
    network = MlpConfig(widths=[size["width"]] * 2, activation="sin", init="lecun")
    nets = {dt: build_network(network, DIM + 1, key=knet, dtype=dt) for dt in (jnp.float32, jnp.float64)}
    inputs = {jnp.float64: (x64, t64), jnp.float32: (x64.astype(jnp.float32), t64.astype(jnp.float32))}

    def operators(engine, net, x, t, key):
        return engine(lambda x, t: net(jnp.concatenate([x, t[:, None]], axis=1)), x, t, NEEDS, key=key)

    table = engines(size)
    reference = eqx.filter_jit(lambda net, x, t: operators(table["ad"], net, x, t, None))
    rows = []
    for name, engine in table.items():
        if only and name not in only:
            continue
        call = eqx.filter_jit(lambda net, x, t, key: operators(engine, net, x, t, key))  # noqa: B023 (used in this iteration)
        errors = {}
        for dtype, bits in ((jnp.float32, 32), (jnp.float64, 64)):
            out, ref = call(nets[dtype], *inputs[dtype], kse), reference(nets[dtype], *inputs[dtype])
            errors |= {f"{op} f{bits}": _relative_l2(out[op], ref[op]) for op in sorted(NEEDS)}
        times = []
        for _ in range(size["repeats"]):  # compiled by the float32 call above
            start = time.perf_counter()
            jax.block_until_ready(call(nets[jnp.float32], *inputs[jnp.float32], kse))
            times.append(time.perf_counter() - start)
        rows.append(
            {
                "entry": name,
                "evals_per_point": engine.evals_per_point(NEEDS, DIM),
                "median_ms": 1e3 * statistics.median(times),
                **errors,
            }
        )
        print(f"  {name:14s} evals/pt {rows[-1]['evals_per_point']:5d}  {rows[-1]['median_ms']:8.2f} ms", flush=True)
    return rows, None


def summarise(rows: list[dict], size_name: str) -> list[str]:
    size = SIZES[size_name]
    columns = list(dict.fromkeys(k for row in rows for k in row))
    return [
        f"d = {DIM} (+t), {size['points']} points uniform in [0,1]^21, operators u, u_t, u_x, lap_u; network "
        f"21-{size['width']}-{size['width']}-1 sin; sigma {SIGMA}, FD step {STEP}, SG level {LEVEL}, SE samples "
        f"{size['se_samples']}; median of {size['repeats']} compiled float32 calls. Errors: relative L2 "
        "difference to autodiff of the raw network (for the Stein rows this includes the O(sigma^2) smoothing "
        "bias: they estimate the smoothed network's operators).",
        "",
        *markdown_table(rows, columns),
    ]
