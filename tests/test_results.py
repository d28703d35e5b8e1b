"""Analysis outputs of a run folder, checked against values computed here independently:
solution.nc coordinates and attributes, slices.nc against the exact solution on the grid, the
report's breakdowns recomputed with numpy, AD residual statistics against jax.hessian, and
open_run(...).predict against the saved u_pred."""

import json
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
import pytest
import xarray as xr
import yaml
from scipy.stats import chi2

import pdesolve
from pdesolve.analysis import (
    boundary_distance,
    error_breakdown,
    radius_bands,
    residual_statistics,
    slice_plan,
    slice_points,
    slices_dataset,
)
from pdesolve.problem import compile_problem, problem_from_mapping
from pdesolve.run._whole_domain import radius_uniform_points

ROOT = Path(__file__).resolve().parent.parent
TINY = {
    "model": {"type": "mlp", "widths": [8], "activation": "tanh"},
    "operators": {"method": "ad"},
    "solver": {"name": "adam", "learning_rate": 1e-2},
    "train": {"steps": 15, "batch_size": 32, "log_every": 5, "progress": False, "checkpoint_every": 0},
    "seed": 0,
}

POISSON = {
    "name": "poisson2d_tiny",
    "dimension": 2,
    "domain": {"type": "box", "low": 0, "high": 1},
    "equation": "lap_u = f",
    "source": "-2 * pi**2 * sin(pi * x[1]) * sin(pi * x[2])",
    "conditions": {"boundary": "0"},
    "exact": "sin(pi * x[1]) * sin(pi * x[2])",
    "evaluation": {"points": 256, "sampling": "sobol", "seed": 7},
}
HEAT = {
    "name": "heat3_tiny",
    "dimension": 3,
    "time": {"start": 0, "end": 1},
    "domain": {"type": "box", "low": 0, "high": 1},
    "equation": "u_t - lap_u = f",
    "source": "from_exact",
    "conditions": {"initial": "sin(x[1]) * cos(x[2]) + x[3]", "boundary": "sin(x[1]) * cos(x[2]) + x[3] + t * x[3]"},
    "exact": "sin(x[1]) * cos(x[2]) + x[3] + t * x[3]",
    "evaluation": {
        "points": 300,
        "seed": 3,
        "units": {"x": "m", "t": "s", "u": "K"},
        "slice": {"axes": [1, 3], "at": 0.25, "times": [0.0, 1.0], "points": 50},
        "at": {"points": [0.5, [0.25, 0.5, 0.75]], "times": [0, 1]},
    },
}


def _solve(tmp_path_factory, problem: dict, name: str, config: dict = TINY):
    folder = tmp_path_factory.mktemp(name)
    path = folder / f"{name}.yaml"
    path.write_text(yaml.safe_dump(problem))
    run = pdesolve.solve(path, config, out=folder / "run")
    return run, folder / "run"


@pytest.fixture(scope="module")
def poisson(tmp_path_factory):
    return _solve(tmp_path_factory, POISSON, "poisson")


@pytest.fixture(scope="module")
def heat(tmp_path_factory):
    return _solve(tmp_path_factory, HEAT, "heat")


def test_solution_nc_coordinates_and_attributes(poisson):
    _, folder = poisson
    with xr.open_dataset(folder / "solution.nc", engine="h5netcdf") as ds:
        assert ds.attrs["Conventions"] == "CF-1.10"
        assert {"x", "component", "point", "boundary_distance"} <= set(ds.coords)
        assert ds.x.dims == ("point", "component") and list(ds.component.values) == [1, 2]
        assert ds.attrs["solver_name"] == "adam" and ds.attrs["operators_method"] == "ad"
        assert list(np.atleast_1d(ds.attrs["model_widths"])) == [8] and ds.attrs["train_steps"] == 15
        assert "settings" not in ds.attrs
        assert ds.u_pred.attrs["long_name"] and ds.abs_error.attrs["long_name"]
        x = ds.x.values
        near = ds.where(ds.x.sel(component=1, drop=True) < 0.25, drop=True)  # a region by coordinate
        assert near.sizes["point"] == np.sum(x[:, 0] < 0.25)
        np.testing.assert_allclose(ds.boundary_distance.values, np.minimum(x, 1 - x).min(axis=1), rtol=1e-6)
    with xr.open_dataset(folder / "history.nc", engine="h5netcdf") as hist:
        assert hist.attrs["Conventions"] == "CF-1.10" and hist.wall_time.attrs["units"] == "s"
        assert all(hist[name].attrs.get("long_name") for name in hist.data_vars)


