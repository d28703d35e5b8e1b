"""Typed, kinded configuration: a kind's dataclass fields are its schema, the typed config is built
once from dicts and gives the same dicts back, and run folders saved before the sections were kinded
still resume."""

import dataclasses
from pathlib import Path

import pytest
import yaml

from pdesolve.config import (
    MODEL_KINDS,
    OPERATOR_KINDS,
    FiniteDifferenceOperators,
    RunConfig,
    SparseGridSteinOperators,
    TrainConfig,
    TtMlpConfig,
    default_config,
    resolve,
    resolve_config,
    upgrade_saved,
)
from pdesolve.errors import ConfigError
from pdesolve.problem import load_problem
from pdesolve.run._resolve import plain, resume_config
from pdesolve.safe_yaml import safe_load
from pdesolve.solvers import solver_specs

ROOT = Path(__file__).resolve().parent.parent
SHIPPED_CONFIGS = sorted((ROOT / "configs").glob("*.yaml"))
PROBLEM_FILES = sorted((ROOT / "problems").glob("*.yaml"))


def _shipped_sections() -> dict[str, dict]:
    """Every shipped config file, and every problem file's ``config:`` section, by name."""
    sections = {path.name: safe_load(path.read_text()) for path in SHIPPED_CONFIGS}
    for path in PROBLEM_FILES:
        section = safe_load(path.read_text()).get("config")
        if section:
            sections[f"{path.name}:config"] = section
    return sections


SHIPPED = _shipped_sections()


@pytest.mark.parametrize("family, kinds", [("model", MODEL_KINDS), ("operators", OPERATOR_KINDS)])
def test_a_kinds_fields_are_its_schema(family, kinds):
    for kind, cls in kinds.items():
        config = resolve({family: {cls.kind_key: kind}})
        section = getattr(config, family)
        assert type(section) is cls and section == cls()  # the class defaults are the section's defaults
        assert list(config.to_dict()[family]) == [cls.kind_key, *(f.name for f in dataclasses.fields(cls))]
        assert list(cls.schema()) == [f.name for f in dataclasses.fields(cls)]
    assert list(TrainConfig.schema()) == [f.name for f in dataclasses.fields(TrainConfig)]


def test_a_solvers_settings_are_its_specs_fields():
    for name, spec in solver_specs().items():
        settings = resolve({"solver": {"name": name}}).solver.settings
        assert [f.name for f in dataclasses.fields(settings)] == list(spec.fields)
        assert {key: getattr(settings, key) for key in spec.fields} == {k: f.default for k, f in spec.fields.items()}


def test_the_typed_config_reads_attributes_and_is_frozen():
    config = resolve(
        {"operators": {"method": "sg", "sigma": 2}, "model": {"type": "tt_mlp", "rank": 3}, "train": {"steps": 7}}
    )
    assert isinstance(config.operators, SparseGridSteinOperators) and isinstance(config.model, TtMlpConfig)
    assert config.operators.sigma == 2 and config.operators.level == 3
    assert (config.model.rank, config.train.steps, config.solver.name) == (3, 7, "adam")
    assert config.solver.settings.learning_rate == 1e-3 and config.solver.settings.schedule == "cosine"
    with pytest.raises(dataclasses.FrozenInstanceError):
        config.train.steps = 8
    with pytest.raises(dataclasses.FrozenInstanceError):
        config.solver.settings.learning_rate = 1.0


