"""A run's config: the defaults, the problem's own ``config`` section, then updates; or, to resume a
run, the config recorded in its folder's ``config.yaml``."""

from pathlib import Path

import numpy as np
import sympy as sp
import yaml

from ..config import RunConfig, load_config_file, resolve, resolve_traced, upgrade_saved
from ..defaults import problem_defaults
from ..errors import ConfigError
from ..problem import Problem
from ..safe_yaml import safe_load


def as_config(config: dict | str | Path | None) -> dict | None:
    """A config mapping, read from its YAML file when ``config`` is a path."""
    return load_config_file(config) if isinstance(config, (str, Path)) else config


#: The origins of a run's settings before its updates (``resolve_traced``'s labels; unset: ``default``).
RULES = "problem-dependent rule (defaults.py)"
PROBLEM = "problem file"


def resolve_run(problem: Problem, *updates) -> RunConfig:
    """Defaults (the schema's, then the problem-dependent BP-free ones of ``pdesolve.defaults``),
    then the problem's own ``config`` section, then each update in order."""
    return resolve_run_traced(problem, *(("", update) for update in updates))[0]


def resolve_run_traced(problem: Problem, *updates: tuple[str, dict | None]) -> tuple[RunConfig, dict[str, str]]:
    """``resolve_run`` of the labelled updates ``(label, update)``, and where each setting's value
    came from (dotted key -> ``default``, ``RULES``, ``PROBLEM`` or an update's label)."""
    rules = problem_defaults(problem)
    return resolve_traced((RULES, rules), (PROBLEM, problem.config), *updates)


def resolve_run_config(problem: Problem, *updates) -> dict:
    """``resolve_run`` as the plain mapping."""
    return resolve_run(problem, *updates).to_dict()


def plain(value):
    """Raw problem data made YAML-safe (sympy objects from Python modules become strings)."""
    if isinstance(value, dict):
        return {str(k): plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [plain(v) for v in value]
    if isinstance(value, (str, int, float, bool)) or value is None:
        return value
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, sp.Equality):  # str() gives Eq(a, b): write it as the parser reads it
        return f"{value.lhs} = {value.rhs}"
    return str(value)


def resolved_record(problem: Problem, config: RunConfig) -> dict:
    """What a run folder's ``config.yaml`` holds: the problem file, its data and the whole config."""
    return {"problem_file": problem.source_file, "problem": plain(problem.raw), "config": config.to_dict()}


def resume_config(folder: Path, problem: Problem, config: dict | None, overrides) -> RunConfig:
    """The config of the unfinished run in ``folder``; refuses a different problem or config."""
    path = folder / "config.yaml"
    if not path.is_file():
        raise ConfigError("--resume", f"{folder} is not a run folder (no config.yaml)")
    if (folder / "report.json").is_file():
        raise ConfigError("--resume", f"the run in {folder} has finished (report.json exists); start a new run")
    try:
        saved = safe_load(path.read_text())
        saved_config = upgrade_saved(saved["config"])
    except (yaml.YAMLError, TypeError, KeyError):
        raise ConfigError("--resume", f"{path} is not a run's config.yaml") from None
    if plain(problem.raw) != saved.get("problem"):
        raise ConfigError(
            "--resume",
            f"the problem differs from the one the run in {folder} was made with ({saved.get('problem_file')})",
        )
    merged = resolve(saved_config, config, *overrides)
    for section, values in merged.to_dict().items():
        for key, value in values.items() if isinstance(values, dict) else [(None, values)]:
            field = section if key is None else f"{section}.{key}"
            old = saved_config[section] if key is None else saved_config[section].get(key)
            if value != old and field != "train.progress":
                raise ConfigError(
                    field, f"is {old!r} in the run being resumed, not {value!r}; a resumed run keeps its config"
                )
    return merged
