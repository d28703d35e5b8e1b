"""Analysis of a trained solution: where the error lives, residual statistics by autodiff, and
the prediction on 2-d slices of domain x time (``slices.nc``).

Error breakdowns (report keys ``by_time_slab``, ``by_radius_band``): time slabs are ``TIME_SLABS``
equal parts of the time interval; radius bands are ``RADIUS_BANDS`` equal-width bands of the
domain's normalised radius over [0, ``radius_max``] (on radius-uniform points, so that each band is
populated: in high dimension the evaluation points all lie in the outermost one). Point rows
(report keys ``centre``, ``at_points``) give the prediction and the error at single points.
"""

import math
from typing import Any

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import xarray as xr

from .operators import AutodiffEngine
from .problem import CompiledProblem, Domain, Problem, unknown_values

TIME_SLABS = 4
RADIUS_BANDS = 5
RESIDUAL_ROWS = 2**18  # network rows (points x autodiff passes) per residual call: bounds its memory
SLICE_POINTS = 51
SLICE_TIMES = 3
POINT_CHUNK = 2**16  # points per call of a domain's geometry on many points: bounds its temporaries


def boundary_distance(domain: Domain, x: np.ndarray) -> np.ndarray | None:
    """Euclidean distance (n,) from points x (n, d) to the domain's boundary; None if unknown.
    ``POINT_CHUNK`` points at a time: the domain's temporaries are copies of the coordinates."""
    first = domain.boundary_distance(x[:POINT_CHUNK])
    if first is None or len(x) <= POINT_CHUNK:
        return first
    distance = np.empty(len(x), first.dtype)
    distance[:POINT_CHUNK] = first
    for i in range(POINT_CHUNK, len(x), POINT_CHUNK):
        distance[i : i + POINT_CHUNK] = domain.boundary_distance(x[i : i + POINT_CHUNK])
    return distance


def _bins(values: np.ndarray, error: np.ndarray, u_ref: np.ndarray, edges: np.ndarray) -> list[dict]:
    """Per bin [edges[k], edges[k+1]) (the last one closed) of ``values`` (n,): error statistics."""
    index = np.clip(np.searchsorted(edges, values, side="right") - 1, 0, len(edges) - 2)
    rows = []
    for k in range(len(edges) - 1):
        e, r = error[index == k], u_ref[index == k]
        row = {"low": float(edges[k]), "high": float(edges[k + 1]), "points": int(e.size)}
        if e.size:
            norm = float(np.linalg.norm(r))
            row.update(
                mean_abs_error=float(np.mean(np.abs(e))),
                max_abs_error=float(np.max(np.abs(e))),
                rel_l2=float(np.linalg.norm(e) / norm) if norm > 0 else float("nan"),
            )
        rows.append(row)
    return rows


def error_breakdown(
    problem: Problem, x: np.ndarray, t: np.ndarray | None, u_pred: np.ndarray, u_ref: np.ndarray
) -> dict:
    """Error by time slab, and where it is largest (with its normalised radius and distance to
    the boundary). x (n, d), t (n,) or None, u_pred and u_ref (n,). Returns report entries (JSON-able)."""
    u_pred, u_ref = np.asarray(u_pred, np.float64), np.asarray(u_ref, np.float64)
    error = u_pred - u_ref
    out: dict[str, Any] = {}
    if t is not None and problem.time is not None:
        out["by_time_slab"] = _bins(t, error, u_ref, np.linspace(*problem.time, TIME_SLABS + 1))
    k = int(np.argmax(np.abs(error)))
    where = {
        "abs_error": float(abs(error[k])),
        "x": [float(v) for v in x[k]],
        "u_pred": float(u_pred[k]),
        "u_ref": float(u_ref[k]),
    }
    if t is not None:
        where["t"] = float(t[k])
    where["radius"] = float(problem.domain.radius(x[k : k + 1])[0])
    distance = boundary_distance(problem.domain, x[k : k + 1])
    if distance is not None:
        where["boundary_distance"] = float(distance[0])
    out["max_error_location"] = where
    return out


