"""The trained solution on the evaluation points, and what it is measured against: the exact
solution, or a ``reference:`` (listed values or Monte Carlo); the diagonal line and the slices."""

import jax.numpy as jnp
import numpy as np
import xarray as xr
from tqdm.auto import tqdm

from ..analysis import slice_plan, slice_points, slices_dataset
from ..errors import ProblemError, preview
from ..problem import CompiledProblem, Problem
from ..reference import Reference, check_reference, compute_reference, reference_points
from ..results import line_dataset
from ..sampling import PointSampler


def evaluation_points(problem: Problem, dtype) -> tuple[np.ndarray, np.ndarray]:
    """The evaluation points x (n, d), t (n,): those of ``reference.values`` if listed, else sampled."""
    listed = reference_points(problem)
    if listed is None:
        sampler = PointSampler(problem.domain, problem.time, problem.evaluation["sampling"], problem.evaluation["seed"])
        listed = sampler.interior(problem.evaluation["points"])
    x, t = listed
    return np.asarray(x, dtype), np.asarray(t, dtype)


#: Points per call of the exact solution: its temporaries stay bounded however many points there are.
EXACT_CHUNK = 2**16


def exact_values(compiled: CompiledProblem, x: np.ndarray, t: np.ndarray) -> np.ndarray:
    """The exact solution at x (n, d), t (n,) as a numpy array (n,), ``EXACT_CHUNK`` points at a time."""
    exact = compiled.exact
    assert exact is not None  # called for problems with an exact solution
    u = np.zeros(0, x.dtype)
    for i in range(0, len(x), EXACT_CHUNK):
        part = np.asarray(exact(jnp.asarray(x[i : i + EXACT_CHUNK]), jnp.asarray(t[i : i + EXACT_CHUNK])))
        u = _filled(u, len(x), i, part)
    return u


def _filled(whole: np.ndarray, n: int, start: int, part: np.ndarray) -> np.ndarray:
    """``whole`` (n,) with ``part`` written from ``start`` on; made, in ``part``'s dtype, at the first
    part (``start`` 0): the chunks go into one array, never a list joined at the end (a second copy)."""
    whole = np.empty(n, part.dtype) if start == 0 else whole
    whole[start : start + len(part)] = part
    return whole


def reference_values(compiled: CompiledProblem, x, t) -> tuple[np.ndarray | None, Reference | None]:
    """(values (n,) the errors are measured against or None, the ``reference:`` result or None)."""
    if compiled.exact is not None:
        return exact_values(compiled, x, t), None
    ref = compute_reference(compiled, x, t)
    return (None, None) if ref is None else (ref.u.astype(x.dtype), ref)


def check_exact(problem: Problem, compiled: CompiledProblem, dtype) -> None:
    """Refuses, before training, an exact solution that is not finite on the evaluation points:
    an error report against NaN says nothing (it would read ``rel_l2 nan``). Identifies the form
    of a Monte Carlo ``reference:`` (refusing an unsupported one) before training too."""
    check_reference(compiled)
    if compiled.exact is None:
        return
    sampler = PointSampler(problem.domain, problem.time, problem.evaluation["sampling"], problem.evaluation["seed"])
    x, t = (np.asarray(a, dtype) for a in sampler.interior(problem.evaluation["points"]))
    u = exact_values(compiled, x, t)
    bad = ~np.isfinite(u)
    if bad.any():
        i = int(np.argmax(bad))
        at = f"x = {preview(x[i].tolist())}" + (f", t = {t[i]:.6g}" if problem.has_time else "")
        raise ProblemError(
            "exact",
            f"is {u[i]} at {int(bad.sum())} of {len(u)} evaluation points (e.g. {at}); "
            "give an expression that is finite on the whole domain",
            source=problem.source_file,
        )


def evaluate(
    predict, params, x, t, chunk: int, progress: bool, desc: str = "evaluation"
) -> tuple[np.ndarray, np.ndarray]:
    """``predict`` over the points x (n, d), t (n,) in chunks of ``chunk`` points, with a progress
    bar: (u_pred (n,), u_raw (n,))."""
    u_pred = u_raw = np.zeros(0, x.dtype)
    with tqdm(total=len(x), disable=not progress, desc=desc, unit="point", leave=False) as bar:
        for i in range(0, len(x), chunk):
            pred, raw = predict(params, x[i : i + chunk], t[i : i + chunk])
            u_pred, u_raw = _filled(u_pred, len(x), i, pred), _filled(u_raw, len(x), i, raw)
            bar.update(len(pred))
    return u_pred, u_raw


#: The attributes of ``solution.nc`` that ``slices.nc`` and ``lines.nc`` repeat.
KEPT = ("problem", "title", "equation", "domain", "prediction", "errors_against")


def slices(
    problem: Problem, compiled: CompiledProblem, evaluate_at, x_test, dtype, smoothed, attrs
) -> xr.Dataset | None:
    """``slices.nc``: prediction (and exact, error) on the 2-d slice grid of ``evaluation.slice``;
    ``evaluate_at(x, t, desc=...) -> (u_pred, u_raw)`` in chunks; ``attrs`` those of ``solution.nc``."""
    plan = slice_plan(problem, x_test)
    if plan is None:
        return None
    t_default = 0.0 if problem.time is None else problem.time[0]
    xs, ts, shape = slice_points(plan, t_default)
    xs, ts = np.asarray(xs, dtype), np.asarray(ts, dtype)  # no copy when already in the run's dtype
    u_pred, u_raw = evaluate_at(xs, ts, desc="slices")
    values = {"u_pred": u_pred, **({"u_raw": u_raw} if smoothed else {})}
    if compiled.exact is not None:
        values["u_exact"] = exact_values(compiled, xs, ts)
    if "u_exact" not in values and problem.reference is not None:
        attrs = {**attrs, "errors_against": "none on the slices (the reference is at the evaluation points only)"}
    return slices_dataset(problem, plan, xs, values, shape, {"Conventions": "CF-1.10", **{k: attrs[k] for k in KEPT}})


def diagonal_line(problem: Problem, compiled: CompiledProblem, predict, params, dtype) -> dict:
    """The prediction (and exact solution) at 201 points along the domain's diagonal, mid-time:
    {s (n,), u_pred (n,), u_exact (n,) or None, label, t (the time, None when stationary)}."""
    s, x = problem.domain.line(201)
    t_mid = 0.0 if problem.time is None else 0.5 * (problem.time[0] + problem.time[1])
    t = np.full(len(s), t_mid)
    u_pred = predict(params, x.astype(dtype), t.astype(dtype))[0]
    u_exact = (
        None if compiled.exact is None else np.asarray(compiled.exact(jnp.asarray(x, dtype), jnp.asarray(t, dtype)))
    )
    label = "position along the domain's diagonal" + ("" if problem.time is None else f" (t = {t_mid:g})")
    return {"s": s, "u_pred": u_pred, "u_exact": u_exact, "label": label, "t": None if problem.time is None else t_mid}


def lines(problem: Problem, line: dict, attrs: dict) -> xr.Dataset:
    """``lines.nc``: the :func:`diagonal_line` as a dataset; ``attrs`` those of ``solution.nc``."""
    attrs = {k: attrs[k] for k in KEPT}
    if line["u_exact"] is None and problem.reference is not None:
        attrs["errors_against"] = "none on the line (the reference is at the evaluation points only)"
    return line_dataset(line, attrs, problem.evaluation.get("units"))
