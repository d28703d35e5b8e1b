"""``pdesolve tune``: search-space validation, study.nc, best.yaml replaying the best trial bit for
bit, resuming a killed study, two worker processes, several seeds per trial, the baseline and the
verification alone at fresh seeds. A
tiny 2-d Poisson problem at 0.1 s of training per run."""

import shutil
from pathlib import Path

import numpy as np
import optuna
import pytest
import xarray as xr
import yaml
from optuna.trial import TrialState

import pdesolve
from pdesolve.cli import main
from pdesolve.config import resolve
from pdesolve.run import solve
from pdesolve.tune import _trial, tune
from pdesolve.tune._outputs import best_config

ROOT = Path(__file__).resolve().parent.parent
BUDGET = 0.1  # seconds of training per trial: it ends every trial (train.steps is far beyond it)

PROBLEM = """
name: tiny_poisson
dimension: 2
domain: {type: box, low: 0, high: 1}
equation: "lap_u = f"
source: "-2 * pi**2 * sin(pi * x[1]) * sin(pi * x[2])"
conditions: {boundary: "0"}
exact: "sin(pi * x[1]) * sin(pi * x[2])"
evaluation: {points: 128, sampling: sobol, seed: 1234}
config:
  precision: float64
  model: {type: mlp, widths: [6], activation: tanh}
  operators: {method: ad}
  solver: {name: adam, learning_rate: 1.0e-2, schedule: constant}
  train: {steps: 1000000, batch_size: 256, log_every: 10, validation_points: 128}
"""

SPACE = """
# the test's space
solver.b1: 0.8
solver.learning_rate: {log_range: [1.0e-3, 3.0e-2]}
model.widths: {choices: [[6], [4, 4]]}
"""


@pytest.fixture(scope="module")
def files(tmp_path_factory) -> dict:
    folder = tmp_path_factory.mktemp("tune")
    (folder / "tiny.yaml").write_text(PROBLEM)
    (folder / "space.yaml").write_text(SPACE)
    return {"problem": str(folder / "tiny.yaml"), "space": str(folder / "space.yaml"), "folder": folder}


@pytest.fixture(scope="module")
def study(files):
    """A 3-trial study by one worker (in this process)."""
    return tune(files["problem"], files["space"], 3, budget=BUDGET, out=files["folder"] / "study")


def _tune_cli(files, space_text: str, capsys, *extra) -> tuple[int, str]:
    space = files["folder"] / "bad_space.yaml"
    space.write_text(space_text)
    code = main(
        [
            "tune",
            files["problem"],
            "--space",
            str(space),
            "--trials",
            "2",
            "--out",
            str(files["folder"] / "refused"),
            *extra,
        ]
    )
    return code, capsys.readouterr().err


@pytest.mark.parametrize(
    "text, field, words",
    [
        ("solver.learning_rate: {log_range: [0.1, 0.01]}", "solver.learning_rate", "must be below high"),
        ("solver.learning_rate: {log_range: [0, 0.01]}", "solver.learning_rate", "must be > 0"),
        ("solver.learning_rate: {range: [-1, 0.1]}", "solver.learning_rate", "-1.0: must be > 0"),
        ("solver.learning_rat: {log_range: [1.0e-3, 0.1]}", "solver.learning_rat", "did you mean 'learning_rate'"),
        ("train.batch_size: {log_range: [16, 64]}", "train.batch_size", "takes int_range"),
        ("train.batch_size: {int_range: [16, 64.5]}", "train.batch_size", "two integers"),
        ("solver.learning_rate: {range: [0.1, fast]}", "solver.learning_rate", "two finite numbers"),
        ("solver.learning_rate: {between: [0.1, 0.2]}", "solver.learning_rate", "expected one of range"),
        ("model.widths: {choices: []}", "model.widths", "non-empty list"),
        ("model.widths: {choices: [[4], [0]]}", "model.widths", "each an integer from 1"),
        (
            "solver.name: no_such_solver\nsolver.learning_rate: {log_range: [1.0e-3, 0.1]}",
            "solver.name",
            "unknown name",
        ),
        ("solver.b1: 0.5", "<root>", "nothing to search"),
        ("a: 1\na: 2", "<file>", "not valid YAML: found the key 'a' twice"),
        (
            "a: &a [1, 1, 1, 1, 1, 1, 1, 1, 1, 1]\n"
            + "".join(f"{n}: &{n} [{', '.join([f'*{p}'] * 10)}]\n" for p, n in zip("abcdefgh", "bcdefghi")),
            "<file>",
            "expands through aliases",
        ),
    ],
)
def test_invalid_space_exits_2_naming_the_field(files, capsys, text, field, words):
    code, err = _tune_cli(files, text, capsys)
    assert code == 2
    assert err.startswith(f"error: {files['folder'] / 'bad_space.yaml'}: {field}: ")
    assert words in err
    assert not (files["folder"] / "refused").exists()  # refused before any trial or folder


