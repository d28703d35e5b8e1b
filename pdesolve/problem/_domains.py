"""The ``domain`` section of a problem file: one kind per ``domain.type``, each a ``Domain`` class
(``_domain.py``) and a parser registered here. A new domain is its module (the class and its parser)
plus one ``register_domain`` call."""

from collections.abc import Callable
from typing import Any, NamedTuple

import numpy as np

from ..errors import preview
from ._domain import Annulus, Ball, Box, Domain, WholeSpace

#: ``parse(reader, spec, dim) -> Domain``: ``spec`` is the ``domain`` mapping (its keys already
#: checked against the kind's); ``reader.number``, ``reader.mapping`` and ``reader.fail`` read it.
DomainParser = Callable[[Any, dict, int], Domain]


class DomainKind(NamedTuple):
    """A kind of domain: the keys of its ``domain`` section (``type`` among them) and its parser."""

    keys: frozenset[str]
    parse: DomainParser


_DOMAINS: dict[str, DomainKind] = {}


def register_domain(type_name: str, keys: set[str], parse: DomainParser) -> DomainKind:
    """Makes ``domain.type: <type_name>`` with the section keys ``keys`` parse by ``parse``."""
    if type_name in _DOMAINS:
        raise ValueError(f"a domain named {type_name!r} is already registered")
    kind = DomainKind(frozenset(keys | {"type"}), parse)
    _DOMAINS[type_name] = kind
    return kind


def unregister_domain(type_name: str) -> None:
    """Removes the kind ``type_name`` (a test's toy domain, say)."""
    del _DOMAINS[type_name]


def domain_kinds() -> dict[str, DomainKind]:
    """The registered kinds by ``domain.type`` (a copy)."""
    return dict(_DOMAINS)


def parse_domain(reader: Any, value: Any, dim: int) -> Domain:
    """The ``domain`` section ``value`` of a problem of dimension ``dim``, by its registered kind."""
    spec = reader.mapping("domain", value)
    kind = spec.get("type")
    kind = kind if isinstance(kind, str) else preview(kind)  # e.g. a list: not a name, and unhashable
    if kind not in _DOMAINS:
        names = list(_DOMAINS)
        raise reader.fail(
            "domain.type", f"unknown domain {preview(kind)}; choose {', '.join(names[:-1])} or {names[-1]}"
        )
    reader.mapping("domain", spec, set(_DOMAINS[kind].keys))
    return _DOMAINS[kind].parse(reader, spec, dim)


def read_vector(reader: Any, field: str, value: Any, dim: int) -> np.ndarray:
    """A number (the same in every component) or a list of ``dim`` numbers, as an array (dim,)."""
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return np.full(dim, reader.number(field, value))
    if isinstance(value, list):
        if len(value) != dim:
            raise reader.fail(field, f"has {len(value)} entries but dimension is {dim}; give {dim} numbers or one")
        return np.array([reader.number(f"{field}[{i}]", v) for i, v in enumerate(value)])
    raise reader.fail(field, f"expected a number or a list of {dim} numbers, got {preview(value)}")


def _box(reader: Any, spec: dict, dim: int) -> Box:
    for key in ("low", "high"):
        if key not in spec:
            raise reader.fail(f"domain.{key}", "missing; give a number or a list of numbers")
    low = read_vector(reader, "domain.low", spec["low"], dim)
    high = read_vector(reader, "domain.high", spec["high"], dim)
    if np.any(high <= low):
        raise reader.fail("domain.high", "must exceed domain.low in every dimension")
    return Box(dim, low, high)


def _ball(reader: Any, spec: dict, dim: int) -> Annulus:
    center = read_vector(reader, "domain.center", spec.get("center", 0.0), dim)
    return Ball(dim, center, reader.number("domain.radius", spec.get("radius", 1.0), positive=True))


def _annulus(reader: Any, spec: dict, dim: int) -> Annulus:
    center = read_vector(reader, "domain.center", spec.get("center", 0.0), dim)
    inner = reader.number("domain.inner", spec.get("inner"), positive=True)
    outer = reader.number("domain.outer", spec.get("outer"), positive=True)
    if outer <= inner:
        raise reader.fail("domain.outer", f"must exceed domain.inner ({inner}), got {outer}")
    return Annulus(dim, center, inner, outer)


def _whole_space(reader: Any, spec: dict, dim: int) -> WholeSpace:
    """``{type: whole_space, sampling: {normal: {mean: m, std: s}}}``; m, s numbers or lists of dim."""
    example = "sampling: {normal: {mean: 0, std: 1}}"
    if "sampling" not in spec:
        raise reader.fail(
            "domain.sampling", f"missing; a whole-space domain needs the law of its points, e.g. {example}"
        )
    law = reader.mapping("domain.sampling", spec["sampling"], {"normal"})
    if "normal" not in law:
        raise reader.fail("domain.sampling", f"give the normal law, e.g. {example}")
    normal = reader.mapping("domain.sampling.normal", law["normal"] or {}, {"mean", "std"})
    for key in ("mean", "std"):
        if key not in normal:
            raise reader.fail(f"domain.sampling.normal.{key}", f"missing; give a number or a list of {dim} numbers")
    mean = read_vector(reader, "domain.sampling.normal.mean", normal["mean"], dim)
    std = read_vector(reader, "domain.sampling.normal.std", normal["std"], dim)
    if np.any(std <= 0):
        raise reader.fail("domain.sampling.normal.std", f"must be > 0 in every component, got {normal['std']!r}")
    return WholeSpace(dim, mean, std)


register_domain("box", {"low", "high"}, _box)
register_domain("ball", {"center", "radius"}, _ball)
register_domain("annulus", {"center", "inner", "outer"}, _annulus)
register_domain("whole_space", {"sampling"}, _whole_space)
