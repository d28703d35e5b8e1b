"""A solver's unset ``chunk_size`` is fitted to memory (``limits.fit_solver_chunk``).

Regression: the hybrid's CGE stage (and CGE) vmapped all n_params + 1 perturbed losses at once;
on heat_sin10 (SG level 3, operators.chunk_size 10, mlp(64, 64), 4993 parameters) the switch to
that stage took the process to 14 GB. ``operators.chunk_size`` bounds the points of a call, not
the perturbations multiplying them.
"""

from pathlib import Path

import equinox as eqx
import jax
import pytest

import pdesolve
from pdesolve import limits
from pdesolve.problem import load_problem
from pdesolve.run import build, build_solver, resolve_run

ROOT = Path(__file__).resolve().parent.parent
SG = {"method": "sg", "level": 3, "sigma": 0.1, "chunk_size": 10}
BUDGET = 2.0**20  # 1 MiB: 31 perturbations of 10 poisson2d points x 13 nodes x 32 units x 8 bytes


def _config(problem, solver: dict, widths=(16, 16), batch_size=40):
    model = {"type": "mlp", "activation": "tanh", "widths": list(widths)}
    return resolve_run(
        problem,
        {
            "model": model,
            "operators": SG,
            "solver": solver,
            "precision": "float64",
            "train": {"steps": 2, "batch_size": batch_size, "progress": False},
        },
    )


def _fitted(problem, config):
    """(fitted config, evals per point, n_params) as ``pdesolve.run.build`` fits them."""
    with jax.enable_x64(True):
        pieces = build(problem, config)
    epp = pieces.engine.evals_per_point(pieces.compiled.needs, problem.dimension)
    return pieces.config, epp, pieces.network.n_params


def test_heat_sin10_hybrid_gets_a_perturbation_chunk_within_the_budget():
    """The benchmark entry that took 14 GB: its estimate drops from ~12.6 GiB to the 1 GiB budget."""
    problem = load_problem(ROOT / "problems/heat_sin10.yaml")
    config = _config(problem, {"name": "hybrid"}, widths=(64, 64), batch_size=50)
    fitted, epp, n_params = _fitted(problem, config)
    assert config.solver.settings.chunk_size is None and n_params == 4993
    assert limits.estimate_bytes(config, epp, n_params) > 10 * limits.GIB  # what ran at 14 GB RSS
    chunk = fitted.solver.settings.chunk_size
    assert chunk is not None and 1 <= chunk < limits.perturbations(config.solver, n_params)
    assert limits.estimate_bytes(fitted, epp, n_params) <= limits.AUTO_CHUNK_BYTES


@pytest.mark.parametrize(
    "solver, chunked",
    [
        ({"name": "hybrid"}, True),
        ({"name": "cge"}, True),
        ({"name": "rge"}, False),
        ({"name": "sign_rge"}, False),
        ({"name": "forward_gradient"}, False),
        ({"name": "cge", "chunk_size": 100}, False),
    ],
)
def test_only_an_unset_chunk_of_too_many_perturbations_is_fitted(monkeypatch, solver, chunked):
    """With a 1 MiB budget: 338 CGE perturbations get a chunk of 31; RGE's 21 fit, forward gradients
    have no chunk and a chunk the config sets is kept."""
    monkeypatch.setattr(limits, "AUTO_CHUNK_BYTES", BUDGET)
    problem = load_problem(ROOT / "problems/poisson2d.yaml")
    config = _config(problem, solver)
    fitted, epp, n_params = _fitted(problem, config)
    if not chunked:
        assert fitted == config
        return
    assert fitted.solver.settings.chunk_size == int(BUDGET // (10 * epp * 32 * 8)) == 31
    assert fitted.solver.settings.chunk_size < limits.perturbations(config.solver, n_params)


def test_solve_steps_with_the_fitted_chunk_and_records_it(monkeypatch):
    monkeypatch.setattr(limits, "AUTO_CHUNK_BYTES", BUDGET)
    config = _config(load_problem(ROOT / "problems/poisson2d.yaml"), {"name": "hybrid"}).to_dict()
    run = pdesolve.solve(ROOT / "problems/poisson2d.yaml", {**config, "train": {**config["train"], "steps": 1}})
    assert run.config["solver"]["chunk_size"] == 31
    assert run.report["steps"] == 1


def _step_temp_bytes(problem, config) -> int:
    """XLA's temporary bytes of one compiled solver step of ``config``'s solver settings as given
    (``build`` would fit an unset chunk)."""
    with jax.enable_x64(True):
        pieces = build(problem, config)
        params, static = eqx.partition(pieces.solution, eqx.is_inexact_array)
        loss = pieces.loss(static)
        batch = pieces.batch_maker()(0)
        solver = build_solver(config.solver, 2)
        state = solver.init(loss, params)
        step = jax.jit(lambda p, s, b, k: solver.step(loss, p, s, b, k))
        compiled = step.lower(params, state, batch, jax.random.PRNGKey(0)).compile()
    return compiled.memory_analysis().temp_size_in_bytes


def test_the_compiled_cge_step_stays_near_the_budget(monkeypatch):
    """XLA's temporaries of the fitted step are within twice the budget; all 338 perturbations at
    once need over ten times it (measured: 12.7 MB unchunked, 1.3 MB fitted)."""
    monkeypatch.setattr(limits, "AUTO_CHUNK_BYTES", BUDGET)
    problem = load_problem(ROOT / "problems/poisson2d.yaml")
    config = _config(problem, {"name": "cge"})
    fitted, _, _ = _fitted(problem, config)
    assert _step_temp_bytes(problem, config) > 10 * BUDGET
    assert _step_temp_bytes(problem, fitted) <= 2 * BUDGET


def test_accumulated_gauss_newton_counts_one_chunk_of_points_per_call():
    """A step that sums its normal equations over 4 chunks of 400 points evaluates 100 at a time."""
    problem = load_problem(ROOT / "problems" / "poisson2d.yaml")

    def estimate(accumulate):
        config = resolve_run(
            problem,
            {
                "model": {"type": "mlp", "activation": "tanh", "widths": [16, 16]},
                "operators": {"method": "fd"},
                "precision": "float64",
                "solver": {"name": "gauss_newton", "accumulate": accumulate},
                "train": {"steps": 2, "batch_size": 400, "progress": False},
            },
        )
        return limits.estimate_bytes(*_fitted(problem, config))

    whole = estimate(1)
    assert whole == 400 * 5 * 32 * 8 * 64  # points x FD nodes (2d + 1) x hidden units x bytes x Jacobian chunk
    assert estimate(4) == whole / 4