@pytest.mark.parametrize(
    "extra, words",
    [(["--budget", "0"], "--budget"), (["--workers", "0"], "--workers"), (["--verify", "-1"], "--verify")],
)
def test_invalid_options_exit_2(files, capsys, extra, words):
    code, err = _tune_cli(files, "solver.learning_rate: {log_range: [1.0e-3, 0.1]}", capsys, *extra)
    assert code == 2 and words in err


def test_zero_seeds_exit_2_naming_the_option_value_and_fix(files, capsys):
    code, err = _tune_cli(files, "solver.learning_rate: {log_range: [1.0e-3, 0.1]}", capsys, "--seeds", "0")
    assert code == 2
    assert err == (
        "error: config --seeds: must be an integer >= 1 (training runs per trial), got 0; "
        "e.g. --seeds 3, or leave it out for one\n"
    )  # one line, no traceback
    assert not (files["folder"] / "refused").exists()


@pytest.mark.parametrize("extra", [["--seeds", "2"], ["--baseline"]])
def test_a_space_setting_the_seed_is_refused_with_seeds_or_baseline(files, capsys, extra):
    code, err = _tune_cli(files, "seed: 3\nsolver.learning_rate: {log_range: [1.0e-3, 0.1]}", capsys, *extra)
    assert code == 2 and err.startswith(f"error: {files['folder'] / 'bad_space.yaml'}: seed: ")
    assert "set seed in --config" in err and not (files["folder"] / "refused").exists()


@pytest.mark.parametrize("space", sorted((ROOT / "configs" / "spaces").glob("*.yaml")), ids=lambda p: p.stem)
def test_shipped_spaces_are_valid_and_listed(space, capsys):
    from pdesolve.run import resolve_run_config
    from pdesolve.tune import load_space

    problem = pdesolve.load_problem(ROOT / "problems" / "poisson2d.yaml")
    assert load_space(space, resolve_run_config(problem)).dimensions
    assert space.read_text().startswith("# ")  # what it searches
    assert main(["list"]) == 0
    assert space.name in capsys.readouterr().out


def test_study_nc_has_one_row_per_trial(study):
    ds = study.study
    assert list(ds.trial.values) == [0, 1, 2]
    assert set(ds.state.values) <= {"complete", "pruned"} and ds.state.values[0] == "complete"
    assert ds.attrs["objective"] == "validation rel_l2" and ds.attrs["time_budget_s"] == BUDGET
    lr = ds["solver.learning_rate"].values
    assert ((lr >= 1e-3) & (lr <= 3e-2)).all() and ds["solver.learning_rate"].attrs["search"] == "log_range"
    assert set(ds["model.widths"].values) <= {"[6]", "[4, 4]"}
    assert "solver.b1" not in ds  # fixed, not searched
    complete = ds.where(ds.state == "complete", drop=True)
    assert (complete.error > 0).all() and (complete.test_rel_l2 > 0).all()
    assert (complete.train_time >= BUDGET).all() and (complete.train_time < BUDGET + 1).all()
    assert int(complete.error.idxmin()) == study.best_trial == ds.attrs["best_trial"]
    with xr.open_dataset(study.path / "study.nc", engine="h5netcdf") as on_disk:
        assert float(on_disk.error.sel(trial=0)) == float(ds.error.sel(trial=0))
    assert (study.path / "study.png").stat().st_size > 10_000


def test_one_seed_keeps_the_study_as_it_was(study):
    """Without --seeds: no seed dimension, no per-seed records, no baseline; the trials' user
    attributes are those of the studies made before --seeds (the objective is the run's error,
    bit for bit: see the replay test)."""
    ds = study.study
    assert "seed" not in ds.dims and "seed_error" not in ds
    assert ds.test_rel_l2.dims == ds.steps.dims == ("trial",)
    assert not [name for name in ds.attrs if name.startswith("baseline")]
    storage = optuna.storages.JournalStorage(optuna.storages.journal.JournalFileBackend(str(study.path / "study.log")))
    journal = optuna.load_study(study_name="tiny_poisson-space", storage=storage)
    assert "baseline" not in journal.user_attrs
    for trial in journal.trials:
        if trial.state == TrialState.COMPLETE:
            assert set(trial.user_attrs) == {"config", "steps", "train_time", "test_rel_l2", "stop_reason"}


