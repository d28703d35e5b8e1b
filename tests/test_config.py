"""Run configuration: defaults, validation with did-you-mean, overrides and precedence."""

import pytest

from pdesolve.config import (
    default_config,
    load_config_file,
    merge_config,
    parse_override,
    resolve_config,
)
from pdesolve.errors import ConfigError
from pdesolve.problem import problem_from_mapping
from pdesolve.run import resolve_run_config


def test_defaults():
    c = default_config()
    assert set(c) == {"seed", "precision", "ansatz", "model", "solver", "operators", "train"}
    assert c["seed"] == 0 and c["precision"] == "float32" and c["ansatz"] == "auto"
    assert c["model"] == {"type": "mlp", "widths": [64, 64], "activation": "tanh", "init": "lecun", "inputs": "auto"}
    assert c["solver"]["name"] == "adam" and c["solver"]["learning_rate"] == 1e-3
    assert c["operators"]["method"] == "ad" and c["train"]["steps"] == 2000


def test_defaults_are_fresh_copies():
    a = default_config()
    a["model"]["widths"].append(7)
    assert default_config()["model"]["widths"] == [64, 64]


def test_merge_does_not_mutate_its_inputs():
    base = default_config()
    update = {"train": {"steps": 5}}
    merged = merge_config(base, update)
    assert merged["train"]["steps"] == 5 and base["train"]["steps"] == 2000 and update == {"train": {"steps": 5}}


@pytest.mark.parametrize(
    "update, field, phrase",
    [
        ({"trian": {"steps": 1}}, "trian", "did you mean 'train'"),
        ({"train": {"stpes": 1}}, "train.stpes", "did you mean 'steps'"),
        ({"operators": {"methd": "sg"}}, "operators.methd", "did you mean 'method'"),
        ({"model": {"widht": [8]}}, "model.widht", "did you mean 'widths'"),
        ({"model": {"rank": 2}}, "model.rank", "unknown key"),  # a tt_mlp key on an mlp
        ({"seeed": 1}, "seeed", "did you mean 'seed'"),
    ],
)
def test_unknown_section_or_key_suggests(update, field, phrase):
    with pytest.raises(ConfigError) as err:
        resolve_config(update)
    assert err.value.field == field
    assert phrase in str(err.value)
    assert "allowed:" in str(err.value)


@pytest.mark.parametrize(
    "update, field",
    [
        ({"train": {"steps": "many"}}, "train.steps"),
        ({"train": {"steps": 1.5}}, "train.steps"),
        ({"train": {"steps": True}}, "train.steps"),
        ({"solver": {"learning_rate": "fast"}}, "solver.learning_rate"),
        ({"model": {"widths": 64}}, "model.widths"),
        ({"seed": "zero"}, "seed"),
        ({"train": [1, 2]}, "train"),
        ({"train": {"progress": 1}}, "train.progress"),
    ],
)
def test_wrong_types_are_refused(update, field):
    with pytest.raises(ConfigError) as err:
        resolve_config(update)
    assert err.value.field == field
    assert "expected" in str(err.value)


def test_int_is_accepted_where_a_float_is_expected():
    c = resolve_config({"solver": {"learning_rate": 1}, "operators": {"method": "sg", "sigma": 2}})
    assert c["solver"]["learning_rate"] == 1 and c["operators"]["sigma"] == 2


def test_exponent_notation_is_a_number_everywhere(tmp_path):
    """PyYAML reads 1e-3 (no dot) as a string; configs, overrides and problem files must not."""
    assert resolve_config(parse_override("solver.learning_rate=1e-3"))["solver"]["learning_rate"] == 1e-3
    path = tmp_path / "c.yaml"
    path.write_text("solver: {learning_rate: 5e-4}\noperators: {method: fd, step: 1E-2}\n")
    c = resolve_config(load_config_file(path))
    assert c["solver"]["learning_rate"] == 5e-4 and c["operators"]["step"] == 1e-2
    from pdesolve.problem import load_problem

    problem = tmp_path / "p.yaml"
    problem.write_text(
        "dimension: 2\nparameters: {r: 1e-3}\ndomain: {type: ball, radius: 2e0}\n"
        "equation: 'lap_u = r'\nconditions: {boundary: '0'}\n"
    )
    loaded = load_problem(problem)
    assert loaded.parameters["r"] == 1e-3 and loaded.domain.outer == 2.0
    assert parse_override("model.activation=1e") == {"model": {"activation": "1e"}}  # not a number: text


@pytest.mark.parametrize(
    "update, field, phrase",
    [
        ({"operators": {"method": "sgg"}}, "operators.method", "did you mean 'sg'"),
        ({"precision": "float16"}, "precision", "unknown value 'float16'"),
        ({"ansatz": "hard"}, "ansatz", "unknown value 'hard'"),
        ({"train": {"sampler": "sobel"}}, "train.sampler", "did you mean 'sobol'"),
        ({"solver": {"schedule": "cosin"}}, "solver.schedule", "did you mean 'cosine'"),
        ({"model": {"type": "mlpp"}}, "model.type", "did you mean 'mlp'"),
        ({"solver": {"name": "adamw"}}, "solver.name", "did you mean 'adam'"),
    ],
)
def test_bad_choices_are_refused(update, field, phrase):
    with pytest.raises(ConfigError) as err:
        resolve_config(update)
    assert err.value.field == field
    assert phrase in str(err.value)


