"""Inverse problems: ``unknowns:`` learned with the network from ``data:`` observations (BP-free
Gauss-Newton, the unknowns as extra Jacobian columns), and data files refused with clear errors."""

import csv
import json
from pathlib import Path

import equinox as eqx
import jax
import numpy as np
import pytest
import yaml
from jax.flatten_util import ravel_pytree

import pdesolve
from pdesolve.cli import main
from pdesolve.errors import ConfigError, ProblemError
from pdesolve.run import build, precision, resolve_run

#: The reaction rate of the small test problem: -lap u + k u = f on [0, 1]^2, u = sin(pi x1) sin(pi x2).
K_TRUE = 3.0
PROBLEM = {
    "name": "reaction2d_inverse",
    "dimension": 2,
    "domain": {"type": "box", "low": 0, "high": 1},
    "equation": "-lap_u + rate * u = f",
    "source": f"(2 * pi**2 + {K_TRUE}) * sin(pi * x[1]) * sin(pi * x[2])",
    "conditions": {"boundary": "0"},
    "exact": "sin(pi * x[1]) * sin(pi * x[2])",
    "unknowns": {"rate": {"init": 1.0, "bounds": [0.0, 10.0], "exact": K_TRUE}},
    "data": {"file": "observations.csv"},
    "evaluation": {"points": 256, "sampling": "sobol"},
}
CONFIG = {
    "seed": 0,
    "model": {"type": "mlp", "widths": [16, 16], "activation": "tanh"},
    "train": {"steps": 25, "batch_size": 400, "log_every": 5, "progress": False, "validation_points": 128},
}


def _exact(x: np.ndarray) -> np.ndarray:
    return np.sin(np.pi * x[:, 0]) * np.sin(np.pi * x[:, 1])


def _write_csv(path: Path, header: list[str], rows) -> None:
    with path.open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(header)
        writer.writerows(rows)


def _problem_file(folder: Path, problem: dict = PROBLEM) -> Path:
    path = folder / "problem.yaml"
    path.write_text(yaml.safe_dump(problem))
    return path


@pytest.fixture
def observed(tmp_path) -> Path:
    """The test problem with 200 exact observations (seeded)."""
    x = np.random.default_rng(0).uniform(0, 1, (200, 2))
    _write_csv(tmp_path / "observations.csv", ["x1", "x2", "u"], np.column_stack([x, _exact(x)]))
    return _problem_file(tmp_path)


def test_a_reaction_rate_is_recovered(observed):
    """The default BP-free Gauss-Newton (layerwise Jacobian + forward-difference unknown columns)
    recovers the rate from exact observations, starting from k = 1."""
    run = pdesolve.solve(observed, CONFIG)
    row = run.report["unknowns"]["rate"]
    assert abs(row["value"] - K_TRUE) / K_TRUE < 1e-3
    assert row["exact"] == K_TRUE
    assert row["rel_error"] == pytest.approx(abs(row["value"] - K_TRUE) / K_TRUE)
    assert run.report["backprop"] is False
    assert run.report["data"]["points"] == 200


def test_the_unknown_columns_match_forward_mode(observed):
    """The default Jacobian (layerwise network columns, forward-difference columns for the unknown)
    agrees with the forward-mode (jvp) Jacobian of the same residual vector, data rows included."""
    problem = pdesolve.load_problem(observed)
    resolved = resolve_run(problem, CONFIG, {"solver": {"holdout": 0.0, "line_search": 0}})
    with precision(resolved):
        pieces = build(problem, resolved)
        params, static = eqx.partition(pieces.solution, eqx.is_inexact_array)
        loss, key = pieces.loss(static), jax.random.PRNGKey(0)
        batch = loss.prepare(pieces.batch_maker(None, loss)(0, params), key)
        theta, unravel = ravel_pytree(params)
        fn = lambda th: loss.residuals(unravel(th), batch, key)  # noqa: E731
        _r, jac, _ = pieces.solver._jacobian(loss, params, fn, theta, batch, key)
        reference = np.asarray(jax.jacfwd(fn)(theta))
    assert pieces.solver.jacobian == "layerwise" and jac.shape == reference.shape
    assert jac.shape[0] == 400 + 200  # collocation rows and data rows
    scale = np.max(np.abs(reference))
    np.testing.assert_allclose(np.asarray(jac)[:, -1], reference[:, -1], rtol=0, atol=1e-6 * scale)
    np.testing.assert_allclose(np.asarray(jac), reference, rtol=0, atol=1e-4 * scale)


def test_the_unknown_stays_in_its_bounds(observed, capsys):
    """The sigmoid map keeps the rate inside [lo, hi] even when the truth lies beyond: the bounds
    hold; the command line prints the learned value (no truth stated: no error)."""
    problem = yaml.safe_load(observed.read_text())
    problem["unknowns"]["rate"] = {"init": 1.0, "bounds": [0.0, 2.0]}
    config = observed.parent / "config.yaml"
    config.write_text(yaml.safe_dump({**CONFIG, "train": {**CONFIG["train"], "steps": 5}}))
    out = observed.parent / "run"
    assert (
        main(["solve", str(_problem_file(observed.parent, problem)), "--config", str(config), "--out", str(out)]) == 0
    )
    report = json.loads((out / "report.json").read_text())
    value = report["unknowns"]["rate"]["value"]
    assert 0.0 < value < 2.0 and "rel_error" not in report["unknowns"]["rate"]
    assert f"unknown rate = {value:.6g}" in capsys.readouterr().out
    assert "| rate |" in (out / "report.md").read_text()