def test_best_yaml_replays_the_best_trial_bit_for_bit(study, files):
    ds, best = study.study, study.best_trial
    text = (study.path / "best.yaml").read_text()
    config = yaml.safe_load(text)
    steps = int(ds.steps.sel(trial=best))
    assert 3 < steps < 1_000_000  # the time budget stopped the trial
    assert config["train"]["steps"] == steps and config["train"]["time_budget"] is None
    assert config["seed"] == 0 and config["solver"]["b1"] == 0.8  # the whole config, fixed settings included
    assert f"time budget {BUDGET} s" in text and "bit for bit" in text
    run = pdesolve.solve(files["problem"], study.path / "best.yaml", overrides=[{"train": {"progress": False}}])
    assert float(run.history.rel_l2.values[-1]) == float(ds.error.sel(trial=best))
    assert run.report["rel_l2"] == float(ds.test_rel_l2.sel(trial=best))


def test_best_yaml_keeps_the_budget_when_the_schedule_spans_the_steps():
    complete = optuna.trial.create_trial(value=0.5, user_attrs={"config": None, "steps": 7})
    for schedule, exact in (("constant", True), ("cosine", False)):
        config = {
            "seed": 3,
            "solver": {"name": "adam", "schedule": schedule},
            "train": {"steps": 100, "time_budget": 2.0, "progress": False},
        }
        complete.user_attrs["config"] = config
        text = best_config(complete, "validation rel_l2")
        train = yaml.safe_load(text)["train"]
        assert (train["steps"], train["time_budget"]) == ((7, None) if exact else (100, 2.0))
        assert ("not bit for bit" in text) != exact


def test_resume_keeps_completed_trials_and_drops_a_killed_one(study, files, capsys):
    out = files["folder"] / "resumed"
    shutil.copytree(study.path, out)
    storage = optuna.storages.JournalStorage(optuna.storages.journal.JournalFileBackend(str(out / "study.log")))
    killed = optuna.load_study(study_name="tiny_poisson-space", storage=storage).ask()  # running, never told
    assert (
        main(
            [
                "tune",
                files["problem"],
                "--space",
                files["space"],
                "--trials",
                "4",
                "--budget",
                str(BUDGET),
                "--out",
                str(out),
            ]
        )
        == 0
    )
    ds = xr.open_dataset(out / "study.nc", engine="h5netcdf")
    assert list(ds.trial.values) == [0, 1, 2, killed.number + 1]
    for name in ("error", "solver.learning_rate", "model.widths", "state"):
        assert list(ds[name].values[:3]) == list(study.study[name].values)
    assert (
        optuna.load_study(study_name="tiny_poisson-space", storage=storage).trials[killed.number].state
        == TrialState.FAIL
    )
    assert f"trial {killed.number + 1:3d}" in capsys.readouterr().out  # one line per finished trial
    other = files["folder"] / "other_space.yaml"
    other.write_text(SPACE.replace("3.0e-2", "5.0e-2"))
    assert main(["tune", files["problem"], "--space", str(other), "--trials", "4", "--out", str(out)]) == 2
    assert "of another problem or space; choose a new folder" in capsys.readouterr().err
    assert main(["tune", files["problem"], "--space", files["space"], "--trials", "4", "--out", str(out)]) == 2
    assert "made with another problem, config, budget, space or --seeds" in capsys.readouterr().err  # budget 20 s


def test_two_workers_share_the_study(files):
    config = files["folder"] / "seed5.yaml"
    config.write_text("seed: 5\n")
    result = tune(
        files["problem"], files["space"], 2, config=config, workers=2, budget=BUDGET, out=files["folder"] / "two"
    )
    assert list(result.study.trial.values) == [0, 1]
    assert yaml.safe_load((result.path / "best.yaml").read_text())["seed"] == 5  # over --config
    storage = optuna.storages.JournalStorage(optuna.storages.journal.JournalFileBackend(str(result.path / "study.log")))
    first, second = optuna.load_study(study_name="tiny_poisson-space", storage=storage).trials
    assert first.datetime_start < second.datetime_complete and second.datetime_start < first.datetime_complete


