"""A config section as a frozen dataclass whose fields (made by ``fields.setting``) are its schema."""

import copy
import dataclasses
from collections.abc import Mapping
from typing import Any, ClassVar, Self

from ..fields import Field, schema_of


@dataclasses.dataclass(frozen=True, kw_only=True)
class Section:
    """A section of a run config; subclasses declare their keys with ``fields.setting``."""

    @classmethod
    def schema(cls) -> dict[str, Field]:
        """The section's keys, in order, with their types, defaults and checks."""
        return schema_of(cls)

    @classmethod
    def from_valid(cls, values: Mapping[str, Any]) -> Self:
        """The section from values already checked against ``schema()`` (extra keys, e.g. the kind, are ignored)."""
        return cls(**{key: copy.deepcopy(values[key]) for key in cls.schema() if key in values})

    def to_dict(self) -> dict[str, Any]:
        """The section as the plain mapping of a config file (a fresh copy)."""
        return {key: copy.deepcopy(getattr(self, key)) for key in self.schema()}


@dataclasses.dataclass(frozen=True, kw_only=True)
class KindedSection(Section):
    """A section whose keys depend on its kind (``model.type``, ``operators.method``): one final
    subclass per kind sets ``kind``; the family's base sets ``kind_key``."""

    kind_key: ClassVar[str]
    kind: ClassVar[str]

    def to_dict(self) -> dict[str, Any]:
        return {self.kind_key: self.kind, **super().to_dict()}


def kinds(*classes: type[KindedSection]) -> dict[str, type[KindedSection]]:
    """The kinds of one family by name (a registry: one line per kind)."""
    return {cls.kind: cls for cls in classes}