def test_a_netcdf_file_reads_like_the_csv(tmp_path):
    import xarray as xr

    x = np.random.default_rng(1).uniform(0, 1, (50, 2))
    xr.Dataset({"x": (("point", "component"), x), "u": ("point", _exact(x))}).to_netcdf(
        tmp_path / "observations.nc", engine="h5netcdf"
    )
    problem = pdesolve.load_problem(_problem_file(tmp_path, {**PROBLEM, "data": {"file": "observations.nc"}}))
    np.testing.assert_array_equal(problem.data["x"], x)
    np.testing.assert_array_equal(problem.data["u"], _exact(x))


@pytest.mark.parametrize(
    "header, rows, message",
    [
        (["x1", "u"], [[0.5, 1.0]], "lacks the columns x2"),
        (["x1", "x2", "u", "v"], [[0.5, 0.5, 1.0, 2.0]], "unexpected columns v"),
        (["x1", "x2", "t", "u"], [[0.5, 0.5, 0.0, 1.0]], "unexpected columns t"),
        (["x1", "x2", "u"], [[0.5, 0.5]], "line 2 has 2 values"),
        (["x1", "x2", "u"], [[0.5, "abc", 1.0]], "line 2, column x2: 'abc' is not a number"),
        (["x1", "x2", "u"], [[0.5, 0.5, 1.0], [0.2, 0.3, "nan"]], "u of observation 1 is nan"),
        (["x1", "x2", "u"], [[0.5, 1.5, 1.0]], "outside the domain"),
        (["x1", "x2", "u"], [], "no observations"),
    ],
)
def test_bad_data_files_are_refused(tmp_path, header, rows, message):
    _write_csv(tmp_path / "observations.csv", header, rows)
    with pytest.raises(ProblemError, match=r"data\.file") as err:
        pdesolve.load_problem(_problem_file(tmp_path))
    assert message in str(err.value)


def test_a_netcdf_file_with_wrong_shapes_is_refused(tmp_path):
    import xarray as xr

    xr.Dataset({"x": (("point", "component"), np.zeros((4, 3)) + 0.5), "u": ("point", np.zeros(4))}).to_netcdf(
        tmp_path / "observations.nc", engine="h5netcdf"
    )
    with pytest.raises(ProblemError, match=r"variable x has shape \(4, 3\)"):
        pdesolve.load_problem(_problem_file(tmp_path, {**PROBLEM, "data": {"file": "observations.nc"}}))


@pytest.mark.parametrize(
    "change, field, message",
    [
        ({"data": {"file": "missing.csv"}}, "data.file", "not found"),
        ({"data": None}, "data", "the unknowns (rate) are learned from observations"),
        ({"unknowns": {"rate": {"init": 20.0, "bounds": [0, 10]}}}, "unknowns.rate.init", "strictly inside bounds"),
        ({"unknowns": {"rate": {"bounds": [0, 10]}}}, "unknowns.rate.init", "missing"),
        (
            {"unknowns": {"rate": {"init": 1.0, "exact": 12.0, "bounds": [0, 10]}}},
            "unknowns.rate.exact",
            "outside bounds",
        ),
        ({"unknowns": {"lap_u": {"init": 1.0}}}, "unknowns.lap_u", "reserved"),
        ({"unknowns": {"rate": {"init": 1.0, "step": 2}}}, "unknowns.rate.step", "unknown key"),
        ({"data": {"file": "observations.csv", "noise": -1}}, "data.noise", ">= 0"),
        ({"data": {"file": "observations.txt"}}, "data.file", "not found"),
    ],
)
def test_bad_unknowns_and_data_fields_are_refused(observed, change, field, message):
    problem = {**PROBLEM, **change}
    problem = {k: v for k, v in problem.items() if v is not None}
    with pytest.raises(ProblemError, match=field) as err:
        pdesolve.load_problem(_problem_file(observed.parent, problem))
    assert message in str(err.value)


def test_a_vector_unknown_is_used_like_a_vector_parameter(observed):
    """``c[i]`` of a vector unknown compiles at its start value; the report lists every component."""
    problem = {
        **PROBLEM,
        "equation": "-lap_u + Sum(c[i], (i, 1, d)) * u / 2 = f",
        "unknowns": {"c": {"init": 1.0, "vector": True, "exact": [K_TRUE, K_TRUE]}},
    }
    loaded = pdesolve.load_problem(_problem_file(observed.parent, problem))
    assert loaded.unknowns["c"].vector and np.shape(loaded.unknowns["c"].init) == (2,)
    run = pdesolve.solve(loaded, {**CONFIG, "train": {**CONFIG["train"], "steps": 2}})
    assert len(run.report["unknowns"]["c"]["value"]) == 2


def test_projection_solvers_are_refused(observed):
    with pytest.raises(ConfigError, match=r"solver\.name"):
        pdesolve.solve(observed, {"solver": {"name": "projection"}, "train": {"steps": 1, "progress": False}})