def test_open_run_predict_equals_saved_u_pred(poisson):
    run, folder = poisson
    opened = pdesolve.open_run(folder)
    assert opened.prediction == "network"
    x = opened.solution.x.values
    np.testing.assert_allclose(opened.predict(x), opened.solution.u_pred.values, rtol=1e-6, atol=1e-7)
    np.testing.assert_allclose(opened.predict(x[3]), opened.solution.u_pred.values[3:4], rtol=1e-6, atol=1e-7)
    assert opened.report["rel_l2"] == run.report["rel_l2"]
    assert opened.slices is not None and opened.history is not None


def test_slices_match_exact_on_the_grid(poisson):
    _, folder = poisson
    with xr.open_dataset(folder / "slices.nc", engine="h5netcdf") as sl:
        assert sl.u_pred.dims == ("x1", "x2") and sl.sizes["x1"] >= 50 and sl.sizes["x2"] >= 50
        x1, x2 = np.meshgrid(sl.x1.values, sl.x2.values, indexing="ij")
        np.testing.assert_allclose(sl.u_exact.values, np.sin(np.pi * x1) * np.sin(np.pi * x2), atol=1e-6)
        np.testing.assert_allclose(sl.abs_error.values, np.abs(sl.u_pred.values - sl.u_exact.values), atol=1e-12)
        points = np.stack([x1.ravel(), x2.ravel()], axis=1)
        u_pred = sl.u_pred.values.ravel()
    np.testing.assert_allclose(pdesolve.open_run(folder).predict(points), u_pred, rtol=1e-5, atol=1e-6)
    for name in ("slices.png", "error_vs_step.png", "line.png", "model.eqx", "report.md"):
        assert (folder / name).stat().st_size > 0, name


def test_report_breakdowns_recomputed(poisson):
    _, folder = poisson
    report = json.loads((folder / "report.json").read_text())
    with xr.open_dataset(folder / "solution.nc", engine="h5netcdf") as ds:
        x, err, exact = ds.x.values, (ds.u_pred - ds.u_exact).values.astype(float), ds.u_exact.values.astype(float)
    assert "by_boundary_distance" not in report  # quantiles of the evaluation points: now radius bands
    worst = int(np.argmax(np.abs(err)))
    where = report["max_error_location"]
    np.testing.assert_allclose(where["x"], x[worst], rtol=1e-6)
    np.testing.assert_allclose(where["radius"], np.max(np.abs(2 * x[worst] - 1)), rtol=1e-6)  # sup-norm radius
    np.testing.assert_allclose(where["boundary_distance"], np.minimum(x[worst], 1 - x[worst]).min(), rtol=1e-6)
    factor = np.prod(4 * x * (1 - x), axis=1)  # the box ansatz factor; zero boundary data
    best = factor @ exact / (factor @ factor)
    np.testing.assert_allclose(report["baselines"]["best_constant"], best, rtol=1e-5)
    assert report["baselines"]["zero_rel_l2"] == pytest.approx(1.0)
    assert "by_time_slab" not in report and "best_constant_rel_l2" in (folder / "report.md").read_text()


def _is_float_array(a) -> bool:
    return isinstance(a, jax.Array) and jnp.issubdtype(a.dtype, jnp.inexact)


def test_residual_statistics_against_hessian(poisson):
    run, folder = poisson
    opened = pdesolve.open_run(folder)
    x = jnp.asarray(opened.solution.x.values, jnp.float64)
    model = jax.tree.map(lambda a: a.astype(jnp.float64) if _is_float_array(a) else a, opened.model)
    u = lambda p: model(p[None], jnp.zeros(1, p.dtype))[0]  # noqa: E731
    lap = jax.vmap(lambda p: jnp.trace(jax.hessian(u)(p)))(x)
    f = -2 * np.pi**2 * np.sin(np.pi * x[:, 0]) * np.sin(np.pi * x[:, 1])
    r = np.abs(np.asarray(lap - f))
    np.testing.assert_allclose(run.report["residual_mean_abs"], r.mean(), rtol=1e-4)
    np.testing.assert_allclose(run.report["residual_max_abs"], r.max(), rtol=1e-4)
    assert run.report["residual_of"].startswith("network")


