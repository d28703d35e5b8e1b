"""What a newcomer meets first (issue 38): Ctrl-C keeps a checkpoint, ``--resume`` without one says
what it does, ``RunResult.predict``, ``predict`` without ``t``, shipped problems by name, the progress
bar over a time budget and the documented ``on_log`` rows."""

import contextlib
import io
import json
import signal
from pathlib import Path

import numpy as np
import pytest
import xarray as xr

import pdesolve
from pdesolve import cli
from pdesolve.run import HISTORY_FIELDS
from pdesolve.run._checkpoint import RECORD
from pdesolve.run._interrupt import TrainingInterrupted
from pdesolve.run._progress import Progress

ROOT = Path(__file__).resolve().parent.parent
POISSON_2D = {
    "name": "poisson2_tiny",
    "dimension": 2,
    "domain": {"type": "box", "low": 0, "high": 1},
    "equation": "lap_u = f",
    "source": "-2 * pi**2 * sin(pi * x[1]) * sin(pi * x[2])",
    "conditions": {"boundary": "0"},
    "exact": "sin(pi * x[1]) * sin(pi * x[2])",
    "evaluation": {"points": 64, "seed": 3, "slice": {"points": 20}},
}
TINY = {
    "seed": 3,
    "model": {"widths": [8]},
    "solver": {"name": "adam", "learning_rate": 1e-2},
    "operators": {"method": "ad"},
    "train": {"steps": 20, "batch_size": 32, "log_every": 5, "progress": False},
}
HEAT = {
    "name": "heat2_tiny",
    "dimension": 2,
    "time": {"start": 0, "end": 1},
    "domain": {"type": "box", "low": 0, "high": 1},
    "equation": "u_t - lap_u = f",
    "source": "from_exact",
    "conditions": {"initial": "sin(x[1]) + x[2]", "boundary": "sin(x[1]) + x[2] + t * x[2]"},
    "exact": "sin(x[1]) + x[2] + t * x[2]",
    "evaluation": {"points": 64, "seed": 3, "slice": {"points": 20}},
}


@pytest.fixture(scope="module")
def POISSON(tmp_path_factory):
    path = tmp_path_factory.mktemp("problem") / "poisson2_tiny.yaml"
    path.write_text(json.dumps({**POISSON_2D, "config": TINY}))  # the CLI's runs use these settings too
    return path


def _cli(args):
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = cli.main([str(a) for a in args])
    return code, out.getvalue(), err.getvalue()


def _interrupt_at(step: int):
    """An ``on_log`` that sends this process SIGINT at the logged ``step``, as Ctrl-C would."""

    def on_log(row):
        if row["step"] == step:
            signal.raise_signal(signal.SIGINT)

    return on_log


def test_ctrl_c_writes_a_checkpoint_and_the_resumed_run_is_bit_identical(POISSON, tmp_path):
    handler = signal.getsignal(signal.SIGINT)  # default_int_handler, or SIG_IGN in a background job or xdist worker
    whole = pdesolve.solve(POISSON, TINY, out=tmp_path / "whole")
    with pytest.raises(TrainingInterrupted) as caught:  # the default checkpoint_every (1000) is never reached
        pdesolve.solve(POISSON, TINY, out=tmp_path / "cut", on_log=_interrupt_at(10))
    assert caught.value.step == 10 and caught.value.checkpoint_step == 10
    assert caught.value.run_folder == tmp_path / "cut"
    assert json.loads((tmp_path / "cut" / RECORD).read_text())["step"] == 10
    assert signal.getsignal(signal.SIGINT) is handler  # the handler is put back
    resumed = pdesolve.solve(POISSON, TINY, resume=tmp_path / "cut")
    np.testing.assert_array_equal(resumed.solution.u_pred.values, whole.solution.u_pred.values)
    np.testing.assert_array_equal(resumed.history.loss.values, whole.history.loss.values)
    assert resumed.report["steps"] == 20


def test_cli_ctrl_c_says_where_the_checkpoint_is(POISSON, tmp_path, monkeypatch):
    monkeypatch.setattr(pdesolve.run._solve, "train", _train_then_interrupt(pdesolve.run._solve.train))
    code, _, err = _cli(["solve", POISSON, "--out", tmp_path / "run"])
    assert code == 130
    assert "checkpoint at step 10 written" in err and f"--resume {tmp_path / 'run'}" in err


def _train_then_interrupt(train):
    def interrupted(pieces, **kwargs):
        return train(pieces, **{**kwargs, "on_log": _interrupt_at(10)})

    return interrupted


