"""A config section as a frozen dataclass whose fields (made by ``fields.setting``) are its schema."""

import copy
import dataclasses
import functools
from collections.abc import Callable, Iterator, Mapping
from typing import Any, ClassVar, Generic, Self, TypeVar, cast

from ..fields import Field, dataclass_field, schema_of


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
    spec: ClassVar[Any]  # the registered spec the kind's section is made from
    kind_suffix: ClassVar[str]  # the family's ending of a kind's class name

    def to_dict(self) -> dict[str, Any]:
        return {self.kind_key: self.kind, **super().to_dict()}


#: A family of kinded sections (``ModelConfig``, ``OperatorsConfig``).
Family = TypeVar("Family", bound=KindedSection)


@functools.cache
def kind_class(family: type[Family], kind: str, spec: Any) -> type[Family]:
    """The frozen section of ``family`` for the registered ``spec`` of ``kind``: one field per
    ``spec.fields``, named after the spec's class (``FiniteDifferenceSpec`` -> ``FiniteDifferenceOperators``),
    its docstring the spec's, its module the family's (where an alias of that name may stand)."""
    name = type(spec).__name__.removesuffix("Spec") + family.kind_suffix
    fields = [(key, Any, dataclass_field(field)) for key, field in spec.fields.items()]
    namespace = {"kind": kind, "spec": spec, "__doc__": type(spec).__doc__, "__module__": family.__module__}
    made = dataclasses.make_dataclass(name, fields, bases=(family,), frozen=True, kw_only=True, namespace=namespace)
    return cast(type[Family], made)  # a subclass of family, as its bases say


class RegisteredKinds(Mapping[str, type[Family]], Generic[Family]):
    """The kinds of ``family`` by name, read from a registry at each lookup (``specs()``: its
    registered specs by kind), so that a kind registered later is found."""

    def __init__(self, family: type[Family], specs: Callable[[], Mapping[str, Any]]):
        self.family, self.specs = family, specs

    def __getitem__(self, kind: str) -> type[Family]:
        return kind_class(self.family, kind, self.specs()[kind])  # type: ignore[arg-type]  # a class is hashable

    def __iter__(self) -> Iterator[str]:
        return iter(self.specs())

    def __len__(self) -> int:
        return len(self.specs())
