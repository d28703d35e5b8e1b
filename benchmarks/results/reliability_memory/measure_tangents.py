"""Peak RSS of a Gauss-Newton run whose first layer has no per-unit weights, and the model's needs for it.

Usage: ``python measure_tangents.py solve|model PROBLEM [KEY=VALUE ...]`` (``--set`` items).

``solve``: one whole ``pdesolve solve`` in this process with ``train.check_memory=false`` (peak
resident memory ``ru_maxrss`` in MiB, as ``measure.py``), one CSV line: date, time (UTC), one-minute
load average just before, problem, settings, exit code, peak RSS, wall seconds, the
``solver.chunk_size`` the run recorded. ``model``: the run built as ``pdesolve check`` builds it
and the model's figures (MiB): the training need (``resources.training_needs``) and its first-layer
tangent part (``limits.tangent_bytes``), for the config as given and as fitted
(``limits.fit_solver_chunk``), one tangent column (``limits.tangent_column_bytes``), the
parameters, first-layer parameters, network evaluations per point and the fitted chunk.
See README.md, "First-layer tangents of the layerwise Jacobian".
"""

import contextlib
import datetime
import io
import resource
import sys
import tempfile
import time

import yaml

from pdesolve import cli
from pdesolve.config import parse_override
from pdesolve.limits import first_layer_params, tangent_bytes, tangent_column_bytes
from pdesolve.resources import training_needs
from pdesolve.run import build, precision, resolve_run_traced

MIB = 2.0**20


def solve_row(problem: str, sets: list[str]) -> list[str]:
    """The ``solve`` line's fields."""
    with open("/proc/loadavg") as file:
        load = file.read().split()[0]
    now = datetime.datetime.now(datetime.UTC)
    out = tempfile.mkdtemp(prefix="h40tt-") + "/run"
    args = ["solve", problem, "--quiet", "--out", out]
    for item in [*sets, "train.check_memory=false"]:
        args += ["--set", item]
    start = time.perf_counter()
    with contextlib.redirect_stdout(io.StringIO()):
        code = cli.main(args)
    wall = time.perf_counter() - start
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    with open(out + "/config.yaml") as file:
        chunk = yaml.safe_load(file)["config"]["solver"].get("chunk_size")
    when = [now.strftime("%Y-%m-%d"), now.strftime("%H:%M:%S"), load]
    return [*when, problem, " ".join(sets), str(code), f"{peak:.1f}", f"{wall:.1f}", str(chunk)]


def model_row(problem_file: str, sets: list[str]) -> list[str]:
    """The ``model`` line's fields."""
    problem = cli._load(problem_file, [])
    config, _ = resolve_run_traced(problem, *[("--set", parse_override(s)) for s in sets])
    with precision(config):
        pieces = build(problem, config)
    evals = pieces.engine.evals_per_point(pieces.compiled.needs, problem.dimension)
    n_params, first = pieces.network.n_params, first_layer_params(pieces.network)
    figures = []
    for each in (config, pieces.config):  # as given (what a run without the fitted chunk holds), as fitted
        needs = training_needs(each, problem, evals, n_params, first)
        figures += [f"{sum(need.size for need in needs) / MIB:.1f}", f"{tangent_bytes(each, evals, first) / MIB:.1f}"]
    column = tangent_column_bytes(config, evals) / MIB
    sizes = [f"{column:.2f}", str(n_params), str(first), str(evals), str(pieces.config.solver.settings.chunk_size)]
    return [problem_file, " ".join(sets), *figures, *sizes]


def main() -> None:
    mode, problem, sets = sys.argv[1], sys.argv[2], sys.argv[3:]
    fields = solve_row(problem, sets) if mode == "solve" else model_row(problem, sets)
    print(",".join(f'"{f}"' if "," in f or " " in f else f for f in fields), flush=True)


if __name__ == "__main__":
    main()
