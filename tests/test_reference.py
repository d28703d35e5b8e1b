"""``reference:`` in a problem file (problems without a closed form): parsing and refusals, the
equation's form identified from the compiled residual, Monte Carlo estimates against closed forms
(within 4 standard errors at every point; standard error ~ 1/sqrt(paths)), Euler-Maruyama
against the exact expectation of its own discretisation, Cole-Hopf against nt_hjb100_whole's
closed form at d = 5, and what a run's outputs say the errors are measured against."""

from pathlib import Path

import jax.numpy as jnp
import numpy as np
import pytest
import xarray as xr
import yaml

import pdesolve
from pdesolve.errors import ProblemError
from pdesolve.problem import compile_problem, load_problem, problem_from_mapping
from pdesolve.reference import check_reference, identify, monte_carlo

ROOT = Path(__file__).resolve().parent.parent
WHOLE = {"type": "whole_space", "sampling": {"normal": {"mean": 0, "std": 1}}}
COS = "Sum(cos(x[i]), (i, 1, d)) / d"
TINY = {
    "model": {"type": "mlp", "widths": [8], "activation": "tanh"},
    "operators": {"method": "ad"},
    "solver": {"name": "adam", "learning_rate": 1e-2},
    "train": {"steps": 2, "batch_size": 32, "log_every": 1, "progress": False, "checkpoint_every": 0},
    "seed": 0,
}


def _mapping(equation: str, kind: str = "terminal", data: str = COS, dim: int = 4, **fields) -> dict:
    base = {
        "name": "mc",
        "dimension": dim,
        "time": {"start": 0, "end": 1},
        "domain": WHOLE,
        "parameters": {"a": 0.7, "c": 0.3, "f0": 0.2, "theta": 0.8},
        "equation": equation,
        "conditions": {kind: data},
        "reference": {"monte_carlo": {"paths": 1000, "seed": 0}},
    }
    return {**base, **fields}


def _compiled(equation: str, **kwargs):
    return compile_problem(problem_from_mapping(_mapping(equation, **kwargs)))


