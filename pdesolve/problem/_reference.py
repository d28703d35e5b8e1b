"""``reference:`` in a problem file: what the errors are measured against when there is no
closed-form ``exact:`` solution.

- ``reference: {monte_carlo: {paths: N, seed: S, steps: K}}``: Feynman-Kac / Cole-Hopf estimates
  at the evaluation points (computed by :mod:`pdesolve.reference`); whole-space domains only.
- ``reference: {values: {points: [[...], ...], times: [...], u: [...]}}``: published values at
  listed points, which then are the evaluation points.

Parsed into a plain dict: ``{"kind": "monte_carlo", "paths", "seed", "steps" (or None)}`` or
``{"kind": "values", "x" (m, d), "t" (m,) or None, "u" (m,)}``.
"""

from typing import Any

import numpy as np

from ..errors import preview
from ._domain import Domain

KINDS = ("monte_carlo", "values")
MAX_PATHS = 10**9
MAX_STEPS = 100_000
EXAMPLE = "reference: {monte_carlo: {paths: 10000, seed: 0}}"


def parse_reference(
    reader, value: Any, *, dim: int, time, domain: Domain, has_exact: bool, max_numbers: int
) -> dict | None:
    """Validates ``reference:`` (``reader`` is the problem's ``_Reader``); None when absent."""
    if value is None:
        return None
    spec = reader.mapping("reference", value, set(KINDS))
    if len(spec) != 1:
        raise reader.fail("reference", f"give one of monte_carlo: or values:, e.g. {EXAMPLE}")
    if has_exact:
        raise reader.fail(
            "reference",
            "is given with exact:; the errors are measured against one of "
            "them: drop reference: (the closed form is better) or exact:",
        )
    if "monte_carlo" in spec:
        return _monte_carlo(reader, spec["monte_carlo"], time, domain)
    return _values(reader, spec["values"], dim, time, domain, max_numbers)


def _monte_carlo(reader, value: Any, time, domain: Domain) -> dict:
    """``{paths: N >= 2, seed: S, steps: K (optional)}``; refuses what Feynman-Kac cannot give here."""
    field = "reference.monte_carlo"
    spec = reader.mapping(field, value or {}, {"paths", "seed", "steps"})
    if time is None:
        raise reader.fail(
            field,
            "Feynman-Kac estimates are for time-dependent (parabolic) problems with "
            "terminal or initial data; add time: and conditions.terminal:, or use reference.values",
        )
    if domain.bounded:
        raise reader.fail(
            field,
            f"is supported on a whole-space domain only, not on a {domain.describe()}: "
            "on a bounded domain the lateral boundary data would need killed/stopped paths "
            "(exit times), which are not implemented; pose the problem with domain: {type: "
            "whole_space, sampling: {normal: {mean: 0, std: 1}}} or give reference.values",
        )
    if "paths" not in spec:
        raise reader.fail(f"{field}.paths", "missing; give the number of sample paths per point, e.g. paths: 10000")
    paths = reader.number(f"{field}.paths", spec["paths"], positive=True, integer=True)
    if not 2 <= paths <= MAX_PATHS:
        raise reader.fail(f"{field}.paths", f"must be from 2 (a standard error needs two) to {MAX_PATHS}, got {paths}")
    seed = reader.number(f"{field}.seed", spec.get("seed", 0), integer=True)
    if not 0 <= seed < 2**32:
        raise reader.fail(f"{field}.seed", f"a seed is an integer from 0 to 4294967295, got {seed}")
    steps = None
    if spec.get("steps") is not None:
        steps = reader.number(f"{field}.steps", spec["steps"], positive=True, integer=True)
        if steps > MAX_STEPS:
            raise reader.fail(f"{field}.steps", f"at most {MAX_STEPS} Euler-Maruyama steps, got {steps}")
    return {"kind": "monte_carlo", "paths": paths, "seed": seed, "steps": steps}


def _values(reader, value: Any, dim: int, time, domain: Domain, max_numbers: int) -> dict:
    """``{points: [[x_1, ..., x_d], ...], times: [...] (time-dependent problems), u: [...]}``."""
    field = "reference.values"
    spec = reader.mapping(field, value, {"points", "times", "u"})
    for key in ("points", "u") + (("times",) if time is not None else ()):
        if not isinstance(spec.get(key), list) or not spec[key]:
            raise reader.fail(
                f"{field}.{key}",
                f"missing or empty; give a list, e.g. {field}: {{points: "
                f"[[0, ..., 0]], {'times: [0], ' if time is not None else ''}u: [0.5]}}",
            )
    if time is None and "times" in spec:
        raise reader.fail(f"{field}.times", "the problem has no time: drop times")
    m = len(spec["points"])
    if m * (dim + 2) > max_numbers:
        raise reader.fail(
            f"{field}.points",
            f"{m} points of dimension {dim} are too many to hold; give at most {max_numbers // (dim + 2)}",
        )
    for key in ("u", "times"):
        if key in spec and len(spec[key]) != m:
            raise reader.fail(f"{field}.{key}", f"has {len(spec[key])} entries but points has {m}; give one per point")
    x = np.array([_point(reader, f"{field}.points[{i}]", p, dim) for i, p in enumerate(spec["points"])])
    u = np.array([reader.number(f"{field}.u[{i}]", v) for i, v in enumerate(spec["u"])])
    t = None
    if time is not None:
        t = np.array([reader.number(f"{field}.times[{i}]", v) for i, v in enumerate(spec["times"])])
        outside = np.flatnonzero((t < time[0] - 1e-12) | (t > time[1] + 1e-12))
        if outside.size:
            raise reader.fail(
                f"{field}.times[{outside[0]}]",
                f"{t[outside[0]]:g} is outside the time interval [{time[0]:g}, {time[1]:g}]",
            )
    check_inside(reader, f"{field}.points", x, domain)
    return {"kind": "values", "x": x, "t": t, "u": u}


def _point(reader, field: str, value: Any, dim: int) -> list[float]:
    if not isinstance(value, list) or len(value) != dim:
        raise reader.fail(field, f"expected a list of {dim} coordinates, got {preview(value)}")
    return [reader.number(f"{field}[{j}]", v) for j, v in enumerate(value)]


def check_inside(reader, field: str, x: np.ndarray, domain: Domain) -> None:
    """Refuses points (m, d) of ``field`` outside the domain (1e-9 tolerance; ``Domain.inside``)."""
    outside = ~domain.inside(x, 1e-9)
    if outside.any():
        i = int(np.argmax(outside))
        raise reader.fail(
            f"{field}[{i}]",
            f"{preview(x[i].tolist())} lies outside the domain ({domain.describe()}); give points in the domain",
        )
