"""``train.stages``: solver sections run one after another, each with its own steps or time budget.

A stage is a solver section (``name`` and that solver's keys, defaults filled in) with two more
keys: ``steps`` (the steps it runs) and ``time_budget`` (seconds of training it runs, checked at
each validation check); a stage ends at whichever comes first. Every stage but the last needs one
of them; the last runs until the run ends (``train.steps``, ``train.time_budget``), so it takes
neither. With stages, the ``solver`` section is not used.
"""

from collections.abc import Mapping
from typing import Any

from ..errors import ConfigError, preview
from ..fields import OPTIONAL_NUMBER, Field
from ._check import check_value
from ._merge import merge_kinded
from ._solver import SolverConfig, solver_fields

STAGE_FIELDS = {
    "steps": Field((int, type(None)), None, bounds=(1, None, ">= 1, or unset")),
    "time_budget": Field(OPTIONAL_NUMBER, None, bounds=(1e-9, None, "> 0 seconds, or unset")),
}


def _stage(field: str, entry: Any, last: bool) -> dict[str, Any]:
    """One stage checked and with its solver's defaults filled in."""
    if not isinstance(entry, Mapping) or not isinstance(entry.get("name"), str):
        raise ConfigError(
            field, f"a stage is a solver section with its name, e.g. {{name: adam, steps: 1000}}; got {preview(entry)}"
        )
    limits = {key: check_value(f"{field}.{key}", entry.get(key), spec) for key, spec in STAGE_FIELDS.items()}
    if last and any(v is not None for v in limits.values()):
        raise ConfigError(
            field,
            "the last stage runs until the run ends; unset its steps and time_budget "
            "(train.steps and train.time_budget bound it)",
        )
    if not last and all(v is None for v in limits.values()):
        raise ConfigError(
            field,
            f"stage {entry['name']!r} needs steps or time_budget to end (only the last stage runs until the run ends)",
        )
    solver = {k: v for k, v in entry.items() if k not in STAGE_FIELDS}
    fields = solver_fields()
    base = {"name": solver["name"], **{k: f.default for k, f in fields.get(solver["name"], {}).items()}}
    return {**merge_kinded(field, base, solver, fields, "name"), **limits}


def resolve_stages(value: list) -> list[dict[str, Any]]:
    """The stages of ``train.stages`` checked, each with its solver's defaults filled in."""
    return [_stage(f"train.stages[{i}]", entry, i == len(value) - 1) for i, entry in enumerate(value)]


def stage_solvers(stages: list[dict[str, Any]], steps: int) -> list[tuple[SolverConfig, int | None, float | None]]:
    """``(solver section, steps or None, time budget or None)`` per stage of a resolved ``train.stages``,
    for a run of ``steps`` steps (the last stage's count: what the others leave)."""
    taken = sum(stage["steps"] or 0 for stage in stages[:-1])
    if taken >= steps:
        raise ConfigError(
            "train.stages",
            f"the stages before the last take {taken} steps, train.steps is "
            f"{steps}; raise train.steps or shorten the stages",
        )
    return [
        (
            SolverConfig.from_valid({k: v for k, v in stage.items() if k not in STAGE_FIELDS}),
            stage["steps"],
            stage["time_budget"],
        )
        for stage in stages
    ]
