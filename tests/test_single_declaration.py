"""Each setting's default is declared once (issue 39): in the config class or the solver spec (or
the solver class whose fields the spec reads) that owns it, never again by hand elsewhere.

The walker reads what the package declares at run time:

- the config sections' keys by family (the top level, ``train``, a stage, the ``model`` kinds, the
  ``operators`` kinds): one key declared by two equal ``Field`` objects is one setting written twice
  (kinds that share a key share its Field; kinds that differ on purpose differ in the default, the
  choices or the bounds);
- each registered solver: a class it builds that declares one of its spec's keys by an equal
  ``Field`` of its own, and any dataclass of ``pdesolve.solvers`` (or built by a spec) with a
  default of its own for a field named like a solver setting (a directly built solver would start
  elsewhere than a configured one; ``solver_field`` reads the default from the Field);
- the problem-dependent rules (``pdesolve.defaults.run_defaults``): a key they set to the schema
  default of its kind at every dimension is a constant, not a rule;
- the shipped presets (``configs/*.yaml``): a line whose removal changes no resolved config, over the
  schema defaults, the rules at every dimension, each shipped problem's own section and a problem's
  own training budget, restates a default.

What a run-time walk cannot see: an equal default retyped inside a Field that differs otherwise
(``_replace`` with other choices reads it; a literal restates it); the source shows which.
"""

import dataclasses
import importlib
import pkgutil
from pathlib import Path
from typing import ClassVar

import equinox as eqx
import pytest

import pdesolve.solvers
from pdesolve.config import MODEL_KINDS, OPERATOR_KINDS, RunConfig, TrainConfig, default_config, merge_config
from pdesolve.config._section import Section
from pdesolve.config._solver import settings_class
from pdesolve.config._stages import STAGE_FIELDS
from pdesolve.defaults import run_defaults
from pdesolve.errors import ConfigError
from pdesolve.fields import FIELD, NUMBER, Field, setting
from pdesolve.operators import engine_field, engine_specs
from pdesolve.operators._spec import SHARED_FIELDS
from pdesolve.safe_yaml import safe_load
from pdesolve.solvers import AbstractSolver, AbstractSolverSpec, register_solver, solver_specs, unregister_solver
from pdesolve.solvers._spec import solver_field

ROOT = Path(__file__).resolve().parent.parent
KIND_KEYS = {"model": "type", "operators": "method", "solver": "name"}
#: Dimensions on both sides of every threshold of ``pdesolve.defaults`` (time adds one input).
DIMS = (1, 10, 11, 20, 21, 100, 101, 200, 201, 1000)


def config_fields() -> list[tuple[str, str, Field, str]]:
    """``(family, key, Field, where)`` of every key of the config sections (the solver's aside)."""
    out = [("", key, field, "RunConfig") for key, field in RunConfig.schema().items()]
    out += [("train", key, field, "TrainConfig") for key, field in TrainConfig.schema().items()]
    out += [("train.stages[]", key, field, "STAGE_FIELDS") for key, field in STAGE_FIELDS.items()]
    for family, kinds in (("model", MODEL_KINDS), ("operators", OPERATOR_KINDS)):
        out += [(family, key, field, cls.__name__) for cls in kinds.values() for key, field in cls.schema().items()]
    return out


def copies(declared: list[tuple[str, str, Field, str]]) -> list[str]:
    """Keys of one family declared by two equal ``Field`` objects (one setting written twice)."""
    seen: dict[tuple[str, str], list[tuple[Field, str]]] = {}
    found = []
    for family, key, field, where in declared:
        for other, other_where in seen.get((family, key), []):
            if other == field and other is not field:
                found.append(f"{family}.{key}: declared in {other_where} and again in {where} (share one Field)")
                break
        seen.setdefault((family, key), []).append((field, where))
    return found


def hand_defaults(classes, keys: set[str]) -> list[str]:
    """Fields of ``classes`` named like one of ``keys`` whose default is not read from a ``Field``."""
    found = []
    for cls in classes:
        for field in dataclasses.fields(cls):
            given = field.default is not dataclasses.MISSING or field.default_factory is not dataclasses.MISSING
            if field.name in keys and given and FIELD not in field.metadata:
                found.append(
                    f"{cls.__qualname__}.{field.name}: a default of its own for the setting "
                    f"solver.{field.name} (read it from the Field: solver_field, or drop it)"
                )
    return found


