"""Issue 40: the training phase's model counts what a Gauss-Newton step holds beside the loss
evaluations (its Jacobian, rows x parameters, and damped system), the layerwise Jacobian's node
records whatever its ``chunk_size``, and a Monte Carlo reference's draws in proportion to its paths,
bounded by the declared time at the measured rate (the constants: benchmarks/results/reliability_memory/)."""

import re
from pathlib import Path

import pytest

from pdesolve import limits, resources
from pdesolve.config import resolve
from pdesolve.errors import ProblemError
from pdesolve.problem import load_problem
from pdesolve.run import resolve_run
from pdesolve.solvers._gauss_newton import JACOBIAN_COPIES, LAYERWISE_RECORDS, SYSTEM_COPIES

ROOT = Path(__file__).resolve().parent.parent
P = 2561  # parameters of mlp(40, 40) on 20 coordinates and time


def _gn(**settings):
    return resolve({"solver": {"name": "gauss_newton", **settings}, "precision": "float64"})


def test_the_jacobian_grows_linearly_in_rows_and_the_system_is_the_smaller_side_squared():
    config = _gn(holdout=0.0)
    normal = [limits.solver_held_bytes(config, rows, P) for rows in (4 * P, 8 * P)]
    assert normal[1] - normal[0] == JACOBIAN_COPIES * 4 * P * P * 8  # P x P system in both
    kernel = limits.solver_held_bytes(config, P // 2, P)
    assert kernel == (JACOBIAN_COPIES * (P // 2) * P + SYSTEM_COPIES * (P // 2) ** 2) * 8


def test_held_out_rows_and_accumulated_chunks_leave_the_jacobian_and_keep_the_normal_system():
    rows = 10 * P
    held_out = limits.solver_held_bytes(_gn(holdout=0.5), rows, P)
    assert held_out == (JACOBIAN_COPIES * 5 * P * P + SYSTEM_COPIES * P * P) * 8
    accumulated = limits.solver_held_bytes(_gn(holdout=0.0, accumulate=4, chunk_size=64), P, P)
    assert accumulated == (JACOBIAN_COPIES * (P // 4 + 1) * P + SYSTEM_COPIES * P * P) * 8


def test_first_order_solvers_hold_nothing_beside_their_activations():
    assert limits.solver_held_bytes(resolve({"solver": {"name": "adam"}}), 10**6, P) == 0


def test_layerwise_records_are_not_capped_by_the_column_chunk():
    """``chunk_size`` chunks the columns of a finite-difference Jacobian, not layerwise's records."""
    for chunk in (1, 64, None):
        assert limits.perturbations(_gn(jacobian="layerwise", chunk_size=chunk).solver, P) == LAYERWISE_RECORDS
    assert limits.perturbations(_gn(jacobian="forward_difference", chunk_size=1).solver, P) == 1
    assert limits.perturbations(_gn(jacobian="forward_difference", chunk_size=64).solver, P) == 64


def test_the_reference_draws_grow_exactly_linearly_in_the_paths(tmp_path):
    text = (ROOT / "problems" / "heat_mc10.yaml").read_text()
    sizes = []
    for paths in (1000, 2000, 4000):
        path = tmp_path / f"p{paths}.yaml"
        path.write_text(text.replace("paths: 20000", f"paths: {paths}"))
        problem = load_problem(path)
        [need] = resources.reference_needs(problem)
        sizes.append(need.size)
        assert need.size == paths * problem.evaluation["points"] * problem.dimension  # exact sampling: 1 step
    assert sizes[1] == 2 * sizes[0] and sizes[2] == 4 * sizes[0]


def test_the_reference_bound_is_the_declared_time_at_the_measured_rate_and_the_refusal_says_so(tmp_path):
    bound = resources.MAX_REFERENCE_NORMALS
    assert bound == resources.REFERENCE_NORMALS_PER_SECOND * resources.MAX_REFERENCE_SECONDS
    text = (ROOT / "problems" / "heat_mc10.yaml").read_text()
    per_path = 1000 * 10  # evaluation points x dimension (exact sampling: one step)

    def check(paths):
        path = tmp_path / f"p{paths}.yaml"
        path.write_text(text.replace("paths: 20000", f"paths: {paths}"))
        problem = load_problem(path)
        assert problem.evaluation["points"] * problem.dimension == per_path
        resources.check_run(problem, resolve_run(problem, {}), 1, P)

    with pytest.raises(ProblemError, match=r"1 hour at 2\.2e\+07 draws a second") as refused:
        check(int(bound // per_path) + 1)
    fits = int(re.search(r"set reference\.monte_carlo\.paths to at most (\d+)", str(refused.value)).group(1))
    assert fits * per_path <= bound
    check(fits)