def test_resume_without_a_checkpoint_says_so_and_starts_from_step_0(POISSON, tmp_path):
    config = {**TINY, "train": {**TINY["train"], "checkpoint_every": 0}}
    with pytest.raises(TrainingInterrupted) as caught:  # no checkpoints asked for: none is written
        pdesolve.solve(POISSON, config, out=tmp_path / "cut", on_log=_interrupt_at(10))
    assert caught.value.checkpoint_step is None and not (tmp_path / "cut" / RECORD).exists()
    fresh = pdesolve.solve(POISSON, config)
    code, _out, err = _cli(["solve", POISSON, "--resume", tmp_path / "cut", "--quiet"])
    assert code == 0, err
    assert "warning: --resume:" in err and "holds no checkpoint" in err and "from step 0" in err
    assert "checkpoint_every: 0" in err
    with xr.open_dataset(tmp_path / "cut" / "solution.nc", engine="h5netcdf") as ds:
        np.testing.assert_array_equal(ds.u_pred.values, fresh.solution.u_pred.values)


def test_run_result_predict_matches_u_pred_and_open_run(tmp_path):
    path = tmp_path / "heat.yaml"
    path.write_text(json.dumps(HEAT))
    run = pdesolve.solve(path, TINY, out=tmp_path / "run")
    x, t = run.solution.x.values, run.solution.t.values
    np.testing.assert_array_equal(run.predict(x, t), run.solution.u_pred.values)
    np.testing.assert_array_equal(run.predict(x, t), pdesolve.open_run(tmp_path / "run").predict(x, t))
    np.testing.assert_array_equal(run.predict(x[:4], 0.5), run.predict(x[:4], np.full(4, 0.5)))
    # one point alone: the same up to round-off (a batch of one takes another matmul path)
    np.testing.assert_allclose(run.predict(x[0], t[0]), run.solution.u_pred.values[:1], rtol=1e-13)
    for predict in (run.predict, pdesolve.open_run(tmp_path / "run").predict):
        with pytest.raises(pdesolve.ConfigError, match="t is missing: heat2_tiny is time dependent"):
            predict(x)
    with pytest.raises(pdesolve.ConfigError, match=r"give \(n, 2\) points"):
        run.predict(np.zeros((3, 5)), 0.0)


def test_stationary_predict_needs_no_t(POISSON):
    run = pdesolve.solve(POISSON, TINY)
    x = run.solution.x.values[:16]
    np.testing.assert_array_equal(run.predict(x), run.solution.u_pred.values[:16])


def test_a_shipped_problem_is_found_by_name_with_suggestions_on_a_miss(POISSON):
    assert Path(cli.problem_file("nt_hjb10_ball")) == cli.shipped("problems") / "nt_hjb10_ball.yaml"
    assert Path(cli.problem_file("poisson2d_module")) == cli.shipped("problems") / "poisson2d_module.py"
    assert cli.problem_file(str(POISSON)) == str(POISSON)
    code, out, _ = _cli(["check", "poisson2d"])
    assert code == 0 and "problem    poisson2d" in out
    code, _, err = _cli(["check", "nt_hjb10_bal"])
    assert code == 2 and "did you mean nt_hjb10_ball" in err and "Traceback" not in err
    code, _, err = _cli(["check", "zzzz"])
    assert code == 2 and "did you mean" not in err and "pdesolve list" in err


def test_the_progress_bar_runs_over_training_seconds_with_a_time_budget():
    stream = io.StringIO()
    with contextlib.redirect_stderr(stream):
        bar = Progress(total=1000, initial=0, enabled=True, name="p", budget=2.0)
        bar.advance(0.5)
        assert bar.bar.total == 2.0 and bar.bar.n == 0.5 and bar.step == 1
        bar.advance(7.0)  # the last step overshoots the budget: the bar stops at it
        assert bar.bar.n == 2.0 and bar.step == 2
        bar.close()
    assert "s of training" in stream.getvalue()
    with contextlib.redirect_stderr(io.StringIO()):
        steps = Progress(total=10, initial=4, enabled=True, name="p")
        steps.advance(123.0)  # without a budget the bar counts steps
        assert steps.bar.n == 5 and steps.bar.total == 10
        steps.close()


def test_on_log_rows_are_the_documented_history_rows(POISSON):
    rows = []
    run = pdesolve.solve(POISSON, TINY, on_log=rows.append)
    assert [set(row) for row in rows] == [set(HISTORY_FIELDS)] * 4
    for name in HISTORY_FIELDS:
        np.testing.assert_array_equal(
            [row[name] for row in rows], run.history[name].values if name != "step" else run.history.step.values
        )
        assert f"``{name}``" in pdesolve.solve.__doc__  # each field is documented where on_log is
