"""Reading config text: YAML config files and ``--set key=value`` overrides (validated elsewhere)."""

from pathlib import Path
from typing import Any

import yaml

from ..errors import ConfigError
from ..safe_yaml import safe_load


def parse_override(text: str) -> dict:
    """``'train.steps=200'`` -> ``{'train': {'steps': 200}}``; the value is read as YAML (safely)."""
    if "=" not in text:
        raise ConfigError(text, "an override is KEY=VALUE, e.g. train.steps=2000")
    path, raw = text.split("=", 1)
    try:
        value = safe_load(raw) if raw.strip() else None
    except yaml.YAMLError:
        value = raw
    keys = path.strip().split(".")
    if not all(keys):
        raise ConfigError(path, "an override key is dotted names, e.g. operators.method=sg")
    nested: Any = value
    for key in reversed(keys):
        nested = {key: nested}
    return nested


def load_config_file(path: str | Path) -> dict:
    """Reads a YAML config file (safe loader) as a raw mapping, not yet validated."""
    path = Path(path)
    if not path.is_file():
        raise ConfigError(str(path), "config file not found; `pdesolve list` shows the shipped configs")
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as err:
        raise ConfigError(str(path), f"is not UTF-8 text (byte {err.start}); save it as UTF-8 YAML") from None
    except OSError as err:  # e.g. /proc/self/mem, a file that vanished
        raise ConfigError(str(path), f"cannot be read: {err.strerror or err}") from None
    try:
        data = safe_load(text)
    except yaml.YAMLError as err:
        raise ConfigError(str(path), f"not valid YAML: {str(err).splitlines()[0]}") from None
    return data or {}