@pytest.fixture(scope="module")
def two_seeds(files):
    """A 2-trial study at 2 seeds with the baseline, trial 1 pruned at its first report; with the
    (seed, watched by the pruning reporter, solver.b1) of each solve, in order."""
    calls = []

    def spy(problem, config, on_log=None):
        calls.append((config["seed"], on_log is not None, config["solver"]["b1"]))
        return solve(problem, config, on_log=on_log)

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(_trial, "solve", spy)
        patch.setattr(optuna.trial.Trial, "should_prune", lambda trial: trial.number == 1)
        result = tune(
            files["problem"], files["space"], 2, budget=BUDGET, out=files["folder"] / "seeds", seeds=2, baseline=True
        )
    return result, calls


def test_two_seeds_objective_is_the_geometric_mean_of_the_seed_errors(two_seeds):
    ds = two_seeds[0].study
    assert list(ds.seed.values) == [0, 1] and ds.attrs["objective"].startswith("geometric mean over seeds 0 to 1")
    assert list(ds.state.values) == ["complete", "pruned"]
    errors = ds.seed_error.sel(trial=0).values
    assert np.all(np.isfinite(errors)) and errors[0] != errors[1]  # two runs, two seeds
    assert float(ds.error.sel(trial=0)) == pytest.approx(np.exp(np.mean(np.log(errors))), rel=1e-13)
    assert min(errors) < float(ds.error.sel(trial=0)) < max(errors)
    assert ds.steps.dims == ("trial", "seed") and (ds.steps.sel(trial=0) > 3).all()
    assert (ds.train_time.sel(trial=0) >= BUDGET).all()  # each seed gets the whole budget
    with xr.open_dataset(two_seeds[0].path / "study.nc", engine="h5netcdf") as on_disk:
        assert list(on_disk.seed_error.sel(trial=0).values) == list(errors)


def test_two_seeds_pruning_watches_the_first_seed_only(two_seeds):
    result, calls = two_seeds
    trials = calls[2:]  # after the baseline's two runs
    assert trials == [(0, True, 0.8), (1, False, 0.8), (0, True, 0.8)]  # trial 1 pruned in its first seed
    pruned = result.study.sel(trial=1)
    assert np.isnan(pruned.seed_error.values).all() and np.isfinite(float(pruned.error))
    assert str(pruned.note.values).startswith("pruned at")


def test_two_seeds_baseline_trains_the_config_without_the_space(two_seeds):
    result, calls = two_seeds
    assert calls[:2] == [(0, False, 0.9), (1, False, 0.9)]  # same seeds, never pruned, Adam's b1 (not the space's)
    attrs = result.study.attrs
    errors = np.asarray(attrs["baseline_seed_error"])
    assert errors.shape == (2,) and np.isfinite(errors).all() and attrs["baseline_note"] == ""
    assert attrs["baseline_error"] == pytest.approx(np.exp(np.mean(np.log(errors))), rel=1e-13)
    assert (np.asarray(attrs["baseline_seed_train_time"]) >= BUDGET).all()
    with xr.open_dataset(result.path / "study.nc", engine="h5netcdf") as on_disk:
        assert list(np.atleast_1d(on_disk.attrs["baseline_seed_error"])) == list(errors)


def test_two_seeds_best_yaml_replays_the_first_seed(two_seeds, files):
    result = two_seeds[0]
    text = (result.path / "best.yaml").read_text()
    assert "this file is the seed 0 run" in text and yaml.safe_load(text)["seed"] == 0
    run = pdesolve.solve(files["problem"], result.path / "best.yaml", overrides=[{"train": {"progress": False}}])
    assert float(run.history.rel_l2.values[-1]) == float(result.study.seed_error.sel(trial=0, seed=0))