def _dataclasses_in(value, found: set[type]) -> set[type]:
    """The dataclass types of ``value`` and of everything its fields (and tuples of them) hold."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type) and type(value) not in found:
        found.add(type(value))
        for field in dataclasses.fields(value):
            _dataclasses_in(getattr(value, field.name, None), found)
    elif isinstance(value, (tuple, list)):
        for item in value:
            _dataclasses_in(item, found)
    return found


def _built_classes(spec: AbstractSolverSpec) -> set[type]:
    """The dataclasses of the solver ``spec`` builds from its defaults."""
    return _dataclasses_in(spec.build(settings_class(spec)(), 10), set())


def solver_classes() -> set[type]:
    """The dataclasses of ``pdesolve.solvers`` and those each registered spec builds."""
    found: set[type] = set()
    for info in pkgutil.iter_modules(pdesolve.solvers.__path__):
        module = importlib.import_module(f"pdesolve.solvers.{info.name}")
        defined = [value for value in vars(module).values() if getattr(value, "__module__", None) == module.__name__]
        found |= {value for value in defined if isinstance(value, type) and dataclasses.is_dataclass(value)}
    for spec in solver_specs().values():
        found |= _built_classes(spec)
    return found


def spec_copies(name: str, spec: AbstractSolverSpec) -> list[str]:
    """Keys of the solver ``spec`` that a class it builds declares again, by an equal ``Field`` of its own."""
    declared = [("solver", key, field, f"the {name} spec") for key, field in spec.fields.items()]
    declared += [
        ("solver", f.name, f.metadata[FIELD], cls.__qualname__)
        for cls in _built_classes(spec)
        for f in dataclasses.fields(cls)
        if FIELD in f.metadata
    ]
    return copies(declared)


def second_declarations() -> list[str]:
    """Every setting declared twice in the config sections and the registered solvers (empty: none)."""
    found = copies(config_fields())
    found += [text for name, spec in solver_specs().items() for text in spec_copies(name, spec)]
    solver_keys = {key for spec in solver_specs().values() for key in spec.fields}
    return sorted(set(found)) + hand_defaults(sorted(solver_classes(), key=lambda c: c.__qualname__), solver_keys)


def test_no_setting_is_declared_twice():
    assert second_declarations() == []


# the walker on planted pairs: it must find what it is for


class _ToySolver(AbstractSolver):
    rate: float = eqx.field(static=True, default=0.5)  # planted: the spec declares it too
    size: int = solver_field(Field((int,), 3))  # planted: the spec has an equal Field of its own

    def init(self, loss, params):
        return None

    def step(self, loss, params, state, batch, key):
        return params, state, {}

    @property
    def name(self):
        return "toy_twice"


class _ToySpec(AbstractSolverSpec):
    name = "toy_twice"
    fields: ClassVar[dict[str, Field]] = {"rate": Field(NUMBER, 0.5), "size": Field((int,), 3)}
    learning_rates = ()

    def build(self, settings, steps):
        return _ToySolver(settings.rate, settings.size)

    def perturbations(self, settings, n_params):
        return 1


def test_the_walker_finds_a_second_declaration_in_a_registered_solver():
    register_solver(_ToySpec())
    try:
        found = second_declarations()
    finally:
        unregister_solver("toy_twice")
    assert found == [
        "solver.size: declared in the toy_twice spec and again in _ToySolver (share one Field)",
        "_ToySolver.rate: a default of its own for the setting solver.rate (read it from the Field: solver_field, "
        "or drop it)",
    ]


def test_the_walker_accepts_a_class_field_read_from_its_field():
    declared = Field(NUMBER, 0.5)

    class Read(eqx.Module):
        rate: float = solver_field(declared)
        other: float = 1.0  # not a setting

    class Unset(eqx.Module):
        rate: float  # no default: built only from the resolved value

    assert Read().rate == 0.5
    assert hand_defaults([Read, Unset], {"rate"}) == []


def test_no_engine_class_restates_a_setting_default():
    """Each registered engine, built from its kind's defaults, reads the defaults of its spec's keys
    from their Fields (``engine_field``): a directly built engine starts where a configured one does."""
    found = []
    for method, spec in engine_specs().items():
        engine = spec.build(OPERATOR_KINDS[method](), dim=3, has_time=True)
        found += hand_defaults([type(engine)], set(spec.fields))
        for key in set(spec.fields) & {f.name for f in dataclasses.fields(engine)}:
            assert getattr(type(engine)(), key) == spec.fields[key].default, (method, key)
    assert found == []


def test_the_walker_finds_an_engine_default_written_by_hand():
    class Restated(eqx.Module):
        step: float | None = eqx.field(static=True, default=None)
        chunk_size: int | None = engine_field(SHARED_FIELDS["chunk_size"])

    assert [line.split(":")[0] for line in hand_defaults([Restated], {"step", "chunk_size"})] == [
        f"{Restated.__qualname__}.step"
    ]


def test_the_walker_finds_two_config_classes_with_the_same_setting():
    @dataclasses.dataclass(frozen=True, kw_only=True)
    class First(Section):
        steps: int = setting((int,), 10)

    @dataclasses.dataclass(frozen=True, kw_only=True)
    class Second(Section):
        steps: int = setting((int,), 10)  # planted: the same declaration again

    @dataclasses.dataclass(frozen=True, kw_only=True)
    class Variant(Section):
        steps: int = setting((int,), 20)  # a kind's own default: allowed

    declared = [
        ("toy", key, field, cls.__name__) for cls in (First, Second, Variant) for key, field in cls.schema().items()
    ]
    assert copies(declared) == ["toy.steps: declared in First and again in Second (share one Field)"]
    shared = First.schema()["steps"]
    assert copies([("toy", "steps", shared, "First"), ("toy", "steps", shared, "Third")]) == []


# the problem-dependent rules and the presets


def _leaves(config: dict, prefix: str = ""):
    """``(dotted key, value)`` of a config mapping's settings (a section's keys; lists are values)."""
    for key, value in config.items():
        if isinstance(value, dict):
            yield from _leaves(value, f"{prefix}{key}.")
        else:
            yield f"{prefix}{key}", value


def _get(config: dict, path: str):
    for key in path.split("."):
        config = config[key]
    return config


def constant_rules() -> list[str]:
    """Keys that ``run_defaults`` sets to the schema default of their kind at every dimension."""
    same: dict[str, bool] = {}
    for dim in DIMS:
        rules = run_defaults(dim, False)
        kinds = {section: {key: rules[section][key]} for section, key in KIND_KEYS.items() if section in rules}
        schema = merge_config(default_config(), kinds)
        for path, value in _leaves(rules):
            if path.split(".")[-1] != KIND_KEYS.get(path.split(".")[0]):
                same[path] = same.get(path, True) and value == _get(schema, path)
    return sorted(path for path, always in same.items() if always)


def test_the_problem_dependent_rules_restate_no_default():
    assert constant_rules() == []


def _without(config: dict, path: tuple) -> dict:
    """``config`` (a preset) without the key at ``path`` (section, key; or train, stages, index, key)."""
    config = {**config}
    if len(path) == 1:
        del config[path[0]]
    elif len(path) == 2:
        config[path[0]] = {k: v for k, v in config[path[0]].items() if k != path[1]}
    else:
        stages = [dict(stage) for stage in config["train"]["stages"]]
        del stages[path[2]][path[3]]
        config["train"] = {**config["train"], "stages": stages}
    return config


def _paths(preset: dict) -> list[tuple]:
    paths = []
    for key, value in preset.items():
        if not isinstance(value, dict):
            paths.append((key,))
            continue
        paths += [(key, inner) for inner in value if (key, inner) != ("train", "stages")]
        for i, stage in enumerate(value.get("stages", []) if key == "train" else []):
            paths += [("train", "stages", i, inner) for inner in stage]
    return paths


#: A problem's own training budget, which a preset that carries its whole budget replaces (docs/solving.md).
OWN_BUDGET = {"train": {"steps": 10, "time_budget": 60.0}}


def _contexts() -> list[dict]:
    """What a preset is applied over: the schema defaults, the rules at each dimension, and each shipped
    problem's own config section (and a problem's own training budget) over the rules."""
    base = default_config()
    contexts = [base] + [merge_config(base, run_defaults(dim, False)) for dim in DIMS]
    rules = contexts[1]
    contexts.append(merge_config(rules, OWN_BUDGET))
    for path in sorted((ROOT / "problems").glob("*.yaml")):
        section = safe_load(path.read_text()).get("config")
        if section:
            contexts.append(merge_config(rules, section))
    return contexts


def restated_lines(presets: dict[str, dict]) -> list[str]:
    """``file: key`` of each preset line whose removal changes no resolved config in any context."""
    contexts = _contexts()
    found = []
    for name, preset in presets.items():
        resolved = [merge_config(context, preset) for context in contexts]
        for path in _paths(preset):
            try:
                without = [merge_config(context, _without(preset, path)) for context in contexts]
            except ConfigError:
                continue  # the others need it
            if without == resolved:
                found.append(f"{name}: {'.'.join(map(str, path))}")
    return found


def test_the_shipped_presets_restate_no_default():
    presets = {path.name: safe_load(path.read_text()) for path in sorted((ROOT / "configs").glob("*.yaml"))}
    assert len(presets) >= 5
    assert restated_lines(presets) == []


def test_a_restated_preset_line_is_found():
    preset = {
        "precision": "float32",
        "train": {"steps": 2000, "stages": [{"name": "adam", "learning_rate": 1e-3, "steps": 5}, {"name": "lbfgs"}]},
    }
    # float32 undoes the rules' float64; steps 2000 is the schema's but the rules change it; the stage's
    # learning rate is adam's default in every context
    assert restated_lines({"toy.yaml": preset}) == ["toy.yaml: train.stages.0.learning_rate"]


@pytest.mark.parametrize("planted", ["model.activation", "solver.max_trials"])
def test_a_constant_rule_is_found(monkeypatch, planted):
    rules = run_defaults

    def planted_rules(dim, has_time):
        config = rules(dim, has_time)
        section, key = planted.split(".")
        value = {"model.activation": "tanh", "solver.max_trials": 8}[planted]  # the schema's
        return {**config, section: {**config[section], key: value}}

    monkeypatch.setitem(globals(), "run_defaults", planted_rules)
    assert constant_rules() == [planted]
