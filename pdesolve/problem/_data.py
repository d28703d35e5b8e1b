"""``data:`` observations of u, a weighted misfit term of the loss (inverse problems, data assimilation).

    data: {file: observations.csv, noise: 0.01, weight: 1}

``file`` (relative to the problem file) is read as numbers only: a CSV file with a header row
naming the columns ``x1 .. xd`` (or ``x[1] .. x[d]``), ``t`` (time-dependent problems only) and
``u``; or a netCDF file (.nc) with the variables ``x`` (n, d), ``t`` (n,) and ``u`` (n,).
``noise``: the observation errors' standard deviation (units of u; the report sets the final misfit
beside it). ``weight``: w of the loss term ``w mean((u(x_k, t_k) - u_k)^2)``.
"""

import csv
import re
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import preview
from ._reference import check_inside

DATA_KEYS = {"file", "noise", "weight"}
#: The misfit term's weight w when the file gives none (the PDE residual's mean square has weight 1).
DATA_WEIGHT = 1.0
#: Most observations one file may hold (all of them enter every step's residual vector).
MAX_OBSERVATIONS = 100_000


def _csv_columns(reader, field: str, path: Path, dim: int, time) -> dict[str, Any]:
    """``{"x": (n, d), "t": (n,) or None, "u": (n,)}`` from a CSV file with a header row."""
    try:
        with path.open(newline="") as handle:
            rows = list(csv.reader(handle))
    except (OSError, UnicodeDecodeError, csv.Error) as err:
        raise reader.fail(field, f"cannot read {path}: {err}") from None
    if len(rows) < 2:
        raise reader.fail(
            field,
            f"{path} has no observations: give a header row (x1, ..., x{dim}, "
            f"{'t, ' if time else ''}u) and one row per observation",
        )
    header = [re.sub(r"^x\[(\d+)\]$", r"x\1", name.strip()) for name in rows[0]]
    wanted = [f"x{i}" for i in range(1, dim + 1)] + (["t"] if time else []) + ["u"]
    missing = [name for name in wanted if name not in header]
    extra = [name for name in header if name not in wanted]
    if missing or extra or len(set(header)) != len(header):
        what = (
            f"lacks the columns {', '.join(missing[:5])}{' ...' if len(missing) > 5 else ''}"
            if missing
            else f"has the unexpected columns {', '.join(extra[:5])}"
            if extra
            else "repeats a column"
        )
        raise reader.fail(
            field, f"{path} {what}; its header names x1 .. x{dim}, {'t, ' if time else ''}u (and nothing else)"
        )
    table = np.empty((len(rows) - 1, len(header)))
    for r, row in enumerate(rows[1:], start=2):
        if len(row) != len(header):
            raise reader.fail(field, f"{path} line {r} has {len(row)} values; the header has {len(header)}")
        for c, cell in enumerate(row):
            try:
                table[r - 2, c] = float(cell)
            except ValueError:
                raise reader.fail(
                    field, f"{path} line {r}, column {header[c]}: {preview(cell)} is not a number"
                ) from None
    column = {name: table[:, header.index(name)] for name in header}
    return {"x": np.stack([column[f"x{i}"] for i in range(1, dim + 1)], axis=1), "t": column.get("t"), "u": column["u"]}