def test_two_seeds_resume_drops_a_trial_killed_between_seeds(two_seeds, files, capsys):
    out = files["folder"] / "seeds_resumed"
    shutil.copytree(two_seeds[0].path, out)
    storage = optuna.storages.JournalStorage(optuna.storages.journal.JournalFileBackend(str(out / "study.log")))
    killed = optuna.load_study(study_name="tiny_poisson-space", storage=storage).ask()
    killed.set_user_attr("seed_error", [0.5])  # its first seed ran, then the kill
    assert (
        main(
            [
                "tune",
                files["problem"],
                "--space",
                files["space"],
                "--trials",
                "3",
                "--budget",
                str(BUDGET),
                "--seeds",
                "2",
                "--baseline",
                "--out",
                str(out),
            ]
        )
        == 0
    )
    printed = capsys.readouterr().out
    assert "baseline  complete" not in printed  # recorded in the study: not trained again
    assert f"baseline (the config without the space): {two_seeds[0].study.attrs['objective']}" in printed
    ds = xr.open_dataset(out / "study.nc", engine="h5netcdf")
    assert list(ds.trial.values) == [0, 1, killed.number + 1]
    assert (
        optuna.load_study(study_name="tiny_poisson-space", storage=storage).trials[killed.number].state
        == TrialState.FAIL
    )
    new = ds.seed_error.sel(trial=killed.number + 1).values
    assert ds.state.values[-1] == "complete" and np.isfinite(new).all() and 0.5 not in new
    assert list(ds.seed_error.values[0]) == list(two_seeds[0].study.seed_error.values[0])
    assert (
        main(
            [
                "tune",
                files["problem"],
                "--space",
                files["space"],
                "--trials",
                "3",
                "--budget",
                str(BUDGET),
                "--seeds",
                "3",
                "--out",
                str(out),
            ]
        )
        == 2
    )
    assert "made with another problem, config, budget, space or --seeds" in capsys.readouterr().err


@pytest.fixture(scope="module")
def verified(files):
    """A 2-trial study at one seed verified at 2 fresh seeds; with the (seed, pruning reporter,
    solver.b1, learning rate) of each solve, in order."""
    calls = []

    def spy(problem, config, on_log=None):
        calls.append((config["seed"], on_log is not None, config["solver"]["b1"], config["solver"]["learning_rate"]))
        return solve(problem, config, on_log=on_log)

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(_trial, "solve", spy)
        result = tune(files["problem"], files["space"], 2, budget=BUDGET, out=files["folder"] / "verified", verify=2)
    return result, calls


def test_verify_trains_the_best_trial_and_the_baseline_alternately_at_fresh_seeds(verified):
    result, calls = verified
    attrs, best = result.study.attrs, result.best_trial
    learning_rate = result.study["solver.learning_rate"].sel(trial=best).item()
    base_rate = resolve(yaml.safe_load(PROBLEM)["config"]).solver.settings.learning_rate  # 1e-2
    assert [c[:3] for c in calls[2:]] == [(1, False, 0.8), (1, False, 0.9), (2, False, 0.8), (2, False, 0.9)]
    assert [c[3] for c in calls[2::2]] == [learning_rate] * 2 and [c[3] for c in calls[3::2]] == [base_rate] * 2
    assert attrs["verify_best_trial"] == best and list(attrs["verify_seeds"]) == [1, 2]
    for side in ("best", "baseline"):
        errors = np.asarray(attrs[f"verify_{side}_seed_error"])
        assert errors.shape == (2,) and errors[0] != errors[1] and attrs[f"verify_{side}_note"] == ""
        assert attrs[f"verify_{side}_error"] == pytest.approx(np.exp(np.mean(np.log(errors))), rel=1e-13)
        assert (np.asarray(attrs[f"verify_{side}_seed_train_time"]) >= BUDGET).all()  # the trials' budget
    with xr.open_dataset(result.path / "study.nc", engine="h5netcdf") as on_disk:
        assert list(on_disk.attrs["verify_best_seed_error"]) == list(attrs["verify_best_seed_error"])


def test_verify_is_kept_in_the_study_and_printed(verified, files, capsys):
    out = files["folder"] / "verified_again"
    shutil.copytree(verified[0].path, out)
    assert (
        main(
            [
                "tune",
                files["problem"],
                "--space",
                files["space"],
                "--trials",
                "2",
                "--budget",
                str(BUDGET),
                "--verify",
                "2",
                "--out",
                str(out),
            ]
        )
        == 0
    )
    printed = capsys.readouterr().out
    attrs = verified[0].study.attrs
    assert "verify    best" not in printed  # the same best trial and seeds: recorded, not trained again
    assert (
        f"verified alone at seeds 1-2 (geometric mean): best trial {attrs['verify_best_trial']} "
        f"{attrs['verify_best_error']:.3e}, the config without the space {attrs['verify_baseline_error']:.3e}"
        in printed
    )
