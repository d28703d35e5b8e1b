"""Validation of a config update against the section schemas, merged over a base config (dicts)."""

import dataclasses
from collections.abc import Iterable, Mapping
from typing import Any

from ..errors import ConfigError, key_name, preview
from ..fields import Field
from ._check import check_value, suggest

#: The origin of a setting that no update set.
DEFAULT = "default"


@dataclasses.dataclass
class Trace:
    """Where each setting's value came from while updates are merged: ``origins`` maps a dotted key
    (``train.steps``; ``seed`` at the top level) to the label of the last update that set it
    (``source`` while it is merged); a key that no update set (or a kind's default) is absent."""

    source: str = ""
    origins: dict[str, str] = dataclasses.field(default_factory=dict)

    def set(self, field: str, keys: Iterable[str]) -> None:
        """The keys ``keys`` of the section ``field`` ('' at the top level) come from ``source``."""
        self.origins.update({f"{field}.{key}" if field else key: self.source for key in keys})

    def keep(self, field: str, keys: Iterable[str]) -> None:
        """Only ``keys`` of the section ``field`` keep their origins (a new kind starts from its defaults)."""
        kept = {f"{field}.{key}" for key in keys}
        self.origins = {k: v for k, v in self.origins.items() if not k.startswith(f"{field}.") or k in kept}


def merge_section(
    field: str,
    base: dict,
    update: Any,
    schema: Mapping[str, Field],
    kind_key: str | None = None,
    trace: Trace | None = None,
) -> dict:
    """``base`` with the keys of the mapping ``update`` checked against ``schema`` and applied
    (and recorded in ``trace``)."""
    if not isinstance(update, dict):
        raise ConfigError(field, f"expected a mapping, got {preview(update)}")
    merged = dict(base)
    for key, value in update.items():
        if key == kind_key:
            continue
        if key not in schema:
            also = () if kind_key is None else (kind_key,)
            raise ConfigError(f"{field}.{key_name(key)}", f"unknown key{suggest(str(key)[:100], schema, also)}")
        merged[key] = check_value(f"{field}.{key}", value, schema[key])
    if trace is not None:
        trace.set(field, (key for key in update if key != kind_key))
    return merged


def _refuse_other_kinds_keys(
    field: str, update: dict, schemas: Mapping[str, Mapping[str, Field]], kind_key: str, kind: str
) -> None:
    """Names the kinds a key belongs to when it is not one of ``kind``'s (e.g. ``sigma`` with ``method: fd``)."""
    for key in update:
        owners = sorted(other for other, schema in schemas.items() if isinstance(key, str) and key in schema)
        if key != kind_key and owners and kind not in owners:
            allowed = ", ".join(sorted(schemas[kind])) or "none"
            raise ConfigError(
                f"{field}.{key}",
                f"unknown key for {kind_key} {kind!r} (a key of {kind_key} {', '.join(owners)}); allowed: {allowed}",
            )


def merge_kinded(
    field: str,
    base: dict,
    update: Any,
    schemas: Mapping[str, Mapping[str, Field]],
    kind_key: str,
    *,
    carry_shared: bool = False,
    trace: Trace | None = None,
) -> dict:
    """A kinded section: the kind from ``update`` (else ``base``), its defaults, then ``base``'s
    settings (all of them for the same kind; with ``carry_shared``, those the new kind shares
    after a change of kind), then ``update``."""
    if not isinstance(update, dict):
        raise ConfigError(field, f"expected a mapping, got {preview(update)}")
    kind = update.get(kind_key, base[kind_key])
    if not isinstance(kind, str) or kind not in schemas:
        raise ConfigError(
            f"{field}.{kind_key}", f"unknown {kind_key} {preview(kind)}{suggest(str(kind)[:100], schemas)}"
        )
    schema = schemas[kind]
    _refuse_other_kinds_keys(field, update, schemas, kind_key, kind)
    start = {kind_key: kind, **{k: spec.default for k, spec in schema.items()}}
    kept = {k: v for k, v in base.items() if k in schema} if kind == base[kind_key] or carry_shared else {}
    start.update(kept)
    if trace is not None:
        trace.keep(field, [kind_key, *kept])
        trace.set(field, [kind_key] if kind_key in update else [])
    return {kind_key: kind, **merge_section(field, start, update, schema, kind_key, trace)}
