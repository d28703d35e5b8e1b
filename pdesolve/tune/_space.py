"""Search spaces: a YAML file of dotted config paths, each a range, a log range, an integer range,
a list of choices, or a plain value held fixed in every trial::

    solver.name: gauss_newton                            # fixed
    solver.initial_damping: {log_range: [1.0e-6, 1.0e-1]}
    solver.max_trials: {int_range: [2, 16]}
    model.widths: {choices: [[16, 16], [32, 32]]}

Every setting goes through the config's own validation (that of ``--set key=value``), so a space
is refused, before any trial runs, when a path is unknown or an end of a range is not allowed.
"""

import dataclasses
import json
import math
from pathlib import Path
from typing import Any

import yaml

from ..config import resolve_config
from ..errors import ConfigError, PdesolveError, preview
from ..safe_yaml import safe_load

KINDS = ("range", "log_range", "int_range", "choices")


class SpaceError(PdesolveError):
    """An invalid search space: ``field`` is the dotted config path inside the space file."""

    def __init__(self, source: str, field: str, message: str):
        self.field = field
        super().__init__(f"{source}: {field}: {message}")


@dataclasses.dataclass(frozen=True)
class Dimension:
    """One searched setting: ``kind`` in ``KINDS``; ``bounds`` (low, high) or ``choices``."""

    path: str
    kind: str
    bounds: tuple = ()
    choices: tuple = ()

    @property
    def log(self) -> bool:
        return self.kind == "log_range"

    def labels(self) -> list:
        """The choices as optuna stores them: scalars as they are, lists and mappings as JSON text."""
        return [c if _is_scalar(c) else json.dumps(c) for c in self.choices]

    def suggest(self, trial) -> Any:
        """The value ``trial`` (an ``optuna.Trial``) draws for this setting."""
        if self.kind == "int_range":
            return trial.suggest_int(self.path, *self.bounds)
        if self.kind in ("range", "log_range"):
            return trial.suggest_float(self.path, *self.bounds, log=self.log)
        label = trial.suggest_categorical(self.path, self.labels())
        return self.choices[self.labels().index(label)]


@dataclasses.dataclass(frozen=True)
class SearchSpace:
    """The searched ``dimensions`` and the ``fixed`` settings (path -> value) of a space file."""

    source: str
    dimensions: tuple[Dimension, ...]
    fixed: dict
    raw: dict  # the file's mapping, as read

    def suggest(self, trial) -> dict:
        """path -> value for every setting of one trial (the fixed ones included)."""
        return {**self.fixed, **{d.path: d.suggest(trial) for d in self.dimensions}}


def nested(settings: dict) -> dict:
    """``{'solver.mu': 0.1}`` -> ``{'solver': {'mu': 0.1}}``: a config update, as ``--set`` builds it."""
    update: dict = {}
    for path, value in settings.items():
        *sections, key = path.split(".")
        node = update
        for section in sections:
            node = node.setdefault(section, {})
        node[key] = value
    return update


def _is_scalar(value) -> bool:
    return value is None or isinstance(value, (bool, int, float, str))