def radius_bands(
    domain: Domain, x: np.ndarray, u_pred: np.ndarray, u_ref: np.ndarray, bands: int = RADIUS_BANDS
) -> list[dict]:
    """Error statistics per equal-width band of the normalised radius over [0, ``domain.radius_max``]
    at points x (n, d) (values u_pred, u_ref (n,)): rows {low, high, points, mean_abs_error,
    max_abs_error, rel_l2}."""
    u_pred, u_ref = np.asarray(u_pred, np.float64), np.asarray(u_ref, np.float64)
    return _bins(domain.radius(x), u_pred - u_ref, u_ref, np.linspace(0.0, domain.radius_max, bands + 1))


def point_rows(
    labels: list[dict], t: np.ndarray | None, u_pred: np.ndarray, u_ref: np.ndarray, scale: float
) -> list[dict]:
    """One row per point: {t (when t (m,) is given), **labels[k], u_pred, u_exact, abs_error,
    scaled_error = abs_error / ``scale``}; u_pred and u_ref (m,)."""
    rows = []
    for k, label in enumerate(labels):
        pred, ref = float(u_pred[k]), float(u_ref[k])
        rows.append(
            {
                **({} if t is None else {"t": float(t[k])}),
                **label,
                "u_pred": pred,
                "u_exact": ref,
                "abs_error": abs(pred - ref),
                "scaled_error": abs(pred - ref) / scale if scale > 0 else math.nan,
            }
        )
    return rows