@pytest.mark.parametrize(
    "update, field, phrases",
    [
        ({"operators": {"method": "sg", "levl": 4}}, "operators.levl", ["did you mean 'level'", "allowed: chunk_size"]),
        (
            {"operators": {"method": "fd", "sigma": 0.1}},
            "operators.sigma",
            ["unknown key for method 'fd'", "a key of method se, sg", "allowed: chunk_size, coordinates, step"],
        ),
        ({"operators": {"metod": "fd"}}, "operators.metod", ["did you mean 'method'"]),
        ({"model": {"type": "tt_mlp", "rnak": 2}}, "model.rnak", ["did you mean 'rank'"]),
        ({"train": {"log_evry": 5}}, "train.log_evry", ["did you mean 'log_every'"]),
        ({"operators": {"method": "sg", "level": 2}}, "operators.level", ["must be between 3 and 8", "got 2"]),
    ],
)
def test_an_unknown_or_bad_key_names_the_field_and_the_fix(update, field, phrases):
    with pytest.raises(ConfigError) as err:
        resolve(update)
    assert err.value.field == field
    for phrase in phrases:
        assert phrase in str(err.value), str(err.value)


@pytest.mark.parametrize("name", sorted(SHIPPED))
def test_round_trip_dict_typed_dict_is_identity(name):
    resolved = resolve_config(SHIPPED[name])
    typed = RunConfig.from_dict(resolved)
    assert typed.to_dict() == resolved
    assert yaml.safe_dump(typed.to_dict(), sort_keys=False) == yaml.safe_dump(resolved, sort_keys=False)  # key order
    assert typed == resolve(SHIPPED[name])


def test_to_dict_gives_fresh_copies():
    config = resolve({})
    plain = config.to_dict()
    plain["model"]["widths"].append(7)
    assert config.model.widths == [64, 64] and default_config()["model"]["widths"] == [64, 64]


def test_a_change_of_method_keeps_the_settings_the_methods_share():
    config = resolve(
        {"operators": {"method": "sg", "sigma": 0.01, "level": 4, "chunk_size": 8}}, {"operators": {"method": "se"}}
    )
    assert config.operators.to_dict() == {
        "method": "se",
        "sigma": 0.01,
        "samples": 1024,
        "step": None,
        "time": "joint",
        "smooth": "network",
        "chunk_size": 8,
    }
    fd = resolve({"operators": {"method": "sg", "sigma": 0.01}}, {"operators": {"method": "fd"}}).operators
    assert fd == FiniteDifferenceOperators()


# The operators section of a run folder's config.yaml written before it was kinded: every method's keys.
FLAT_OPERATORS = {
    "method": "sg",
    "sigma": 0.01,
    "level": 3,
    "samples": 1024,
    "step": None,
    "coordinates": "all",
    "time": "joint",
    "smooth": "network",
    "chunk_size": None,
}


def test_a_saved_flat_operators_section_is_read_as_its_kind():
    assert upgrade_saved({"operators": FLAT_OPERATORS})["operators"] == {
        "method": "sg",
        "sigma": 0.01,
        "level": 3,
        "step": None,
        "time": "joint",
        "smooth": "network",
        "chunk_size": None,
    }
    before_smooth = {key: value for key, value in FLAT_OPERATORS.items() if key != "smooth"}
    assert upgrade_saved({"operators": before_smooth})["operators"]["smooth"] == "solution"  # what it did then
    assert upgrade_saved({"operators": {"method": "nope"}}) == {"operators": {"method": "nope"}}  # validation says


def test_a_run_folder_saved_before_kinding_resumes(tmp_path):
    problem = load_problem(ROOT / "problems/poisson2d.yaml")
    current = resolve_config({"precision": "float64", "operators": {"method": "sg", "sigma": 0.01}})
    saved = {**current, "operators": FLAT_OPERATORS}
    (tmp_path / "config.yaml").write_text(
        yaml.safe_dump(
            {"problem_file": "problems/poisson2d.yaml", "problem": plain(problem.raw), "config": saved}, sort_keys=False
        )
    )
    resumed = resume_config(tmp_path, problem, None, [{"train": {"progress": False}}])
    assert resumed.operators == SparseGridSteinOperators(sigma=0.01)
    assert resumed.to_dict() == {**current, "train": {**current["train"], "progress": False}}
    with pytest.raises(ConfigError, match="a resumed run keeps its config"):
        resume_config(tmp_path, problem, None, [{"operators": {"sigma": 0.02}}])