def _is_number(value) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def _dimension(source: str, path: str, spec: dict) -> Dimension:
    """Checks the form of one searched setting (not yet whether the config accepts its values)."""
    kinds = [k for k in spec if k in KINDS]
    if len(kinds) != 1 or len(spec) != 1:
        raise SpaceError(
            source,
            path,
            f"expected one of {', '.join(KINDS)}, e.g. {{log_range: [1.0e-6, 1.0e-1]}}; "
            f"got {preview(spec)} (a plain value holds the setting fixed)",
        )
    kind, value = kinds[0], spec[kinds[0]]
    if kind == "choices":
        if not isinstance(value, list) or not value:
            raise SpaceError(source, path, f"choices: expected a non-empty list, got {preview(value)}")
        if len({json.dumps(c, sort_keys=True, default=str) for c in value}) != len(value):
            raise SpaceError(source, path, f"choices: {preview(value)} lists a value twice; keep one")
        return Dimension(path, kind, choices=tuple(value))
    integer = kind == "int_range"
    valid = (
        isinstance(value, list)
        and len(value) == 2
        and all(_is_number(v) for v in value)
        and (not integer or all(isinstance(v, int) for v in value))
    )
    if not valid:
        example = "[2, 16]" if integer else "[1.0e-6, 1.0e-1]"
        what = "integers" if integer else "finite numbers"
        raise SpaceError(
            source, path, f"{kind}: expected [low, high], two {what}, e.g. {example}; got {preview(value)}"
        )
    low, high = value
    if not low < high:
        raise SpaceError(source, path, f"{kind}: low {low!r} must be below high {high!r}")
    if kind == "log_range" and low <= 0:
        raise SpaceError(
            source, path, f"log_range: low {low!r} must be > 0 (a log scale); use range for values down to 0 or below"
        )
    bounds = (low, high) if integer else (float(low), float(high))
    return Dimension(path, kind, bounds=bounds)


def _config_message(err: ConfigError) -> str:
    return str(err).removeprefix(f"config {err.field}: ")


def _check_settings(source: str, base: dict, fixed: dict, dimensions: tuple[Dimension, ...]) -> None:
    """Refuses a fixed value or an end of a range that the config refuses (as ``--set`` would)."""
    try:
        with_fixed = resolve_config(base, nested(fixed))
    except ConfigError as err:
        path = next((p for p in fixed if err.field.startswith(p) or p.startswith(err.field)), err.field)
        raise SpaceError(source, path, _config_message(err)) from None
    for dim in dimensions:
        for value in dim.choices or dim.bounds:
            try:
                resolve_config(with_fixed, nested({dim.path: value}))
            except ConfigError as err:
                hint = ""
                if dim.kind in ("range", "log_range") and "expected int" in str(err):
                    hint = "; an integer setting takes int_range"
                raise SpaceError(source, dim.path, f"{preview(value)}: {_config_message(err)}{hint}") from None


def parse_space(raw: Any, source: str, base_config: dict) -> SearchSpace:
    """A :class:`SearchSpace` from the mapping ``raw`` read from ``source``, checked against the
    resolved ``base_config`` (the one every trial starts from)."""
    if not isinstance(raw, dict) or not raw:
        raise SpaceError(
            source,
            "<root>",
            f"a search space is a mapping of dotted config paths, e.g. "
            f"'solver.initial_damping: {{log_range: [1.0e-6, 1.0e-1]}}'; got {preview(raw)}",
        )
    fixed, dimensions = {}, []
    for path, spec in raw.items():
        if not isinstance(path, str) or not all(path.split(".")):
            raise SpaceError(source, preview(path), "a key is a dotted config path, e.g. solver.initial_damping")
        if isinstance(spec, dict):
            dimensions.append(_dimension(source, path, spec))
        else:
            fixed[path] = spec
    if not dimensions:
        raise SpaceError(source, "<root>", f"nothing to search: give at least one setting a {', '.join(KINDS)}")
    _check_settings(source, base_config, fixed, tuple(dimensions))
    return SearchSpace(source, tuple(dimensions), fixed, raw)


def load_space(path: str | Path, base_config: dict) -> SearchSpace:
    """Reads a space file with the project's safe YAML loader (no aliases bombs, no duplicate keys)."""
    path = Path(path)
    if not path.is_file():
        raise SpaceError(
            str(path), "<file>", "search space file not found; `pdesolve list` shows the shipped ones (configs/spaces/)"
        )
    try:
        raw = safe_load(path.read_text())
    except yaml.YAMLError as err:
        raise SpaceError(str(path), "<file>", f"not valid YAML: {str(err).splitlines()[0]}") from None
    except UnicodeDecodeError:
        raise SpaceError(str(path), "<file>", "not a text file") from None
    return parse_space(raw, str(path), base_config)