def test_changing_model_type_takes_that_kinds_defaults():
    c = resolve_config({"model": {"widths": [8]}}, {"model": {"type": "tt_mlp"}})
    assert c["model"]["type"] == "tt_mlp" and c["model"]["widths"] == [512, 512] and c["model"]["rank"] == 2
    c = resolve_config({"model": {"widths": [8]}}, {"model": {"activation": "sin"}})
    assert c["model"]["widths"] == [8] and c["model"]["activation"] == "sin"  # same kind: earlier settings kept


@pytest.mark.parametrize(
    "text, expected",
    [
        ("train.steps=200", {"train": {"steps": 200}}),
        ("operators.method=sg", {"operators": {"method": "sg"}}),
        ("solver.learning_rate=1e-3", {"solver": {"learning_rate": 1e-3}}),
        ("model.widths=[32, 16]", {"model": {"widths": [32, 16]}}),
        ("train.progress=false", {"train": {"progress": False}}),
        ("train.target_rel_l2=null", {"train": {"target_rel_l2": None}}),
        ("seed=7", {"seed": 7}),
        ("model={type: tt_mlp, rank: 3}", {"model": {"type": "tt_mlp", "rank": 3}}),
        ("a.b.c=x=y", {"a": {"b": {"c": "x=y"}}}),
        ("train.steps=", {"train": {"steps": None}}),
        ("model.activation=[unclosed", {"model": {"activation": "[unclosed"}}),
    ],
)
def test_parse_override(text, expected):
    assert parse_override(text) == expected


def test_parse_override_value_is_read_safely(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    got = parse_override("seed=!!python/object/apply:os.system ['touch CANARY']")
    assert not (tmp_path / "CANARY").exists()
    assert isinstance(got["seed"], str)  # kept as text, then refused by validation
    with pytest.raises(ConfigError):
        resolve_config(got)


@pytest.mark.parametrize("text", ["train.steps", "train..steps=1", ".steps=1", "=1"])
def test_parse_override_refuses_malformed(text):
    with pytest.raises(ConfigError):
        parse_override(text)


def test_parse_override_result_is_validated():
    with pytest.raises(ConfigError, match="did you mean 'steps'"):
        resolve_config(parse_override("train.step=10"))


def test_precedence_defaults_problem_file_overrides(tmp_path):
    problem = problem_from_mapping(
        {
            "dimension": 2,
            "domain": {"type": "box", "low": 0, "high": 1},
            "equation": "lap_u = 0",
            "conditions": {"boundary": "0"},
            "config": {"train": {"steps": 11, "batch_size": 12, "log_every": 13}, "seed": 1},
        }
    )
    path = tmp_path / "c.yaml"
    path.write_text("train: {batch_size: 22, log_every: 23}\nseed: 2\n")
    c = resolve_run_config(problem, load_config_file(path), parse_override("train.log_every=33"))
    assert c["train"]["steps"] == 11  # problem over defaults
    assert c["train"]["batch_size"] == 22  # file over problem
    assert c["train"]["log_every"] == 33  # override over file
    assert c["seed"] == 2
    assert c["train"]["sampler"] == "uniform"  # untouched default
    assert resolve_run_config(problem)["train"]["batch_size"] == 12


def test_problem_config_is_validated_too():
    problem = problem_from_mapping(
        {
            "dimension": 2,
            "domain": {"type": "box", "low": 0, "high": 1},
            "equation": "lap_u = 0",
            "conditions": {"boundary": "0"},
            "config": {"train": {"stepz": 1}},
        }
    )
    with pytest.raises(ConfigError, match="did you mean 'steps'"):
        resolve_run_config(problem)


def test_config_files(tmp_path):
    with pytest.raises(ConfigError, match="not found"):
        load_config_file(tmp_path / "missing.yaml")
    bad = tmp_path / "bad.yaml"
    bad.write_text("train: {steps: 1\n")
    with pytest.raises(ConfigError, match="not valid YAML"):
        load_config_file(bad)
    empty = tmp_path / "empty.yaml"
    empty.write_text("")
    assert load_config_file(empty) == {}
    listed = tmp_path / "list.yaml"
    listed.write_text("- 1\n")
    with pytest.raises(ConfigError, match="mapping"):
        resolve_config(load_config_file(listed))


def _given_survives(given, resolved) -> bool:
    """Every value of ``given`` is in ``resolved`` unchanged; sections and stages (dicts, lists of
    dicts) may gain defaults."""
    if isinstance(given, dict):
        return isinstance(resolved, dict) and all(
            k in resolved and _given_survives(v, resolved[k]) for k, v in given.items()
        )
    if isinstance(given, list) and given and all(isinstance(v, dict) for v in given):
        return (
            isinstance(resolved, list)
            and len(given) == len(resolved)
            and all(_given_survives(g, r) for g, r in zip(given, resolved))
        )
    return given == resolved


def test_shipped_configs_resolve_to_their_own_settings():
    """Each shipped config resolves; every value it sets (read as plain YAML) survives resolution, and
    every section it leaves out is the default."""
    from pathlib import Path

    from pdesolve.safe_yaml import safe_load

    paths = sorted((Path(__file__).resolve().parent.parent / "configs").glob("*.yaml"))
    assert len(paths) >= 5
    for path in paths:
        given = safe_load(path.read_text())
        resolved = resolve_config(load_config_file(path))
        for section, value in given.items():
            assert _given_survives(value, resolved[section]), (path.name, section)
        for section in set(default_config()) - set(given):
            assert resolved[section] == default_config()[section], (path.name, section)