def _netcdf_columns(reader, field: str, path: Path, dim: int, time) -> dict[str, Any]:
    """``{"x": (n, d), "t": (n,) or None, "u": (n,)}`` from the variables of a netCDF file."""
    import xarray as xr

    try:
        with xr.open_dataset(path, engine="h5netcdf", decode_cf=False) as ds:
            names = ["x", "u"] + (["t"] if time else [])
            missing = [name for name in names if name not in ds.variables]
            if missing:
                raise reader.fail(
                    field,
                    f"{path} lacks the variables {', '.join(missing)}; give x (n, {dim}), "
                    f"{'t (n,), ' if time else ''}u (n,)",
                )
            arrays = {name: ds[name].values for name in names}
    except (OSError, ValueError) as err:
        raise reader.fail(field, f"cannot read {path} as netCDF: {' '.join(str(err).split())[:160]}") from None
    for name, array in arrays.items():
        if array.dtype.kind not in "fiu":
            raise reader.fail(field, f"{path}: variable {name} holds {array.dtype} values, not numbers")
    n = arrays["u"].shape[0] if arrays["u"].ndim == 1 else -1
    shapes = {"x": (n, dim), "u": (n,), "t": (n,)}
    for name, array in arrays.items():
        if n < 0 or array.shape != shapes[name]:
            raise reader.fail(
                field,
                f"{path}: variable {name} has shape {array.shape}; expected x (n, {dim}), "
                f"{'t (n,), ' if time else ''}u (n,) with one n",
            )
    return {"x": arrays["x"].astype(float), "t": arrays.get("t"), "u": arrays["u"].astype(float)}


def _check_values(reader, field: str, path: Path, columns: dict[str, Any], time, domain) -> None:
    """Refuses NaN or infinite values, too many observations, points outside the domain and times
    outside the time interval."""
    n = len(columns["u"])
    if not 1 <= n <= MAX_OBSERVATIONS:
        raise reader.fail(field, f"{path} holds {n} observations; give between 1 and {MAX_OBSERVATIONS}")
    for name, array in columns.items():
        if array is not None and not np.all(np.isfinite(array)):
            row = int(np.argmax(~np.isfinite(array).reshape(n, -1).all(axis=1)))
            raise reader.fail(
                field,
                f"{path}: {name} of observation {row} is {preview(array[row].tolist())}; NaN or "
                "infinite values are not data, drop that observation",
            )
    check_inside(reader, f"{field} ({path.name}) point", columns["x"], domain)
    if time is not None:
        outside = np.flatnonzero((columns["t"] < time[0] - 1e-12) | (columns["t"] > time[1] + 1e-12))
        if outside.size:
            raise reader.fail(
                field,
                f"{path}: t of observation {outside[0]} is {columns['t'][outside[0]]:g}, "
                f"outside the time interval [{time[0]:g}, {time[1]:g}]",
            )


def parse_data(reader, value: Any, *, dim: int, time, domain) -> dict | None:
    """``data:`` -> ``{"file", "x" (n, d), "t" (n,), "u" (n,), "noise" or None, "weight"}`` (t zeros
    without time); None when absent."""
    if value is None:
        return None
    spec = reader.mapping("data", value, DATA_KEYS)
    name = spec.get("file")
    if not isinstance(name, str) or not name:
        raise reader.fail(
            "data.file",
            f"expected the observations' file name (.csv or .nc, relative to the problem file), got {preview(name)}",
        )
    path = Path(reader.where).parent / name if reader.where else Path(name)
    if not path.is_file():
        raise reader.fail("data.file", f"{path} not found; give a .csv or .nc file relative to the problem file")
    if path.suffix.lower() not in (".csv", ".nc"):
        raise reader.fail("data.file", f"unknown file type {path.suffix!r}; give a .csv or .nc file")
    read = _csv_columns if path.suffix.lower() == ".csv" else _netcdf_columns
    columns = read(reader, "data.file", path, dim, time)
    _check_values(reader, "data.file", path, columns, time, domain)
    noise = None if spec.get("noise") is None else reader.number("data.noise", spec["noise"])
    if noise is not None and noise < 0:
        raise reader.fail("data.noise", f"a standard deviation is >= 0, got {noise:g}")
    t = columns["t"] if time is not None else np.zeros(len(columns["u"]))
    return {
        "file": name,
        "x": columns["x"],
        "t": t,
        "u": columns["u"],
        "noise": noise,
        "weight": reader.number("data.weight", spec.get("weight", DATA_WEIGHT), positive=True),
    }
