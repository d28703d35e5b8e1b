"""Run outputs: xarray datasets, the error report, figures and the run folder.

Every file is written atomically (a temporary file in the same folder, then a rename), so an
interrupted run never leaves a half-written output.
"""

import json
import os
import platform
import tempfile
from collections.abc import Callable
from pathlib import Path

import numpy as np
import xarray as xr
import yaml

REPORT_KEYS = ("mse", "rel_l2", "rel_l1", "max_abs_error")


def atomic_write(path: Path, write: Callable[[Path], None]) -> None:
    """Calls ``write(tmp)`` on a temporary path beside ``path`` and renames it into place."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    os.close(fd)
    try:
        write(Path(tmp))
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)


def atomic_write_text(path: Path, text: str) -> None:
    atomic_write(path, lambda tmp: tmp.write_text(text))


def solution_dataset(x, t, u_pred, u_raw, u_exact, attrs: dict) -> xr.Dataset:
    """The solution on the evaluation points: x (n, d), t (n,) or None, values (n,)."""
    n, d = x.shape
    data = {"x": (("point", "dim"), x, {"long_name": "space coordinates"}),
            "u_pred": ("point", u_pred, {"long_name": "predicted solution"})}
    if t is not None:
        data["t"] = ("point", t, {"long_name": "time"})
    if u_raw is not None:
        data["u_raw"] = ("point", u_raw, {"long_name": "raw network solution (before smoothing)"})
    if u_exact is not None:
        data["u_exact"] = ("point", u_exact, {"long_name": "exact solution"})
        data["abs_error"] = ("point", np.abs(u_pred - u_exact), {"long_name": "|u_pred - u_exact|"})
    coords = {"point": np.arange(n), "dim": np.arange(1, d + 1)}
    return xr.Dataset(data, coords=coords, attrs=_netcdf_attrs(attrs))


def history_dataset(history: dict[str, np.ndarray], attrs: dict) -> xr.Dataset:
    """Per logged step: loss, rel_l2, mse, wall_time, loss_evals, network_evals."""
    steps = history["step"]
    data = {k: ("step", np.asarray(v)) for k, v in history.items() if k != "step"}
    return xr.Dataset(data, coords={"step": steps}, attrs=_netcdf_attrs(attrs))


def _netcdf_attrs(attrs: dict) -> dict:
    """netCDF attributes are numbers or strings: nested values become JSON text."""
    out = {}
    for key, value in attrs.items():
        if value is None:
            continue
        out[key] = value if isinstance(value, (int, float, str)) and not isinstance(value, bool) else json.dumps(value)
    return out


def versions() -> dict[str, str]:
    """Versions of the packages that decide the numbers."""
    import jax
    import jaxlib

    from . import __version__

    return {"pdesolve": __version__, "jax": jax.__version__, "jaxlib": jaxlib.__version__,
            "numpy": np.__version__, "python": platform.python_version()}


def device_description() -> str:
    import jax

    devices = jax.devices()
    kinds = sorted({d.device_kind for d in devices})
    return f"{len(devices)} x {devices[0].platform} ({', '.join(kinds)})"


def report_markdown(report: dict) -> str:
    """The report for people: the error table, then the settings."""
    lines = [f"# {report['problem']}: {report['title']}", "",
             f"Equation: `{report['equation']}`  ", f"Domain: {report['domain']}, dimension {report['dimension']}", "",
             "| metric | value |", "|---|---|"]
    for key in REPORT_KEYS:
        if key in report:
            lines.append(f"| {key} | {report[key]:.4e} |")
    lines += ["", "| setting | value |", "|---|---|"]
    for key in ("prediction", "operators", "solver", "model", "n_params", "dense_n_params", "steps", "stop_reason",
                "wall_time_s", "train_time_s", "seed", "device"):
        if key in report:
            value = report[key]
            lines.append(f"| {key} | {value:.1f} |" if isinstance(value, float) else f"| {key} | {value} |")
    lines += ["", "Versions: " + ", ".join(f"{k} {v}" for k, v in report["versions"].items()), ""]
    return "\n".join(lines)


def write_figures(folder: Path, history: dict, line: dict | None) -> None:
    """``error_vs_step.png`` and, when given, ``line.png`` (prediction and exact along a line)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 4))
    ax.semilogy(history["step"], history["loss"], label="loss")
    if np.any(np.isfinite(history["rel_l2"])):
        ax.semilogy(history["step"], history["rel_l2"], label="relative L2 error")
    ax.set_xlabel("step")
    ax.legend()
    ax.grid(True, which="both", alpha=0.3)
    fig.tight_layout()
    atomic_write(folder / "error_vs_step.png", lambda tmp: fig.savefig(tmp, format="png", dpi=110))
    plt.close(fig)
    if line is None:
        return
    fig, ax = plt.subplots(figsize=(6, 4))
    ax.plot(line["s"], line["u_pred"], label="predicted")
    if line.get("u_exact") is not None:
        ax.plot(line["s"], line["u_exact"], "--", label="exact")
    ax.set_xlabel(line["label"])
    ax.set_ylabel("u")
    ax.legend()
    fig.tight_layout()
    atomic_write(folder / "line.png", lambda tmp: fig.savefig(tmp, format="png", dpi=110))
    plt.close(fig)


def write_run_folder(folder: Path, *, solution: xr.Dataset, history: xr.Dataset, report: dict,
                     resolved: dict, line: dict | None, history_arrays: dict) -> None:
    """Writes every output of a run into ``folder`` (which must be new or empty)."""
    atomic_write_text(folder / "config.yaml", yaml.safe_dump(resolved, sort_keys=False))
    atomic_write(folder / "solution.nc", lambda tmp: solution.to_netcdf(tmp, engine="h5netcdf"))
    atomic_write(folder / "history.nc", lambda tmp: history.to_netcdf(tmp, engine="h5netcdf"))
    atomic_write_text(folder / "report.json", json.dumps(report, indent=2) + "\n")
    atomic_write_text(folder / "report.md", report_markdown(report))
    write_figures(folder, history_arrays, line)


def new_run_folder(root: Path, problem: str, label: str, stamp: str) -> Path:
    """``root/problem/<stamp>-<label>``, with a numeric suffix if that exists: never overwrites."""
    base = root / problem / f"{stamp}-{label}"
    folder, n = base, 1
    while True:
        try:
            folder.mkdir(parents=True, exist_ok=False)
            return folder
        except FileExistsError:
            n += 1
            folder = base.with_name(f"{base.name}-{n}")
