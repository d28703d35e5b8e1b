"""The report entries of an inverse problem: each unknown's learned value (and its error where the
problem states the truth), and the trained solution's misfit to the observations."""

import jax.numpy as jnp
import numpy as np

from ..operators import AbstractOperatorEngine
from ..problem import Problem, unknown_values


def _plain(value) -> float | list[float]:
    array = np.asarray(value, dtype=np.float64)
    return float(array) if array.ndim == 0 else array.tolist()


def unknowns_report(problem: Problem, solution) -> dict:
    """``{"unknowns": {name: {"value", "exact", "abs_error", "rel_error"}}}`` (errors where ``exact`` is
    stated; for a vector the largest component error and the relative l2 error), or {} without unknowns."""
    if not problem.unknowns:
        return {}
    values = unknown_values(problem.unknowns, solution.unknowns)
    rows = {}
    for name, unknown in problem.unknowns.items():
        value = np.asarray(values[name], dtype=np.float64)
        row = {"value": _plain(value), "init": _plain(unknown.init), "bounds": unknown.bounds and list(unknown.bounds)}
        if unknown.exact is not None:
            exact = np.asarray(unknown.exact, dtype=np.float64)
            size = max(float(np.linalg.norm(exact)), np.finfo(float).tiny)
            row.update(
                exact=_plain(exact),
                abs_error=float(np.max(np.abs(value - exact))),
                rel_error=float(np.linalg.norm(value - exact)) / size,
            )
        rows[name] = row
    return {"unknowns": rows}


def unknown_columns(problem: Problem, params) -> dict:
    """History columns ``unknown_<name>``: the scalar unknowns' values at a logged step ({} without)."""
    if not problem.unknowns:
        return {}
    values = unknown_values(problem.unknowns, params.unknowns)
    return {f"unknown_{name}": value for name, value in values.items() if jnp.ndim(value) == 0}


def data_report(problem: Problem, engine: AbstractOperatorEngine, solution) -> dict:
    """``{"data": {"file", "points", "rms_misfit", "noise", "weight"}}``: the reported solution's RMS misfit
    to the observations (beside their stated noise), or {} without ``data:``."""
    data = problem.data
    if data is None:
        return {}
    dtype = jnp.result_type(float)
    x, t = jnp.asarray(data["x"], dtype), jnp.asarray(data["t"], dtype)
    misfit = np.asarray(engine.solution(solution)(x, t), dtype=np.float64) - data["u"]
    return {
        "data": {
            "file": data["file"],
            "points": len(misfit),
            "rms_misfit": float(np.sqrt(np.mean(misfit**2))),
            "noise": data["noise"],
            "weight": data["weight"],
        }
    }


def summary_lines(report: dict) -> list[str]:
    """The CLI's lines for the unknowns: ``name = value (truth ..., rel error ...)``."""
    lines = []
    for name, row in (report.get("unknowns") or {}).items():
        value = ", ".join(f"{v:.6g}" for v in np.ravel(row["value"]))
        truth = (
            ""
            if "exact" not in row
            else (f" (truth {', '.join(f'{v:.6g}' for v in np.ravel(row['exact']))}, rel error {row['rel_error']:.2e})")
        )
        lines.append(f"  unknown {name} = {value}{truth}")
    if report.get("data"):
        data = report["data"]
        noise = "" if data["noise"] is None else f" (stated noise {data['noise']:.3e})"
        lines.append(f"  data misfit rms {data['rms_misfit']:.3e} at {data['points']} observations{noise}")
    return lines
