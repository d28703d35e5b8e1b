"""Reliability: checkpoints and bit-identical resume, SIGKILL mid-run, divergence (stop and
rollback), overwrite protection, config overrides through the CLI, reproducibility and the
memory limit."""

import contextlib
import io
import json
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import xarray as xr

import pdesolve
from pdesolve import cli
from pdesolve.errors import ConfigError
from pdesolve.limits import check_memory, device_memory, estimate_bytes
from pdesolve.problem import load_problem
from pdesolve.run import RunCheckpoints, resolve_run
from pdesolve.run._checkpoint import RECORD

ROOT = Path(__file__).resolve().parent.parent
POISSON = ROOT / "tests/data/poisson2d_ad.yaml"
QUIET = {"progress": False}
SOLVERS = {
    "adam": {"solver": {"name": "adam"}},
    "rge": {"solver": {"name": "rge", "samples": 4, "learning_rate": 1e-2}, "train": {"sampler": "sobol"}},
    # patience 1, a large coarse step and a log every 5 steps: the validation error rises at step
    # 20, so the stage switches at the checkpoint (measured: stage 1 from step 25 on)
    "hybrid": {
        "solver": {
            "name": "hybrid",
            "patience": 1,
            "coarse_samples": 4,
            "fine_block_size": 64,
            "coarse_learning_rate": 0.05,
        },
        "train": {"sampler": "halton"},
    },
    # a batch kept for 7 steps: the checkpoint at step 20 falls inside the one drawn at step 14
    "gauss_newton": {
        "solver": {"name": "gauss_newton", "jacobian": "jvp"},
        "train": {"resample_every": 7, "batch_size": 32},
    },
    # residual-adaptive points in a kept batch: the restore must reuse the choice made at step 14
    "gauss_newton_adaptive": {
        "solver": {"name": "gauss_newton", "jacobian": "jvp"},
        "train": {"resample_every": 7, "batch_size": 32, "adaptive_candidates": 3, "interior_law": "mixture"},
    },
    # training stages (the solver section unused): Adam then L-BFGS on a kept batch, the boundary at
    # step 25 after the checkpoint at 20; signRGE then Gauss-Newton, the boundary at 10 before it
    "stages_adam_lbfgs": {
        "solver": {"name": "adam"},
        "train": {"resample_every": 50, "stages": [{"name": "adam", "steps": 25}, {"name": "lbfgs"}]},
    },
    "stages_zo_gauss_newton": {
        "solver": {"name": "adam"},
        "train": {
            "batch_size": 32,
            "stages": [{"name": "sign_rge", "samples": 4, "steps": 10}, {"name": "gauss_newton", "jacobian": "jvp"}],
        },
    },
}


def _cli(args):
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = cli.main(args)
    return code, out.getvalue(), err.getvalue()


def _config(solver: str, steps: int = 40) -> dict:
    config = {"seed": 7, "train": {**QUIET, "steps": steps, "log_every": 5, "checkpoint_every": 20}}
    extra = SOLVERS[solver]
    config["solver"] = extra["solver"]
    config["train"].update(extra.get("train", {}))
    return config


class _Interrupted(Exception):
    pass


def _run_interrupted(config, folder, monkeypatch, after_saves: int = 1):
    """Runs into ``folder`` and stops it right after its ``after_saves``-th checkpoint."""
    original, calls = RunCheckpoints.save, []

    def save_then_stop(self, *args, **kwargs):
        original(self, *args, **kwargs)
        calls.append(1)
        if len(calls) == after_saves:
            raise _Interrupted

    with monkeypatch.context() as patch:
        patch.setattr(RunCheckpoints, "save", save_then_stop)
        with pytest.raises(_Interrupted):
            pdesolve.solve(POISSON, config, out=folder)


def _assert_same_run(a: Path, b: Path):
    with (
        xr.open_dataset(a / "solution.nc", engine="h5netcdf") as da,
        xr.open_dataset(b / "solution.nc", engine="h5netcdf") as db,
    ):
        np.testing.assert_array_equal(da["u_pred"].values, db["u_pred"].values)
    with (
        xr.open_dataset(a / "history.nc", engine="h5netcdf") as ha,
        xr.open_dataset(b / "history.nc", engine="h5netcdf") as hb,
    ):
        for name in ha.data_vars:
            if name not in ("wall_time", "train_time"):  # clock readings
                np.testing.assert_array_equal(ha[name].values, hb[name].values, err_msg=name)
    ra, rb = (json.loads((f / "report.json").read_text()) for f in (a, b))
    assert ra["rel_l2"] == rb["rel_l2"] and ra["steps"] == rb["steps"] and ra["loss_evals"] == rb["loss_evals"]