def test_time_dependent_slabs_slices_and_units(heat):
    run, folder = heat
    report = run.report
    with xr.open_dataset(folder / "solution.nc", engine="h5netcdf") as ds:
        t, err = ds.t.values, (ds.u_pred - ds.u_exact).values.astype(float)
        assert ds.t.attrs["units"] == "s" and ds.x.attrs["units"] == "m" and ds.u_pred.attrs["units"] == "K"
        early = ds.abs_error.where(ds.t < 0.25, drop=True)  # a time window by coordinate
        x, t_saved, u_saved = ds.x.values, ds.t.values, ds.u_pred.values
    slabs = report["by_time_slab"]
    assert [s["low"] for s in slabs] == [0.0, 0.25, 0.5, 0.75] and slabs[-1]["high"] == 1.0
    for s in slabs:
        inside = (t >= s["low"]) & ((t < s["high"]) if s["high"] < 1 else (t <= 1))
        assert s["points"] == inside.sum()
        np.testing.assert_allclose(s["mean_abs_error"], np.abs(err[inside]).mean(), rtol=1e-6)
    np.testing.assert_allclose(slabs[0]["mean_abs_error"], float(early.mean()), rtol=1e-5)
    assert (folder / "error_by_time.png").stat().st_size > 0
    np.testing.assert_allclose(pdesolve.open_run(folder).predict(x, t_saved), u_saved, rtol=1e-6, atol=1e-7)
    with xr.open_dataset(folder / "slices.nc", engine="h5netcdf") as sl:
        assert sl.u_pred.dims == ("t", "x1", "x3") and list(sl.t.values) == [0.0, 1.0]
        assert sl.sizes["x1"] == 50 and list(sl.x_fixed.values) == [0.25, 0.25, 0.25]
        assert sl.x3.attrs["units"] == "m" and sl.u_exact.attrs["units"] == "K"
        tt, x1, x3 = np.meshgrid(sl.t.values, sl.x1.values, sl.x3.values, indexing="ij")
        np.testing.assert_allclose(sl.u_exact.values, np.sin(x1) * np.cos(0.25) + x3 + tt * x3, atol=1e-6)


def _heat_exact(x, t):
    return np.sin(x[:, 0]) * np.cos(x[:, 1]) + x[:, 2] + t * x[:, 2]


