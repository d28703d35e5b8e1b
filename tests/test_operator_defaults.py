"""The BP-free default chosen from the problem, its cost in ``pdesolve check``, and the memory
check's count of each solver's perturbations."""

import pytest

from pdesolve import cli
from pdesolve.config import resolve
from pdesolve.limits import perturbations
from pdesolve.operators import FULL_STENCIL_MAX_DIM, RANDOM_COORDINATES, default_operators
from pdesolve.problem import load_problem
from pdesolve.run import build_engine

HJB = frozenset({"u_t", "lap_u", "u_x"})


@pytest.mark.parametrize("dim", [1, 10, 100, FULL_STENCIL_MAX_DIM, FULL_STENCIL_MAX_DIM + 1, 1000, 10_000])
@pytest.mark.parametrize("precision, step", [("float64", 1e-3), ("float32", 3e-2)])
def test_default_operators_by_dimension(dim, precision, step):
    chosen = default_operators(dim, precision)
    assert chosen["method"] == "fd" and chosen["step"] == step
    full = dim <= FULL_STENCIL_MAX_DIM
    assert chosen["coordinates"] == ("all" if full else RANDOM_COORDINATES)
    engine = build_engine(resolve({"operators": {"method": "auto"}}).operators, dim=dim, has_time=True)
    assert engine.coordinates == ("all" if full else RANDOM_COORDINATES) and engine.step is None
    # nodes per point: 2d + 1 + 2 (t +- h); random: two sets of 2k + 1 + 2, whatever d
    nodes = engine.evals_per_point(HJB, dim)
    assert nodes == (2 * dim + 1 + 2 if full else 2 * (2 * RANDOM_COORDINATES + 1 + 2))


def test_projection_counts_its_zeroth_order_perturbations():
    def solver(**settings):
        return resolve({"solver": {"name": "projection", "samples": 10, **settings}}).solver

    assert perturbations(solver(), 1000) == 21  # 1 + 2 * samples (antithetic)
    assert perturbations(solver(antithetic=False), 1000) == 11
    assert perturbations(solver(hidden="fixed"), 1000) == 1
    assert perturbations(solver(chunk_size=5), 1000) == 5


def test_check_prints_method_and_cost(capsys):
    assert cli.main(["check", "problems/hjb20.yaml"]) == 0
    line = next(text for text in capsys.readouterr().out.splitlines() if text.startswith("cost"))
    config = resolve(load_problem("problems/hjb20.yaml").config)
    batch, samples = config.train.batch_size, config.solver.settings.samples
    # sparse-grid Stein level 3 on d + 1 = 21 smoothed coordinates: 925 nodes (README)
    assert f"sg operators: 925 network evaluations per point, {925 * batch:,} per loss" in line
    assert f"({2 * samples + 1} loss evaluations)" in line


def test_check_counts_the_layerwise_jacobian_by_hidden_units(capsys):
    """The default Gauss-Newton step costs the residual, one partial pass per hidden unit (40 + 40),
    its 20 line-search lengths and the held-out points' residual before the step: 1 + 80 + 20 + 1 =
    102 loss evaluations, not one per parameter (1,961)."""
    assert cli.main(["check", "problems/nt_burgers5_ball.yaml"]) == 0
    line = next(text for text in capsys.readouterr().out.splitlines() if text.startswith("cost"))
    assert "gauss_newton step (102 loss evaluations)" in line
