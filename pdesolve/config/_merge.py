"""Validation of a config update against the section schemas, merged over a base config (dicts)."""

from collections.abc import Mapping
from typing import Any

from ..errors import ConfigError, key_name, preview
from ..fields import Field
from ._check import check_value, suggest


def merge_section(
    field: str, base: dict, update: Any, schema: Mapping[str, Field], kind_key: str | None = None
) -> dict:
    """``base`` with the keys of the mapping ``update`` checked against ``schema`` and applied."""
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
    if kind == base[kind_key] or carry_shared:
        start.update({k: v for k, v in base.items() if k in schema})
    return {kind_key: kind, **merge_section(field, start, update, schema, kind_key)}