# rge, hybrid and Adam-then-L-BFGS stages (13 s, 22 s, compiling two stages) with -m slow: the default run keeps
# the suite under 15 min
@pytest.mark.parametrize(
    "solver",
    [pytest.param(s, marks=pytest.mark.slow) if s in ("rge", "hybrid", "stages_adam_lbfgs") else s for s in SOLVERS],
)
def test_resume_is_bit_identical_to_an_uninterrupted_run(solver, tmp_path, monkeypatch):
    config = _config(solver)
    whole = pdesolve.solve(POISSON, config, out=tmp_path / "whole")
    _run_interrupted(config, tmp_path / "cut", monkeypatch)
    record = json.loads((tmp_path / "cut" / RECORD).read_text())
    assert record["step"] == 20 and not (tmp_path / "cut" / "report.json").exists()
    if solver == "hybrid":  # the run after the checkpoint is in the fine stage: it came from the checkpoint
        assert record["history"]["stage"] == [0.0] * 4
        np.testing.assert_array_equal(whole.history["stage"].values, [0] * 4 + [1] * 4)
    if solver.startswith("stages"):  # the stage is in the history and in the checkpoint
        boundary = config["train"]["stages"][0]["steps"]
        np.testing.assert_array_equal(whole.history["train_stage"].values, [int(s > boundary) for s in range(5, 41, 5)])
    pdesolve.solve(POISSON, config, resume=tmp_path / "cut")
    _assert_same_run(tmp_path / "whole", tmp_path / "cut")
    assert not np.array_equal(whole.history["loss"].values[:1], whole.history["loss"].values[-1:])  # it trained