def test_whole_domain_errors_recomputed(heat):
    """The radius-uniform errors and bands, the centre and the evaluation.at points, recomputed from
    the reloaded model and the exact solution written here."""
    _, folder = heat
    report, opened = json.loads((folder / "report.json").read_text()), pdesolve.open_run(folder)
    assert report["evaluation_law"] == "volume"
    x, t = radius_uniform_points(opened.problem, 300)  # as many as the evaluation points
    error, exact = opened.predict(x, t).astype(float) - _heat_exact(x, t), _heat_exact(x, t)
    ru, bands = report["radius_uniform"], report["by_radius_band"]
    assert ru["points"] == 300
    np.testing.assert_allclose(ru["rel_l2"], np.linalg.norm(error) / np.linalg.norm(exact), rtol=1e-5)
    np.testing.assert_allclose([b["low"] for b in bands], [0, 0.2, 0.4, 0.6, 0.8], atol=1e-15)
    band = np.minimum(np.max(np.abs(2 * x - 1), axis=1) // 0.2, 4).astype(int)  # the box's sup-norm radius
    assert [b["points"] for b in bands] == np.bincount(band, minlength=5).tolist() and min(np.bincount(band)) > 40
    for k, b in enumerate(bands):
        np.testing.assert_allclose(b["max_abs_error"], np.abs(error[band == k]).max(), rtol=1e-5)
    centre, times = np.full((3, 3), 0.5), np.array([0.0, 0.5, 1.0])
    rows = report["centre"]
    assert [r["t"] for r in rows] == times.tolist() and {r["x"] for r in rows} == {"centre"}
    np.testing.assert_allclose([r["u_exact"] for r in rows], _heat_exact(centre, times), rtol=1e-6)
    np.testing.assert_allclose([r["u_pred"] for r in rows], opened.predict(centre, times), rtol=1e-6)
    rms = np.sqrt(np.mean(opened.solution.u_exact.values.astype(float) ** 2))
    np.testing.assert_allclose([r["scaled_error"] for r in rows], [r["abs_error"] / rms for r in rows], rtol=1e-6)
    at = report["at_points"]  # every point with every time, point by point
    assert [(r["point"], r["t"], r["x"]) for r in at] == [
        (0, 0, [0.5] * 3),
        (0, 1, [0.5] * 3),
        (1, 0, [0.25, 0.5, 0.75]),
        (1, 1, [0.25, 0.5, 0.75]),
    ]
    xa, ta = np.array([r["x"] for r in at]), np.array([r["t"] for r in at])
    np.testing.assert_allclose(
        [r["abs_error"] for r in at], np.abs(opened.predict(xa, ta) - _heat_exact(xa, ta)), rtol=1e-5, atol=1e-7
    )


def test_whole_domain_entries_in_every_output(heat):
    """lines.nc is the diagonal line; solution.nc attributes and report.md carry the report's new entries."""
    run, folder = heat
    report = run.report
    with xr.open_dataset(folder / "lines.nc", engine="h5netcdf") as line:
        xs = line.s.values[:, None] * np.ones(3)  # the box [0, 1]^3's diagonal, at mid-time
        assert line.attrs["t"] == 0.5 and line.u_pred.attrs["units"] == "K" and "diagonal" in line.s.attrs["long_name"]
        np.testing.assert_allclose(line.u_exact.values, _heat_exact(xs, 0.5), rtol=1e-6)
        np.testing.assert_allclose(line.u_pred.values, pdesolve.open_run(folder).predict(xs, 0.5), rtol=1e-6)
        np.testing.assert_allclose(line.abs_error.values, np.abs(line.u_pred.values - line.u_exact.values))
        assert float(line.abs_error.max()) == pytest.approx(report["line_max_abs_error"])
    assert run.lines is not None and pdesolve.open_run(folder).lines is not None
    with xr.open_dataset(folder / "solution.nc", engine="h5netcdf") as ds:
        attrs = ds.attrs
    assert attrs["evaluation_law"] == "volume" and attrs["radius_uniform_rel_l2"] == report["radius_uniform"]["rel_l2"]
    assert (
        json.loads(attrs["centre"]) == report["centre"]
        and json.loads(attrs["by_radius_band"]) == report["by_radius_band"]
    )
    assert json.loads(attrs["at_points"]) == [{k: v for k, v in r.items() if k != "x"} for r in report["at_points"]]
    assert attrs["line_max_abs_error"] == report["line_max_abs_error"]
    text = (folder / "report.md").read_text()
    worst = max(report["by_radius_band"], key=lambda b: b["rel_l2"])
    centre = max(report["centre"], key=lambda r: r["abs_error"])
    for row in (
        f"| rel_l2 (volume law) | {report['rel_l2']:.4e} |",
        f"| rel_l2 (radius-uniform law) | {report['radius_uniform']['rel_l2']:.4e} |",
        f"| rel_l2, worst radius band [{worst['low']:.3g}, {worst['high']:.3g}] | {worst['rel_l2']:.4e} |",
        f"| abs error at the centre (t = {centre['t']:.3g}) | {centre['abs_error']:.4e} |",
        "radius-uniform: the normalised radius",
        "scaled error: |error| / RMS of u_exact",
    ):
        assert row in text, row
    assert text.index("radius-uniform law) |") < text.index("| mse |")  # in the first table, beside the headline


def test_ball_slices_are_nan_outside():
    problem = problem_from_mapping(
        {
            "name": "ball",
            "dimension": 3,
            "domain": {"type": "ball", "radius": 2, "center": 1},
            "equation": "lap_u = 0",
            "conditions": {"boundary": "x[1]"},
        }
    )
    x_test = np.zeros((1, 3))
    plan = slice_plan(problem, x_test)
    assert plan["axes"] == ["x1", "x2"] and plan["times"] is None and list(plan["fixed"]) == [1, 1, 1]
    xs, ts, shape = slice_points(plan)
    assert shape == (51, 51) and np.all(xs[:, 2] == 1) and np.all(ts == 0)
    ds = slices_dataset(problem, plan, xs, {"u_pred": xs[:, 0], "u_exact": xs[:, 0] + 1}, shape, {})
    outside = boundary_distance(problem.domain, xs) < 0
    assert outside.any() and np.all(np.isnan(ds.u_pred.values.ravel()[outside]))
    np.testing.assert_allclose(ds.abs_error.values.ravel()[~outside], 1.0)


@pytest.mark.parametrize(
    "bad",
    [
        {"axes": [1, 1]},
        {"axes": [1, 4]},
        {"axes": [1, "t"]},
        {"at": [1, 2, 3]},
        {"times": 0},
        {"points": 1},
        {"colour": 1},
    ],
)
def test_bad_slice_options_are_refused(bad):
    data = dict(POISSON, evaluation={"slice": bad})
    with pytest.raises(pdesolve.ProblemError, match=r"evaluation\.slice"):
        problem_from_mapping(data)


def test_stein_run_predict_is_the_smoothed_model(tmp_path_factory):
    config = {
        "precision": "float64",
        "model": {"type": "mlp", "widths": [8], "activation": "sin"},
        "operators": {"method": "sg", "level": 3, "sigma": 0.05},
        "solver": {"name": "adam", "learning_rate": 1e-2},
        "train": {"steps": 3, "batch_size": 16, "log_every": 1, "progress": False, "checkpoint_every": 0},
        "seed": 1,
    }
    problem = dict(POISSON, evaluation={"points": 64, "slice": {"points": 50}})
    run, folder = _solve(tmp_path_factory, problem, "stein", config)
    opened = pdesolve.open_run(folder)
    assert opened.prediction == "ansatz with smoothed network (Stein)" == run.report["prediction"]
    assert run.report["residual_of"].startswith("raw network")
    x = opened.solution.x.values
    np.testing.assert_allclose(opened.predict(x), opened.solution.u_pred.values, rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(opened.predict(x, raw=True), opened.solution.u_raw.values, rtol=1e-12, atol=1e-14)
    assert np.max(np.abs(opened.solution.u_pred.values - opened.solution.u_raw.values)) > 0
    assert "u_raw" in opened.slices


def test_open_run_before_the_final_evaluation(poisson, tmp_path):
    _, folder = poisson
    for name in ("config.yaml", "model.eqx"):  # what a run killed in its final evaluation holds
        (tmp_path / name).write_bytes((folder / name).read_bytes())
    opened = pdesolve.open_run(tmp_path)
    assert opened.solution is None and opened.report == {} and opened.prediction == "network"
    with xr.open_dataset(folder / "solution.nc", engine="h5netcdf") as ds:
        np.testing.assert_allclose(opened.predict(ds.x.values), ds.u_pred.values, rtol=1e-6, atol=1e-7)
    with pytest.raises(pdesolve.ConfigError, match="not a trained run folder"):
        pdesolve.open_run(tmp_path / "missing")


def test_slice_plans_for_one_dimension_and_whole_space():
    heat1 = problem_from_mapping(
        {
            "name": "heat1",
            "dimension": 1,
            "time": {"start": 0, "end": 2},
            "domain": {"type": "box", "low": -1, "high": 1},
            "equation": "u_t - lap_u = 0",
            "conditions": {"initial": "0", "boundary": "0"},
        }
    )
    plan = slice_plan(heat1, np.zeros((1, 1)))
    assert plan["axes"] == ["x1", "t"] and plan["times"] is None
    xs, ts, shape = slice_points(plan)
    assert shape == (51, 51) and xs.min() == -1 and xs.max() == 1 and ts.min() == 0 and ts.max() == 2
    np.testing.assert_array_equal(xs[:, 0].reshape(shape)[:, 0], np.linspace(-1, 1, 51))
    np.testing.assert_array_equal(ts.reshape(shape)[0], np.linspace(0, 2, 51))
    cauchy = problem_from_mapping(
        {
            "name": "cauchy",
            "dimension": 3,
            "time": {"start": 0, "end": 1},
            "domain": {"type": "whole_space", "sampling": {"normal": {"mean": 1, "std": 0.5}}},
            "equation": "u_t + lap_u = 0",
            "conditions": {"terminal": "sqnorm(x)"},
        }
    )
    plan = slice_plan(cauchy, np.zeros((1, 3)))
    assert list(plan["fixed"]) == [1, 1, 1] and plan["grids"][0][0] == 0 and plan["grids"][0][-1] == 2
    assert list(plan["times"]) == [0, 0.5, 1]
    rng = np.random.default_rng(0)
    x, t, u_ref = 1 + 0.5 * rng.standard_normal((400, 3)), rng.random(400), rng.random(400) + 1
    u_pred = u_ref + 0.1 * np.linalg.norm(x - 1, axis=1)  # error grows with the radius
    out = error_breakdown(cauchy, x, t, u_pred, u_ref)
    assert set(out) == {"by_time_slab", "max_error_location"} and "boundary_distance" not in out["max_error_location"]
    rows = radius_bands(cauchy.domain, x, u_pred, u_ref)
    top = np.sqrt(chi2.ppf(0.999, 3) / 3)  # the normal law's radius |x - mean| / (std sqrt(d)), 99.9 % quantile
    np.testing.assert_allclose([r["high"] for r in rows], top * np.arange(1, 6) / 5, rtol=1e-12)
    band = np.minimum(np.linalg.norm(x - 1, axis=1) / (0.5 * np.sqrt(3)) // (top / 5), 4).astype(int)
    assert [r["points"] for r in rows] == np.bincount(band, minlength=5).tolist()
    means = [r["mean_abs_error"] for r in rows if r["points"]]
    assert means == sorted(means)


def test_a_problem_without_exact_solution_reports_its_residual(tmp_path_factory):
    problem = {k: v for k, v in POISSON.items() if k != "exact"}
    run, folder = _solve(tmp_path_factory, problem, "noexact", dict(TINY, train=dict(TINY["train"], steps=2)))
    assert "rel_l2" not in run.report and "baselines" not in run.report
    assert run.report["residual_max_abs"] >= run.report["residual_mean_abs"] > 0
    with xr.open_dataset(folder / "solution.nc", engine="h5netcdf") as ds:
        assert ds.attrs["errors_against"].startswith("none") and "u_exact" not in ds
        assert ds.attrs["residual_mean_abs"] == run.report["residual_mean_abs"]
    with xr.open_dataset(folder / "slices.nc", engine="h5netcdf") as sl:
        assert set(sl.data_vars) == {"u_pred"}
    assert (folder / "slices.png").stat().st_size > 0 and "residual_mean_abs" in (folder / "report.md").read_text()


def test_residual_statistics_do_not_depend_on_the_chunk(poisson):
    run, folder = poisson
    opened = pdesolve.open_run(folder)
    compiled = compile_problem(opened.problem)
    x = opened.solution.x.values
    t = np.zeros(len(x), x.dtype)
    whole = residual_statistics(compiled, opened.model, x, t)
    assert whole["residual_mean_abs"] == pytest.approx(run.report["residual_mean_abs"], rel=1e-6)
    chunked = residual_statistics(compiled, opened.model, x, t, chunk=37)  # uneven last chunk
    for key, value in whole.items():
        assert chunked[key] == pytest.approx(value, rel=1e-5), key


def test_open_run_of_a_python_module_problem(tmp_path):
    """A problem module's sympy objects are saved as text that the problem parser reads back."""
    config = dict(TINY, train=dict(TINY["train"], steps=2))
    pdesolve.solve(ROOT / "problems/poisson2d_module.py", config, out=tmp_path / "run")
    opened = pdesolve.open_run(tmp_path / "run")
    assert opened.problem.equation_text == "lap_u = f"
    np.testing.assert_allclose(
        opened.predict(opened.solution.x.values), opened.solution.u_pred.values, rtol=1e-6, atol=1e-7
    )