def residual_statistics(
    compiled: CompiledProblem, field, x: np.ndarray, t: np.ndarray, chunk: int | None = None
) -> dict[str, float]:
    """Mean, max and RMS of |residual| at points x (n, d), t (n,) by autodiff of ``field``
    (a batched u(x, t) -> (n,)), ``chunk`` points per jitted call (default: ``RESIDUAL_ROWS``
    network rows, i.e. points x autodiff passes, per call)."""
    engine, zero = AutodiffEngine(), lambda xx, tt: jnp.zeros_like(tt)
    chunk = chunk or max(1, RESIDUAL_ROWS // engine.evals_per_point(compiled.needs, x.shape[1]))
    source = compiled.source or zero
    params, static = eqx.partition(field, eqx.is_inexact_array)

    @jax.jit  # not eqx.filter_jit, whose cache keeps closures (see pdesolve.run._step.make_guarded_step)
    def residual(params, xx, tt):
        u = eqx.combine(params, static)
        ops = engine(u, xx, tt, compiled.needs)
        learned = getattr(u, "unknowns", None)  # an inverse problem's unknowns, at their learned values
        values = unknown_values(compiled.problem.unknowns, learned) if learned else None
        return compiled.residual(ops, xx, tt, source(xx, tt), values)

    parts = [
        np.asarray(residual(params, jnp.asarray(x[i : i + chunk]), jnp.asarray(t[i : i + chunk])))
        for i in range(0, len(x), chunk)
    ]
    r = np.abs(np.concatenate(parts).astype(np.float64))
    return {
        "residual_mean_abs": float(np.mean(r)),
        "residual_max_abs": float(np.max(r)),
        "residual_rms": float(np.sqrt(np.mean(r**2))),
    }


def _time_grid(problem: Problem, n: int) -> np.ndarray:
    """``n`` times (n,) from the start to the end of the time interval."""
    assert problem.time is not None  # a t axis or slice times exist only with time
    return np.linspace(*problem.time, n)


def slice_plan(problem: Problem, x_test: np.ndarray) -> dict | None:
    """The 2-d slice grid from ``evaluation.slice`` (defaults: axes x1, x2, or x1 and t in 1-d;
    the other coordinates at the domain centre; ``SLICE_TIMES`` times from start to end;
    ``SLICE_POINTS`` points per axis). None for a 1-d stationary problem (a line, not a plane).

    Returns ``{"axes": [name, name], "grids": [(n,), (n,)], "fixed": (d,), "times": (k,) or None}``.
    """
    spec, d = problem.evaluation.get("slice") or {}, problem.dimension
    axes = spec.get("axes") or ([1, 2] if d >= 2 else [1, "t"] if problem.has_time else None)
    if axes is None:
        return None
    low, high, centre = problem.domain.extent(x_test)
    at = spec.get("at", "center")
    fixed = np.array(centre, float) if at == "center" else np.broadcast_to(np.asarray(at, float), (d,)).copy()
    n = spec.get("points", SLICE_POINTS)
    grids = [_time_grid(problem, n) if a == "t" else np.linspace(low[a - 1], high[a - 1], n) for a in axes]
    times = None
    if problem.has_time and "t" not in axes:
        times = spec.get("times", SLICE_TIMES)
        times = _time_grid(problem, times) if isinstance(times, int) else np.asarray(times, float)
    return {"axes": ["t" if a == "t" else f"x{a}" for a in axes], "grids": grids, "fixed": fixed, "times": times}


def slice_points(plan: dict, default_t: float = 0.0) -> tuple[np.ndarray, np.ndarray, tuple[int, ...]]:
    """The grid of ``plan`` as points: x (m, d), t (m,), and the grid shape ((k,) + (n, n))."""
    times = plan["times"] if plan["times"] is not None else np.array([default_t])
    mesh = np.meshgrid(times, *plan["grids"], indexing="ij")
    shape = mesh[0].shape
    x = np.tile(plan["fixed"], (mesh[0].size, 1))
    t = mesh[0].ravel().copy()
    for name, values in zip(plan["axes"], mesh[1:]):
        if name == "t":
            t = values.ravel().copy()
        else:
            x[:, int(name[1:]) - 1] = values.ravel()
    if plan["times"] is None:
        shape = shape[1:]
    return x, t, shape


def slices_dataset(
    problem: Problem, plan: dict, x: np.ndarray, values: dict[str, np.ndarray], shape: tuple[int, ...], attrs: dict
) -> xr.Dataset:
    """``values`` (name -> (m,) on the points of :func:`slice_points`) on the grid; points outside
    the domain are NaN. Adds ``abs_error`` when ``u_pred`` and ``u_exact`` are given."""
    dims = (("t",) if plan["times"] is not None else ()) + tuple(plan["axes"])
    units = problem.evaluation.get("units") or {}
    unit = lambda key: {"units": units[key]} if key in units else {}  # noqa: E731
    coords = {
        name: (
            name,
            grid,
            {"long_name": "time" if name == "t" else f"space coordinate {name}", **unit("t" if name == "t" else "x")},
        )
        for name, grid in zip(plan["axes"], plan["grids"])
    }
    if plan["times"] is not None:
        coords["t"] = ("t", plan["times"], {"long_name": "time", **unit("t")})
    coords["x_fixed"] = ("component", plan["fixed"], {"long_name": "coordinates held fixed off the slice axes"})
    coords["component"] = ("component", np.arange(1, problem.dimension + 1), {"long_name": "space component index"})
    outside = ~problem.domain.inside(x, 1e-12)
    data = {}
    for name, v in values.items():
        v = np.where(outside, np.nan, np.asarray(v, np.float64))
        data[name] = (dims, v.reshape(shape), {"long_name": VARIABLE_NAMES.get(name, name), **unit("u")})
    if "u_pred" in values and "u_exact" in values:
        data["abs_error"] = (
            dims,
            np.abs(data["u_pred"][1] - data["u_exact"][1]),
            {"long_name": VARIABLE_NAMES["abs_error"], **unit("u")},
        )
    return xr.Dataset(data, coords=coords, attrs={"slice_axes": " ".join(plan["axes"]), **attrs})


VARIABLE_NAMES = {
    "u_pred": "predicted solution",
    "u_exact": "exact solution",
    "abs_error": "|u_pred - u_exact|",
    "u_raw": "raw network solution (before smoothing)",
}