def _points(n: int, d: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    return rng.standard_normal((n, d)), rng.uniform(0.05, 0.95, n)


def _cos_heat(x, t, tau, a=0.7, c=0.3, f0=0.2):
    """Closed form of u_t + a lap_u - c u + f0 = 0 with data sum_i cos(x_i) / d, tau to the data:
    E[cos(x_i + sqrt(2 a tau) Z)] = cos(x_i) exp(-a tau)."""
    return np.exp(-c * tau) * np.mean(np.cos(x), axis=1) * np.exp(-a * tau) + f0 * -np.expm1(-c * tau) / c


@pytest.mark.parametrize("kind", ["terminal", "initial"])
def test_exact_sampling_is_within_4_standard_errors_of_the_closed_form(kind):
    equation = "u_t + a * lap_u - c * u + f0 = 0" if kind == "terminal" else "u_t = a * lap_u - c * u + f0"
    compiled = _compiled(equation, kind=kind)
    x, t = _points(40, 4)
    ref = monte_carlo(compiled, x, t, paths=4000, seed=1)
    assert ref.info["method"] == "Feynman-Kac, exact Gaussian sampling" and ref.info["steps"] is None
    z = np.abs(ref.u - _cos_heat(x, t, 1 - t if kind == "terminal" else t)) / ref.stderr
    assert ref.stderr.min() > 0 and z.max() < 4, z.max()
    assert ref.info["stderr_mean"] == pytest.approx(ref.stderr.mean()) and ref.info["stderr_max"] == ref.stderr.max()
    assert ref.label == f"Monte Carlo reference (4000 paths, mean standard error {ref.stderr.mean():.2e})"


def test_standard_error_scales_like_one_over_sqrt_paths():
    compiled = _compiled("u_t + a * lap_u - c * u + f0 = 0")
    x, t = _points(20, 4, seed=1)
    small, large = (monte_carlo(compiled, x, t, paths=n, seed=2).stderr for n in (1000, 16000))
    assert np.mean(small / large) == pytest.approx(4.0, rel=0.05)


def test_results_do_not_depend_on_the_point_chunk(monkeypatch):
    """Points are estimated chunk by chunk (memory bound); a smaller chunk changes the random
    numbers, not the estimate beyond its standard error."""
    import pdesolve.reference as reference

    compiled = _compiled("u_t + a * lap_u - c * u + f0 = 0")
    x, t = _points(30, 4, seed=3)
    whole = monte_carlo(compiled, x, t, paths=3000, seed=0)
    monkeypatch.setattr(reference, "CHUNK_NUMBERS", 7 * 1024 * 4)  # 7 points of 1024 paths per call
    monkeypatch.setattr(reference, "PATH_CHUNK", 1024)  # 3 path chunks, the last one masked
    chunked = monte_carlo(compiled, x, t, paths=3000, seed=0)
    both = np.hypot(whole.stderr, chunked.stderr)
    assert np.max(np.abs(whole.u - chunked.u) / both) < 4.5
    assert np.mean(chunked.stderr / whole.stderr) == pytest.approx(1.0, rel=0.05)


def test_euler_maruyama_matches_the_exact_expectation_of_its_discretisation():
    """Ornstein-Uhlenbeck drift b = -theta x and a source (1 + t) sum(x) that depends on x and t:
    the Euler chain X_{k+1} = rho X_k + sqrt(2 a dt) Z (rho = 1 - theta dt) is Gaussian, so the
    expectation of the scheme (trapezoidal source sum included) has a closed form."""
    steps, a, c, theta = 20, 0.7, 0.3, 0.8
    compiled = _compiled("u_t + a * lap_u - theta * dot(x, u_x) - c * u + (1 + t) * vsum(x) = 0", dim=3)
    fk = identify(compiled)
    assert fk.kind == "linear" and fk.drift is None and fk.source is None and not fk.exact_sampling
    x, t = _points(20, 3, seed=4)
    ref = monte_carlo(compiled, x, t, paths=4000, seed=5, steps=steps)
    assert ref.info["method"] == f"Feynman-Kac, Euler-Maruyama with {steps} steps"
    tau = 1 - t
    dt = tau / steps
    rho = 1 - theta * dt
    var = 2 * a * dt * (1 - rho ** (2 * steps)) / (1 - rho**2)
    data = np.exp(-c * tau) * np.mean(np.cos(x * rho[:, None] ** steps), axis=1) * np.exp(-var / 2)
    k = np.arange(steps + 1)[None, :]
    weights = np.where((k == 0) | (k == steps), 0.5, 1.0) * dt[:, None] * np.exp(-c * k * dt[:, None])
    source = np.sum(weights * x.sum(axis=1)[:, None] * rho[:, None] ** k * (1 + t[:, None] + k * dt[:, None]), axis=1)
    z = np.abs(ref.u - (data + source)) / ref.stderr
    assert z.max() < 4, z.max()


def test_cole_hopf_matches_the_closed_form_of_nt_hjb100_whole_at_d5():
    path = ROOT / "problems" / "nt_hjb100_whole.yaml"
    closed = compile_problem(load_problem(path, overrides={"dimension": 5}))
    data = yaml.safe_load(path.read_text())
    data.pop("exact")
    data.update(dimension=5, reference={"monte_carlo": {"paths": 4000, "seed": 3}})
    compiled = compile_problem(problem_from_mapping(data))
    fk = identify(compiled)
    assert fk.kind == "cole_hopf" and fk.a == pytest.approx(1.0) and fk.lam == pytest.approx(1.0)
    x, t = _points(40, 5, seed=6)
    ref = monte_carlo(compiled, x, t, paths=4000, seed=3)
    assert ref.info["method"].startswith("Cole-Hopf")
    exact = np.asarray(closed.exact(jnp.asarray(x), jnp.asarray(t)))
    z = np.abs(ref.u - exact) / ref.stderr
    assert z.max() < 4, z.max()


def test_cole_hopf_with_a_diffusion_coefficient_and_initial_data():
    """u_t = a lap_u - lam |grad u|^2 with initial data g(x) = b.x (|b| = 1): with k = lam / a,
    E[exp(-k b.(x + sqrt(2 a t) Z))] = exp(-k b.x + k^2 a t), so u = -(1 / k) log E = b.x - lam t."""
    compiled = _compiled("u_t = a * lap_u - c * grad_u_sq", kind="initial", data="vsum(x) / sqrt(d)")
    x, t = _points(30, 4, seed=7)
    ref = monte_carlo(compiled, x, t, paths=4000, seed=8)
    exact = x.sum(axis=1) / 2 - 0.3 * t  # a = 0.7, lam = c = 0.3: k a t = lam t
    assert np.max(np.abs(ref.u - exact) / ref.stderr) < 4


@pytest.mark.parametrize(
    "equation, message",
    [
        ("u_t + lap_u + u * u_x[1] = 0", "not linear in u"),
        ("u_t + (1 + sqnorm(x)) * lap_u = 0", "coefficient of lap_u varies"),
        ("u_t + lap_u - grad_u_sq + u = 0", "grad_u_sq is supported without u"),
        ("u_t - lap_u = 0", "must be > 0"),
        ("u_t + u_xx[1] = 0", "uses u_xx"),
    ],
)
def test_unsupported_forms_are_refused_naming_the_field_and_the_forms(equation, message):
    compiled = _compiled(equation)
    with pytest.raises(ProblemError, match=message) as err:
        check_reference(compiled)
    assert err.value.field == "reference.monte_carlo" and "supported forms" in str(err.value)


@pytest.mark.parametrize(
    "change, field, message",
    [
        ({"domain": {"type": "ball", "radius": 1}}, "reference.monte_carlo", "killed/stopped paths"),
        ({"exact": "1"}, "reference", "not both|one of them"),
        ({"reference": {"monte_carlo": {"paths": 1}}}, "reference.monte_carlo.paths", "from 2"),
        ({"reference": {"monte_carlo": {"paths": 10, "steps": 0}}}, "reference.monte_carlo.steps", "> 0"),
        ({"reference": {"monte_carlo": {"path": 10}}}, "reference.monte_carlo.path", "did you mean 'paths'"),
        ({"reference": {"monte_carlo": {}, "values": {}}}, "reference", "one of"),
        (
            {"reference": {"values": {"points": [[0, 0, 0, 0]], "times": [0, 1], "u": [1]}}},
            "reference.values.times",
            "2 entries but points has 1",
        ),
        ({"reference": {"values": {"points": [[0, 0, 0, 0]], "u": [1]}}}, "reference.values.times", "missing"),
        (
            {"reference": {"values": {"points": [[0, 0, 0]], "times": [0], "u": [1]}}},
            "reference.values.points[0]",
            "list of 4",
        ),
        (
            {"reference": {"values": {"points": [[0, 0, 0, 0]], "times": [2], "u": [1]}}},
            "reference.values.times[0]",
            "outside the time interval",
        ),
        (
            {
                "domain": {"type": "ball", "radius": 1},
                "reference": {"values": {"points": [[2, 0, 0, 0]], "times": [0], "u": [1]}},
            },
            "reference.values.points[0]",
            "outside the domain",
        ),
    ],
)
def test_bad_references_are_refused(change, field, message):
    mapping = _mapping("u_t + lap_u = 0") | change
    if mapping["domain"]["type"] == "ball":
        mapping["conditions"] = {"terminal": "0", "boundary": "0"}
    with pytest.raises(ProblemError, match=message) as err:
        problem_from_mapping(mapping)
    assert err.value.field == field


def test_a_run_states_what_its_errors_are_measured_against(tmp_path):
    mapping = _mapping(
        "u_t + a * lap_u - c * u + f0 = 0",
        dim=2,
        evaluation={"points": 64, "seed": 1},
        reference={"monte_carlo": {"paths": 2000, "seed": 4}},
    )
    path = tmp_path / "mc.yaml"
    path.write_text(yaml.safe_dump(mapping))
    run = pdesolve.solve(path, TINY, out=tmp_path / "run")
    against = run.report["errors_against"]
    ref = run.report["reference"]
    assert against.startswith("Monte Carlo reference (2000 paths, mean standard error ") and "rel_l2" in run.report
    assert 0 < ref["stderr_mean"] <= ref["stderr_max"] and ref["paths"] == 2000 and ref["points"] == 64
    with xr.open_dataset(tmp_path / "run" / "solution.nc", engine="h5netcdf") as ds:
        assert ds.attrs["errors_against"] == against and ds.u_exact.attrs["long_name"] == against
        assert float(ds.u_exact_stderr.mean()) == pytest.approx(ref["stderr_mean"])
        assert ds.attrs["reference_stderr_max"] == ref["stderr_max"] and ds.attrs["reference_paths"] == 2000
        x, t = ds.x.values, ds.t.values
        assert np.max(np.abs(ds.u_exact.values - _cos_heat(x, t, 1 - t)) / ds.u_exact_stderr.values) < 4.5
    text = (tmp_path / "run" / "report.md").read_text()
    assert f"Errors against: {against}" in text and f"standard error mean {ref['stderr_mean']:.3e}" in text
    # the reference is known at the evaluation points only: no radius-uniform, band, centre or line errors
    assert run.report["evaluation_law"] == "volume" and "left out" in text
    assert not {"radius_uniform", "by_radius_band", "centre", "line_max_abs_error"} & set(run.report)
    with xr.open_dataset(tmp_path / "run" / "lines.nc", engine="h5netcdf") as line:
        assert set(line.data_vars) == {"u_pred"} and line.attrs["errors_against"].startswith("none on the line")


def test_reference_values_are_the_evaluation_points(tmp_path):
    points, times, u = [[0.1, 0.2], [-0.5, 0.3], [1.0, -1.0]], [0.0, 0.5, 1.0], [0.3, 0.2, 0.1]
    mapping = _mapping("u_t + lap_u = 0", dim=2, reference={"values": {"points": points, "times": times, "u": u}})
    run = pdesolve.solve(problem_from_mapping(mapping), TINY)
    ds = run.solution
    assert ds.sizes["point"] == 3 and run.report["errors_against"] == "reference values"
    np.testing.assert_array_equal(ds.x.values, points)
    np.testing.assert_array_equal(ds.t.values, times)
    np.testing.assert_array_equal(ds.u_exact.values, u)
    assert ds.u_exact.attrs["long_name"] == "reference values" and "u_exact_stderr" not in ds
    assert run.report["max_abs_error"] == pytest.approx(np.max(np.abs(ds.u_pred.values - u)))
    assert run.report["evaluation_law"] == "listed points" and "radius_uniform" not in run.report


def test_check_states_the_identified_reference():
    """``pdesolve check`` prints this line (tests/test_problems.py runs it on every shipped problem)."""
    line = check_reference(compile_problem(load_problem(ROOT / "problems" / "heat_mc10.yaml")))
    assert "20000 paths" in line and "exact Gaussian sampling" in line and "0.5 lap_u" in line and "0.05 u" in line


@pytest.mark.slow
def test_heat_mc10_reference_and_solve():
    """The shipped 10-d problem: its reference at all 1000 evaluation points, then a default
    (BP-free Gauss-Newton) solve measured against it."""
    run = pdesolve.solve(ROOT / "problems" / "heat_mc10.yaml", {"train": {"progress": False}})
    ref = run.report["reference"]
    print(
        f"\nheat_mc10: rel_l2 {run.report['rel_l2']:.3e} against {run.report['errors_against']}; "
        f"stderr mean {ref['stderr_mean']:.2e} max {ref['stderr_max']:.2e}; reference {ref['time_s']:.1f} s, "
        f"solve {run.report['wall_time_s']:.1f} s"
    )
    assert ref["points"] == 1000 and ref["stderr_max"] < 5e-3
    assert run.report["rel_l2"] < 5e-2