@pytest.mark.slow  # 30 s of subprocesses; the in-process resume tests cover resume in the default run
def test_a_run_killed_with_sigkill_keeps_a_readable_folder_and_resumes(tmp_path):
    folder = tmp_path / "killed"
    base = [
        sys.executable,
        "-m",
        "pdesolve",
        "solve",
        str(POISSON),
        "--quiet",
        "--seed",
        "3",
        "--set",
        "train.steps=300",
        "--set",
        "train.log_every=25",
        "--set",
        "train.checkpoint_every=50",
    ]
    proc = subprocess.Popen([*base, "--out", str(folder)], stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    deadline = time.time() + 120
    try:
        while not (folder / RECORD).exists():
            assert proc.poll() is None and time.time() < deadline, proc.stderr.read().decode()
            time.sleep(0.05)
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait()
    assert proc.returncode == -signal.SIGKILL
    record = json.loads((folder / RECORD).read_text())
    assert record["step"] % 50 == 0 and record["step"] < 300
    with xr.open_dataset(folder / "history.nc", engine="h5netcdf") as ds:  # readable, up to a checkpoint
        assert ds["step"].values[-1] <= record["step"] and np.all(np.isfinite(ds["loss"].values))
    assert (folder / "config.yaml").is_file() and (folder / record["arrays"]).is_file()
    code = subprocess.run([*base, "--resume", str(folder)], capture_output=True, text=True)
    assert code.returncode == 0, code.stderr
    assert code.stdout.strip().splitlines()[-1] == str(folder)
    report = json.loads((folder / "report.json").read_text())
    assert report["steps"] == 300
    # the same command never interrupted (a subprocess too: this test process runs with x64 on)
    whole = subprocess.run([*base, "--out", str(tmp_path / "whole")], capture_output=True, text=True)
    assert whole.returncode == 0, whole.stderr
    _assert_same_run(tmp_path / "whole", folder)


def test_resume_refuses_a_finished_run_and_a_changed_config(tmp_path, monkeypatch):
    config = _config("adam")
    _run_interrupted(config, tmp_path / "cut", monkeypatch)
    with pytest.raises(ConfigError, match=r"train\.batch_size"):
        pdesolve.solve(POISSON, config, overrides=[{"train": {"batch_size": 64}}], resume=tmp_path / "cut")
    code, _, err = _cli(["solve", str(POISSON), "--resume", str(tmp_path / "cut"), "--set", "seed=8", "--quiet"])
    assert code == 2 and err.startswith("error: config seed:") and len(err.strip().splitlines()) == 1
    pdesolve.solve(POISSON, config, resume=tmp_path / "cut")
    with pytest.raises(ConfigError, match="finished"):
        pdesolve.solve(POISSON, config, resume=tmp_path / "cut")


def _diverging(on_divergence: str) -> dict:
    # signRGE moves every weight by +-lr, and the exponential schedule grows lr from 1e-3 to 1e3:
    # u grows until exp(u)**2 overflows float32 (measured: at step 38 of 60, on volume-law points; one
    # rollback by 1e-3 then finishes the run).
    return {
        "seed": 0,
        "solver": {
            "name": "sign_rge",
            "learning_rate": 1e-3,
            "schedule": "exponential",
            "end_factor": 1e6,
            "samples": 4,
        },
        "train": {
            **QUIET,
            "steps": 60,
            "log_every": 2,
            "checkpoint_every": 4,
            "on_divergence": on_divergence,
            "rollback_factor": 1e-3,
            "interior_law": "volume",
        },
    }


@pytest.fixture
def blowup(tmp_path) -> Path:
    """poisson2d with the residual lap u - exp(u) - f, which overflows once u is large."""
    path = tmp_path / "blowup2d.yaml"
    text = POISSON.read_text().replace('equation: "lap_u = f"', 'equation: "lap_u - exp(u) = f"')
    path.write_text(text.replace("name: poisson2d", "name: blowup2d"))
    return path


def test_divergence_stops_cleanly_with_history_and_last_good_checkpoint(tmp_path, blowup):
    folder = tmp_path / "nan"
    config = _diverging("stop")
    code, _out, err = _cli(
        ["solve", str(blowup), "--out", str(folder), "--quiet", "--config", _write(tmp_path, config)]
    )
    assert code == 3 and "diverged" in err and "Traceback" not in err
    report = json.loads((folder / "report.json").read_text())
    # a blow-up is caught once the loss is 1e6 x its best (issue 14), before it overflows
    assert report["stop_reason"].startswith("diverged: ") and "at step" in report["stop_reason"]
    bad = int(re.search(r"at step (\d+)", report["stop_reason"]).group(1))
    assert 2 <= report["steps"] < bad <= report["steps"] + 2  # checked at every log step (every 2)
    with xr.open_dataset(folder / "history.nc", engine="h5netcdf") as ds:
        assert ds["step"].values[-1] == report["steps"] and np.all(np.isfinite(ds["loss"].values))
    with xr.open_dataset(folder / "solution.nc", engine="h5netcdf") as ds:
        assert np.all(np.isfinite(ds["u_pred"].values))
    record = json.loads((folder / RECORD).read_text())
    assert record["step"] <= report["steps"] and record["step"] % 4 == 0
    assert all(np.all(np.isfinite(a)) for a in _saved_arrays(folder / record["arrays"]) if a.dtype.kind == "f")


def _saved_arrays(path: Path) -> list[np.ndarray]:
    """The leaves of an ``eqx.tree_serialise_leaves`` file, read back with numpy alone."""
    arrays = []
    with open(path, "rb") as f:
        while f.peek(1) if hasattr(f, "peek") else f.read(1):
            arrays.append(np.load(f))
    assert arrays
    return arrays


def _write(tmp_path, config) -> str:
    import yaml

    path = tmp_path / "config.yaml"
    path.write_text(yaml.safe_dump(config))
    return str(path)


def test_rollback_lowers_the_learning_rate_and_finishes(blowup):
    stopped = pdesolve.solve(blowup, _diverging("stop"))
    assert stopped.report["stop_reason"].startswith("diverged") and stopped.report["steps"] < 60
    run = pdesolve.solve(blowup, _diverging("rollback"))
    assert run.report["steps"] == 60 and run.report["stop_reason"].startswith("step budget reached")
    assert "1 rollback: learning rate x0.001" in run.report["stop_reason"]
    np.testing.assert_array_equal(run.history["step"].values, np.arange(2, 61, 2))  # no gap, no repeat
    assert np.all(np.isfinite(run.history["loss"].values)) and np.all(np.isfinite(run.solution["u_pred"].values))
    # up to the point it rolled back to, the run is the stopped one
    n = 2
    np.testing.assert_array_equal(run.history["loss"].values[:n], stopped.history["loss"].values[:n])


def test_set_goes_through_config_validation_on_the_cli(tmp_path):
    for item, field, hint in (
        ("train.stepz=5", "train.stepz", "did you mean 'steps'"),
        ("train.steps=abc", "train.steps", "expected int"),
        ("train.steps=0", "train.steps", "from 1 to 10^12"),
        ("train.on_divergence=rollbak", "train.on_divergence", "did you mean 'rollback'"),
        ("solver.learning_rat=1", "solver.learning_rat", "did you mean 'learning_rate'"),
    ):
        code, _out, err = _cli(["solve", str(POISSON), "--out", str(tmp_path / "x"), "--set", item, "--quiet"])
        assert code == 2 and len(err.strip().splitlines()) == 1, err
        assert err.startswith(f"error: config {field}:") and hint in err, err
    assert not (tmp_path / "x").exists()  # refused before anything was written


def test_same_seed_bit_identical_for_a_zo_solver():
    config = _config("rge", steps=20)
    del config["train"]["checkpoint_every"]
    a, b = (pdesolve.solve(POISSON, config) for _ in range(2))
    c = pdesolve.solve(POISSON, config | {"seed": 8})
    np.testing.assert_array_equal(a.solution["u_pred"].values, b.solution["u_pred"].values)
    np.testing.assert_array_equal(a.history["loss"].values, b.history["loss"].values)
    assert not np.array_equal(a.solution["u_pred"].values, c.solution["u_pred"].values)
    assert set(a.report["versions"]) >= {"pdesolve", "jax", "jaxlib", "numpy"}
    assert a.report["seed"] == 7 and a.report["device"]


# A config that needs petabytes: coordinate-wise ZO (one perturbation per parameter, about a
# million of them) on 10^5 points with wide layers.
HUGE = {
    "model": {"widths": [1024, 1024]},
    "solver": {"name": "cge"},
    "train": {"batch_size": 100_000, **QUIET},
    "operators": {"method": "fd"},
}


def test_memory_limit_refuses_a_run_that_cannot_fit(tmp_path):
    code, _out, err = _cli(
        ["solve", str(POISSON), "--output-root", str(tmp_path), "--quiet", "--config", _write(tmp_path, HUGE)]
    )
    assert code == 2 and len(err.strip().splitlines()) == 1, err
    assert "config train.check_memory" in err and "GiB" in err and "solver.chunk_size=" in err
    assert not any(tmp_path.glob("poisson2d*")) and not (tmp_path / "poisson2d").exists()
    need = float(re.search(r"at least ([0-9.e+]+) GiB", err).group(1))
    assert need > 1e6  # about 4e15 bytes: 1e5 points x 5 nodes x 1.05e6 perturbations x 2048 x 4 B
    # the suggested chunk settings fit, by the same estimate
    solver_chunk = int(re.search(r"solver.chunk_size=(\d+)", err).group(1))
    point_chunk = int(re.search(r"operators.chunk_size=(\d+)", err).group(1))
    config = resolve_run(
        load_problem(POISSON), HUGE, {"solver": {"chunk_size": solver_chunk}, "operators": {"chunk_size": point_chunk}}
    )
    n_params = (2 * 1024 + 1024) + (1024 * 1024 + 1024) + 1025
    assert estimate_bytes(config, 5, n_params) <= device_memory()[0]
    check_memory(config, 5, n_params)  # no error


def test_a_batch_is_kept_for_resample_every_steps_and_redrawn_after_a_restore():
    """Steps 0-2 share a batch, step 3 draws the next; a maker restored inside a period (from the
    stream positions a checkpoint records) hands out the batch in use there, then continues the stream."""
    from pdesolve.problem import load_problem
    from pdesolve.run import BatchMaker, build
    from pdesolve.sampling import PointSampler

    problem = load_problem(POISSON)
    config = resolve_run(problem, {"train": {"resample_every": 3, "batch_size": 8}})
    pieces = build(problem, config)

    def maker():
        sampler = PointSampler(problem.domain, problem.time, "uniform", seed=3)
        return BatchMaker(pieces.compiled, sampler, pieces.soft_kinds, config.train, pieces.dtype)

    first = maker()
    xs = [np.asarray(first(step)["x"]) for step in range(7)]
    for step in (1, 2, 4, 5):
        np.testing.assert_array_equal(xs[step], xs[step - 1])
    assert not np.array_equal(xs[3], xs[2]) and not np.array_equal(xs[6], xs[5])
    cut = maker()
    for step in range(5):
        cut(step)
    position, origin = cut.sampler.state(), cut.origin  # as a checkpoint after 5 steps records them
    second = maker()
    second.restore(position, origin, 5)
    np.testing.assert_array_equal(np.asarray(second(5)["x"]), xs[5])
    np.testing.assert_array_equal(np.asarray(second(6)["x"]), xs[6])
