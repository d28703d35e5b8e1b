"""Warm start (``--init-from RUN`` / ``solve(init_from=...)``): a run starts from a trained run's network."""

from pathlib import Path

import equinox as eqx
import jax
import numpy as np
import pytest
import yaml

import pdesolve
from pdesolve.cli import main
from pdesolve.errors import ConfigError
from pdesolve.run import build, open_run, precision, resolve_run

ROOT = Path(__file__).resolve().parent.parent
SHIPPED = ROOT / "problems" / "poisson2d.yaml"
CONFIG = {
    "precision": "float64",
    "seed": 0,
    "model": {"type": "mlp", "widths": [8, 8], "activation": "tanh"},
    "operators": {"method": "fd"},
    "solver": {"name": "gauss_newton", "jacobian": "forward_difference"},
    "train": {"steps": 4, "batch_size": 64, "log_every": 1, "progress": False, "validation_points": 64},
}


@pytest.fixture(scope="module")
def problem_file(tmp_path_factory):
    """poisson2d with few evaluation points (the evaluation dominates these short runs)."""
    data = yaml.safe_load(SHIPPED.read_text())
    data["evaluation"] = {"points": 256, "sampling": "sobol", "seed": 1234}
    path = tmp_path_factory.mktemp("problem") / "poisson2d.yaml"
    path.write_text(yaml.safe_dump(data))
    return path


@pytest.fixture(scope="module")
def trained(tmp_path_factory, problem_file):
    folder = tmp_path_factory.mktemp("warm") / "trained"
    pdesolve.solve(problem_file, CONFIG, out=folder)
    return folder


def _first_batch_loss(problem_file, solution, config):
    """The loss of ``solution`` on the first batch of a run with ``config`` (as its first step sees it)."""
    problem = pdesolve.load_problem(problem_file)
    resolved = resolve_run(problem, config)
    with precision(resolved):
        pieces = build(problem, resolved)
        params, static = eqx.partition(solution, eqx.is_inexact_array)
        loss = pieces.loss(static)
        batch = pieces.batch_maker(None, loss)(0, params)
        _, subkey = jax.random.split(jax.random.PRNGKey(resolved.seed))
        return float(loss(params, batch, subkey)), pieces.solution


def test_init_from_loads_the_trained_weights(problem_file, trained, tmp_path):
    """The warm run's first-step loss is the trained model's loss on that batch (not the untrained one's)."""
    config = {**CONFIG, "train": {**CONFIG["train"], "steps": 1}}
    run = pdesolve.solve(problem_file, config, init_from=trained, out=tmp_path / "warm")
    model = open_run(trained).model
    expected, fresh = _first_batch_loss(problem_file, model, config)
    untrained, _ = _first_batch_loss(problem_file, fresh, config)
    first = float(run.history["loss"].values[0])
    assert first == pytest.approx(expected, rel=1e-9)  # the step sums the prepared stencil in another order
    assert abs(untrained - expected) > 1e-3 * expected  # the check can tell the two apart
    assert run.report["init_from"] == str(trained.resolve())
    assert run.config["train"]["init_from"] == str(trained.resolve())


def test_init_from_on_the_command_line(problem_file, trained, tmp_path, capsys):
    out, config = tmp_path / "cli", tmp_path / "config.yaml"
    config.write_text(yaml.safe_dump(CONFIG))
    code = main(
        [
            "solve",
            str(problem_file),
            "--config",
            str(config),
            "--init-from",
            str(trained),
            "--out",
            str(out),
            "--quiet",
            "--set",
            "train.steps=1",
        ]
    )
    assert code == 0
    opened = open_run(out)
    assert opened.config.train.init_from == str(trained.resolve())
    assert opened.report["init_from"] == str(trained.resolve())


def test_a_different_network_is_refused(problem_file, trained):
    config = {**CONFIG, "model": {"type": "mlp", "widths": [16, 16], "activation": "tanh"}}
    with pytest.raises(ConfigError, match=r"train.init_from.*layers\[0\].*shape \(8.*\) there and \(16.*\) here"):
        pdesolve.solve(problem_file, config, init_from=trained)


def test_a_folder_without_a_model_is_refused(problem_file, tmp_path):
    with pytest.raises(ConfigError, match="not a trained run folder"):
        pdesolve.solve(problem_file, CONFIG, init_from=tmp_path)


def test_warm_weights_equal_the_trained_ones(problem_file, trained):
    """The network arrays after the warm start are the trained run's, bit for bit."""
    from pdesolve.run._warm import warm_start

    problem = pdesolve.load_problem(problem_file)
    resolved = resolve_run(problem, CONFIG)
    with precision(resolved):
        warm = warm_start(build(problem, resolved).solution, trained)
    for a, b in zip(
        jax.tree.leaves(eqx.filter(warm.network, eqx.is_array)),
        jax.tree.leaves(eqx.filter(open_run(trained).model.network, eqx.is_array)),
    ):
        np.testing.assert_array_equal(np.asarray(a), np.asarray(b))
