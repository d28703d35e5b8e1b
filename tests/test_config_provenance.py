"""Where each setting's value came from (issue 39): ``resolve_traced`` follows the merge (a kind
changed anew starts from its defaults; ``operators.method`` keeps the keys the methods share), and
``pdesolve check`` prints it per setting: default, a rule of defaults.py, the problem file, the
``--config`` preset or ``--set``."""

from pathlib import Path

from pdesolve import cli
from pdesolve.config import resolve, resolve_config, resolve_traced

ROOT = Path(__file__).resolve().parent.parent


def test_the_last_update_that_set_a_key_is_its_origin():
    config, origins = resolve_traced(("a", {"seed": 3, "train": {"steps": 5}}), ("b", {"train": {"steps": 6}}))
    assert (config.seed, config.train.steps) == (3, 6)
    assert (origins["seed"], origins["train.steps"], origins["train.batch_size"]) == ("a", "b", "default")
    assert list(origins) == _dotted(config.to_dict())


def _dotted(config: dict) -> list[str]:
    keys = []
    for key, value in config.items():
        keys += [f"{key}.{inner}" for inner in value] if isinstance(value, dict) else [key]
    return keys


def test_a_new_kind_starts_from_its_defaults_and_the_same_kind_keeps_its_origins():
    gauss_newton = {"solver": {"name": "gauss_newton", "line_search": 3}}
    _, same = resolve_traced(("a", gauss_newton), ("b", {"solver": {"holdout": 0.1}}))
    assert (same["solver.name"], same["solver.line_search"], same["solver.holdout"]) == ("a", "a", "b")
    assert same["solver.max_trials"] == "default"
    config, other = resolve_traced(("a", gauss_newton), ("b", {"solver": {"name": "adam"}}))
    assert config.solver.name == "adam" and "solver.line_search" not in other
    assert (other["solver.name"], other["solver.learning_rate"]) == ("b", "default")


def test_operators_keep_the_origin_of_the_keys_the_methods_share():
    config, origins = resolve_traced(
        ("a", {"operators": {"method": "fd", "step": 1e-3}}), ("b", {"operators": {"method": "sg"}})
    )
    assert config.operators.step == 1e-3
    assert (origins["operators.method"], origins["operators.step"], origins["operators.sigma"]) == ("b", "a", "default")


def test_tracing_resolves_as_resolve_does():
    updates = (
        {"model": {"type": "tt_mlp", "rank": 3}},
        {"solver": {"name": "rge"}},
        {"train": {"stages": [{"name": "adam", "steps": 2}, {"name": "lbfgs"}]}},
    )
    config, origins = resolve_traced(*(("x", update) for update in updates))
    assert config == resolve(*updates) and config.to_dict() == resolve_config(*updates)
    assert origins["train.stages"] == "x" and origins["model.n_cores"] == "default"


def test_check_prints_where_each_setting_came_from(capsys):
    """heat_sin10's own section sets its batch, the rules of defaults.py its operators (it sets
    none), the preset its network and solver, --set its steps."""
    preset = ROOT / "configs" / "gn_tt.yaml"
    assert cli.main(["check", "heat_sin10", "--config", str(preset), "--set", "train.steps=3"]) == 0
    lines = capsys.readouterr().out.splitlines()
    start = lines.index("settings   (value, where it came from)")
    rows = {line.split()[0]: line.split(maxsplit=2)[1:] for line in lines[start + 1 :] if line.startswith("  ")}
    assert rows["train.steps"] == ["3", "--set"]
    assert rows["train.batch_size"] == ["100", "problem file"]
    assert rows["operators.method"] == ["auto", "problem-dependent rule (defaults.py)"]
    assert rows["model.rank"] == ["4", f"preset {preset}"]
    assert rows["solver.line_search"] == ["0", "default"]  # a new solver kind: its defaults
    assert rows["train.checkpoint_every"] == ["1000", "default"]
