"""Issue 40: with ``train.stages`` the ``solver`` section is not used, so the memory model takes the
largest requirement over the stages' solvers and a refusal names the stage; an unset
``chunk_size`` of a stage is fitted as the solver section's is."""

import contextlib
import io
from pathlib import Path

import pytest

from pdesolve import cli, limits, resources
from pdesolve.config import resolve
from pdesolve.errors import ConfigError

ROOT = Path(__file__).resolve().parent.parent
POISSON = ROOT / "tests/data/poisson2d_ad.yaml"  # adam, mlp(32, 32): 1,185 parameters
GIB = 2.0**30
STAGES = "train.stages=[{name: adam, steps: 1}, {name: gauss_newton, jacobian: ad}]"


def _check(monkeypatch, *sets):
    """``pdesolve check`` of ``POISSON`` with ``sets`` on an 8 GiB machine."""
    memory = (8 * GIB, "test memory")
    monkeypatch.setattr(resources, "device_memory", lambda: memory)
    monkeypatch.setattr(limits, "device_memory", lambda: memory)
    args = ["check", str(POISSON), "--set", "train.steps=10"]
    for item in sets:
        args += ["--set", item]
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = cli.main(args)
    return code, out.getvalue(), err.getvalue()


def test_a_gauss_newton_stage_that_would_not_fit_is_refused_naming_the_stage(monkeypatch):
    """100,000 rows x 1,185 parameters: the Jacobian's copies alone are over 8 GiB, which Adam's
    step, the solver section, never holds."""
    code, out, err = _check(monkeypatch, "train.batch_size=100000")
    assert code == 0 and out.strip().endswith("ok"), err  # the solver section alone
    code, _, err = _check(monkeypatch, "train.batch_size=100000", STAGES)
    assert code == 2 and len(err.strip().splitlines()) == 1, err
    assert "training in train.stages[1] (gauss_newton)" in err and "solver matrices" in err
    assert "set train.batch_size to at most" in err


def test_stages_that_fit_pass_and_check_names_the_largest(monkeypatch):
    code, out, err = _check(monkeypatch, "train.batch_size=2000", STAGES)
    assert code == 0 and out.strip().endswith("ok"), err
    assert "training in train.stages[1] (gauss_newton)" in out


def _staged(*stages):
    return resolve({"precision": "float64", "train": {"steps": 10, "batch_size": 40, "stages": list(stages)}})


def test_the_activation_check_reads_the_stages_and_names_the_largest(monkeypatch):
    """A CGE stage with 10^6 perturbations at once (too many for one point in half the memory,
    so the fix is the stage's chunk); the Adam stage is small."""
    monkeypatch.setattr(limits, "device_memory", lambda: (8 * GIB, "test memory"))
    config = _staged({"name": "adam", "steps": 1}, {"name": "cge", "chunk_size": 10**6})
    with pytest.raises(ConfigError, match=r"the run \(train\.stages\[1\]: cge\) needs at least") as refused:
        limits.check_memory(config, 13, 10**6)
    assert "set train.stages[1].chunk_size=" in str(refused.value)
    limits.check_memory(_staged({"name": "adam", "steps": 1}, {"name": "cge", "chunk_size": 10}), 13, 10**6)


def test_an_unset_chunk_of_a_stage_is_fitted_and_the_others_are_kept(monkeypatch):
    """As ``tests/test_limits.py`` for the solver section: 4 MiB fits 7 perturbations of 40 points
    x 13 nodes x 128 hidden units x 8 bytes."""
    monkeypatch.setattr(limits, "AUTO_CHUNK_BYTES", 2.0**22)
    config = _staged({"name": "cge", "steps": 1}, {"name": "cge", "steps": 1, "chunk_size": 100}, {"name": "adam"})
    fitted = limits.fit_solver_chunk(config, 13, 1000)
    assert [stage.get("chunk_size") for stage in fitted.train.stages] == [7, 100, None]
    assert {**fitted.train.stages[0], "chunk_size": None} == config.train.stages[0]
    assert fitted.solver == config.solver
