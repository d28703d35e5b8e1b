"""Peak RSS of one ``pdesolve solve`` against the resource model's needs for the same run (issue 40).

Usage: ``python measure_model.py PROBLEM [--set KEY=VALUE ...]``. The solve runs first, with
``train.check_memory=false`` (peak resident memory as in ``measure.py``: ``ru_maxrss`` of this
process, in MiB); then the run is built as ``pdesolve check`` builds it and the model's needs are
printed (MiB): the training phase's (``resources.training_needs``), the solver step's activation
estimate (``limits.estimate_bytes``), the Gauss-Newton Jacobian (rows x parameters) and the damped
system (min(rows, parameters) squared), and for a Monte Carlo reference its normal draws.
One CSV line goes to stdout (see README.md for the columns).
"""

import contextlib
import io
import resource
import sys
import tempfile
import time

from pdesolve import cli
from pdesolve.config import parse_override
from pdesolve.limits import estimate_bytes
from pdesolve.resources import reference_needs, training_needs
from pdesolve.run import build, precision, resolve_run_traced

MIB = 2.0**20


def solve_peak(problem: str, sets: list[str]) -> tuple[int, float, float]:
    """(exit code, peak RSS in MiB, wall seconds) of a solve of ``problem`` in this process."""
    out = tempfile.mkdtemp(prefix="h40-") + "/run"
    args = ["solve", problem, "--quiet", "--out", out]
    for item in [*sets, "train.check_memory=false"]:
        args += ["--set", item]
    start = time.perf_counter()
    with contextlib.redirect_stdout(io.StringIO()):
        code = cli.main(args)
    return code, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, time.perf_counter() - start


def model_mib(problem_file: str, sets: list[str]) -> dict[str, float]:
    """The model's needs (MiB; draws for the reference) of the run ``pdesolve check`` would build."""
    problem = cli._load(problem_file, [])
    config, _ = resolve_run_traced(problem, *[("--set", parse_override(s)) for s in sets])
    with precision(config):
        pieces = build(problem, config)
    evals = pieces.engine.evals_per_point(pieces.compiled.needs, problem.dimension)
    n_params = pieces.network.n_params
    needs = training_needs(pieces.config, problem, evals, n_params)
    rows = config.train.batch_size  # interior rows (this problem has every condition exact)
    draws = sum(need.size for need in reference_needs(problem))
    return {
        "training": sum(need.size for need in needs) / MIB,
        "activations": estimate_bytes(pieces.config, evals, n_params) / MIB,
        "jacobian": rows * n_params * 8 / MIB,
        "system": min(rows, n_params) ** 2 * 8 / MIB,
        "params": n_params,
        "evals": evals,
        "draws": draws,
    }


def main() -> None:
    problem, sets = sys.argv[1], [s for s in sys.argv[2:] if s != "--set"]
    code, peak, wall = solve_peak(problem, sets)
    model = model_mib(problem, sets)
    fields = [problem, " ".join(sets), str(code), f"{peak:.1f}", f"{wall:.1f}"]
    fields += [f"{model[k]:.1f}" for k in ("training", "activations", "jacobian", "system")]
    fields += [str(model["params"]), str(model["evals"]), f"{model['draws']:.3g}"]
    print(",".join(f'"{f}"' if "," in f or " " in f else f for f in fields), flush=True)


if __name__ == "__main__":
    main()
