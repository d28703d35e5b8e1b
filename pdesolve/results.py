"""Run outputs: xarray datasets, the error report, figures and the run folder.

Every file is written by ``pdesolve.safe_write`` (a temporary file in the same folder, flushed,
then renamed), so an interrupted run or a full disk never leaves a half-written output.
"""

import json
import platform
from pathlib import Path

import numpy as np
import xarray as xr
import yaml

from ._version import __version__
from .safe_write import atomic_write, atomic_write_bytes, atomic_write_text, check_free_space

REPORT_KEYS = ("mse", "rel_l2", "rel_l1", "max_abs_error")

#: What the figures and reports of a run take on the disk (checked before the final files).
FIGURES_BYTES = 4 << 20


def write_netcdf(path: Path, dataset: xr.Dataset) -> None:
    """``dataset`` as netCDF-4 at ``path``: the HDF5 library builds the file in memory, and Python
    writes it through a temporary file (``atomic_write_bytes``), so that a full disk is an ``OSError``
    (the HDF5 library crashed the process on one) and leaves no partial file."""
    atomic_write_bytes(path, dataset.to_netcdf(engine="h5netcdf"))


def solution_dataset(
    x,
    t,
    u_pred,
    u_raw,
    u_exact,
    attrs: dict,
    *,
    units: dict | None = None,
    extra_coords: dict | None = None,
    exact_name: str = "exact solution",
    exact_stderr: np.ndarray | None = None,
) -> xr.Dataset:
    """The solution on the evaluation points: x (n, d), t (n,) or None, values (n,).

    ``x`` (point, component) and ``t`` (point) are coordinates; ``units`` ({x, t, u}) become CF
    ``units`` attributes; ``extra_coords`` maps names to (n,) arrays (e.g. boundary distance).
    ``exact_name`` is the long_name of ``u_exact`` (e.g. a Monte Carlo reference, whose standard
    errors (n,) ``exact_stderr`` become ``u_exact_stderr``).
    """
    n, d = x.shape
    units = units or {}
    u_attrs = {"units": units["u"]} if "u" in units else {}
    coords = {
        "point": ("point", np.arange(n), {"long_name": "evaluation point index"}),
        "component": ("component", np.arange(1, d + 1), {"long_name": "space component index"}),
        "x": (("point", "component"), x, {"long_name": "space coordinates", **_units(units, "x")}),
    }
    if t is not None:
        coords["t"] = ("point", t, {"long_name": "time", **_units(units, "t")})
    for name, (values, meta) in (extra_coords or {}).items():
        coords[name] = ("point", values, {**meta, **_units(units, "x")})
    data = {"u_pred": ("point", u_pred, {"long_name": "predicted solution", **u_attrs})}
    if u_raw is not None:
        data["u_raw"] = ("point", u_raw, {"long_name": "raw network solution (before smoothing)", **u_attrs})
    if u_exact is not None:
        data["u_exact"] = ("point", u_exact, {"long_name": exact_name, **u_attrs})
        data["abs_error"] = ("point", np.abs(u_pred - u_exact), {"long_name": "|u_pred - u_exact|", **u_attrs})
    if exact_stderr is not None:
        data["u_exact_stderr"] = (
            "point",
            exact_stderr,
            {"long_name": f"standard error of the {exact_name}", **u_attrs},
        )
    return xr.Dataset(data, coords=coords, attrs={"Conventions": CONVENTIONS, **_netcdf_attrs(attrs)})


def line_dataset(line: dict, attrs: dict, units: dict | None = None) -> xr.Dataset:
    """``lines.nc``: the solution along the line of ``line.png``: ``line`` is {s (n,), u_pred (n,),
    u_exact (n,) or None, label (the long_name of s), t (its time) or None}; adds ``abs_error``
    with ``u_exact``."""
    units = units or {}
    u_attrs = _units(units, "u")
    data = {"u_pred": ("s", np.asarray(line["u_pred"]), {"long_name": "predicted solution", **u_attrs})}
    if line["u_exact"] is not None:
        data["u_exact"] = ("s", np.asarray(line["u_exact"]), {"long_name": "exact solution", **u_attrs})
        error = np.abs(np.asarray(line["u_pred"], np.float64) - line["u_exact"])
        data["abs_error"] = ("s", error, {"long_name": "|u_pred - u_exact|", **u_attrs})
    coords = {"s": ("s", np.asarray(line["s"]), {"long_name": line["label"]})}
    time = {} if line["t"] is None else {"t": line["t"]}
    return xr.Dataset(data, coords=coords, attrs={"Conventions": CONVENTIONS, **_netcdf_attrs({**attrs, **time})})


def _units(units: dict, key: str) -> dict:
    return {"units": units[key]} if key in units else {}


def history_dataset(history: dict[str, np.ndarray], attrs: dict) -> xr.Dataset:
    """Per logged step: loss, rel_l2, mse, wall_time, loss_evals, network_evals."""
    steps = history["step"]
    data = {
        k: ("step", np.asarray(v), HISTORY_ATTRS.get(k, {"long_name": k.replace("_", " ")}))
        for k, v in history.items()
        if k != "step"
    }
    coords = {"step": ("step", steps, {"long_name": "training step"})}
    return xr.Dataset(data, coords=coords, attrs={"Conventions": CONVENTIONS, **_netcdf_attrs(attrs)})


CONVENTIONS = "CF-1.10"
HISTORY_ATTRS = {
    "loss": {"long_name": "training loss (mean squared residual + condition terms)"},
    "rel_l2": {"long_name": "relative L2 error on the evaluation points"},
    "mse": {"long_name": "mean squared error on the evaluation points"},
    "wall_time": {"long_name": "wall time since the start of training", "units": "s"},
    "train_time": {
        "long_name": "time in batch drawing and solver steps (no compilation, logging or checkpoints)",
        "units": "s",
    },
    "loss_evals": {"long_name": "loss evaluations so far"},
    "network_evals": {"long_name": "network evaluations so far (per point)"},
}


def _netcdf_attrs(attrs: dict, prefix: str = "") -> dict:
    """netCDF attributes are numbers, strings or numeric lists: nested mappings are flattened to
    ``section_key`` names, booleans become "true"/"false", other values JSON text; None is left out."""
    out = {}
    for key, value in attrs.items():
        name = f"{prefix}{key}"
        if isinstance(value, dict):
            out.update(_netcdf_attrs(value, f"{name}_"))
        elif isinstance(value, bool):
            out[name] = "true" if value else "false"
        elif isinstance(value, (int, float, str)):
            out[name] = value
        elif (
            isinstance(value, (list, tuple))
            and value
            and all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in value)
        ):
            out[name] = np.asarray(value)
        elif value is not None:
            out[name] = json.dumps(value)
    return out


def versions() -> dict[str, str]:
    """Versions of the packages that decide the numbers."""
    import jax
    import jaxlib

    return {
        "pdesolve": __version__,
        "jax": jax.__version__,
        "jaxlib": jaxlib.__version__,
        "numpy": np.__version__,
        "python": platform.python_version(),
    }


def device_description() -> str:
    import jax

    devices = jax.devices()
    kinds = sorted({d.device_kind for d in devices})
    return f"{len(devices)} x {devices[0].platform} ({', '.join(kinds)})"


def report_markdown(report: dict, figures: list[str] | tuple = ()) -> str:
    """The report for people: a summary line, then separate tables of errors, baselines, residuals,
    breakdowns and values at points, each explained, links to the ``figures`` (file names in the run
    folder), then the settings."""
    lines = [
        f"# {report['problem']}: {report['title']}",
        "",
        f"Equation: `{report['equation']}`  ",
        f"Domain: {report['domain']}, dimension {report['dimension']}",
        "",
        summary_line(report),
        "",
        *reference_markdown(report),
    ]
    if "rel_l2" in report:
        lines += [
            "## Errors of the trained solution",
            "",
            "| metric | value |",
            "|---|---|",
            *error_rows(report),
            "",
            *ERROR_NOTES,
        ]
    lines += analysis_markdown(report)
    lines += figures_markdown(figures)
    lines += unknowns_markdown(report)
    lines += ["", "## Settings", "", "| setting | value |", "|---|---|"]
    for key in (
        "prediction",
        "operators",
        "solver",
        "model",
        "inputs",
        "n_params",
        "dense_n_params",
        "steps",
        "stop_reason",
        "wall_time_s",
        "train_time_s",
        "seed",
        "init_from",
        "device",
    ):
        if key in report:
            value = report[key]
            lines.append(f"| {key} | {value:.1f} |" if isinstance(value, float) else f"| {key} | {value} |")
    if report.get("warnings"):  # well-posedness concerns of the problem
        lines += ["", *(f"Warning: {w}  " for w in report["warnings"])]
    lines += ["", "Versions: " + ", ".join(f"{k} {v}" for k, v in report["versions"].items()), ""]
    return "\n".join(lines)


def unknowns_markdown(report: dict) -> list[str]:
    """The learned unknowns of an inverse problem (value, stated truth, relative error) and the data misfit."""
    unknowns = report.get("unknowns") or {}
    if not unknowns:
        return []
    lines = ["", "| unknown | learned | truth | rel error |", "|---|---|---|---|"]
    for name, row in unknowns.items():
        fmt = lambda v: "-" if v is None else ", ".join(f"{x:.6g}" for x in np.ravel(v))  # noqa: E731
        error = row.get("rel_error")
        lines.append(
            f"| {name} | {fmt(row['value'])} | {fmt(row.get('exact'))} | {'-' if error is None else f'{error:.3e}'} |"
        )
    data = report.get("data")
    if data:
        lines += [
            "",
            f"Data: {data['points']} observations from {data['file']}, misfit rms {data['rms_misfit']:.3e}"
            + (f" (stated noise {data['noise']:.3e})" if data.get("noise") is not None else ""),
        ]
    return lines


def summary_line(report: dict) -> str:
    """One line: the headline errors, the steps and time, and why training stopped."""
    errors = "no exact solution or reference: no errors"
    if "rel_l2" in report:
        errors = f"rel L2 {report['rel_l2']:.3e} on the evaluation points ({law_label(report)})"
        if "radius_uniform" in report:
            errors += f", {report['radius_uniform']['rel_l2']:.3e} under the radius-uniform law"
    if "steps" not in report:  # a report without a training run (tests, hand-made reports)
        return f"**Result:** {errors}."
    return (
        f"**Result:** {errors}; {report['steps']} steps in {report.get('wall_time_s', 0.0):.1f} s; "
        f"stopped: {report.get('stop_reason', 'unknown')}."
    )


ERROR_NOTES = (
    "rel_l2: ||u_pred - u_exact|| / ||u_exact|| over the points; mse: mean of (u_pred - u_exact)^2; rel_l1: "
    "sum |u_pred - u_exact| / sum |u_exact|; max_abs_error: the largest |u_pred - u_exact|. These are test errors "
    "on points never trained on; the validation error logged during training (history.nc, error_vs_step.png) is "
    "measured on other, held-out points.",
)


def figures_markdown(figures: list[str] | tuple) -> list[str]:
    """Links to the run's figures, each with what it shows; the slices and the history drawn inline."""
    if not figures:
        return []
    lines = ["", "## Figures", ""]
    lines += [f"- [{name}]({name}): {FIGURES.get(name, name)}" for name in figures]
    lines += [f"\n![{FIGURES[name]}]({name})" for name in ("error_vs_step.png", "slices.png") if name in figures]
    return lines


FIGURES = {
    "error_vs_step.png": "training loss and validation error per logged step, the final test errors marked",
    "line.png": "prediction, exact solution and error along the domain's diagonal line",
    "error_by_time.png": "mean and largest error per quarter of the time interval",
    "slices.png": "prediction, exact solution and error on a 2-d slice, one row per time",
}


def reference_markdown(report: dict) -> list[str]:
    """What the errors are measured against, with a Monte Carlo reference's standard error."""
    lines = [f"Errors against: {report['errors_against']}"] if "errors_against" in report else []
    ref = report.get("reference") or {}
    if ref.get("kind") == "monte_carlo":
        lines[-1] += "  "
        lines += [
            f"Reference: {ref['method']}, {ref['paths']} paths per point (seed {ref['seed']}), "
            f"identified equation `{ref['form']}`; standard error mean {ref['stderr_mean']:.3e}, "
            f"max {ref['stderr_max']:.3e} over the {ref['points']} points ({ref['time_s']:.1f} s)"
        ]
    return [*lines, ""] if lines else []


def error_rows(report: dict) -> list[str]:
    """The first table's error rows: the headline rel_l2 under the evaluation law, beside it the
    radius-uniform law's, the worst radius band's and the centre's error, then the other metrics."""
    if "rel_l2" not in report:
        return []
    lines = [f"| rel_l2 ({law_label(report)}) | {report['rel_l2']:.4e} |"]
    if "radius_uniform" in report:  # the best constant network's error is in the baselines' table
        worst = max(report["by_radius_band"], key=lambda r: np.nan_to_num(r.get("rel_l2", np.nan), nan=-np.inf))
        band = f"[{worst['low']:.3g}, {worst['high']:.3g}]"
        centre = max(report["centre"], key=lambda r: r["abs_error"])
        when = f" (t = {centre['t']:.3g})" if "t" in centre else ""
        uniform = report["radius_uniform"]
        lines += [
            f"| rel_l2 (radius-uniform law) | {uniform['rel_l2']:.4e} |",
            f"| rel_l2, worst radius band {band} | {worst.get('rel_l2', np.nan):.4e} |",
            f"| abs error at the centre{when} | {centre['abs_error']:.4e} |",
        ]
    lines += [f"| {key} | {report[key]:.4e} |" for key in REPORT_KEYS if key in report and key != "rel_l2"]
    if "line_max_abs_error" in report:
        lines.append(f"| max abs error on the diagonal line | {report['line_max_abs_error']:.4e} |")
    return lines


def law_label(report: dict) -> str:
    """The evaluation points' law, for people: "volume law" or "listed points"."""
    law = report.get("evaluation_law", "volume")
    return "volume law" if law == "volume" else law


def laws_markdown(report: dict) -> list[str]:
    """The sentence that says what the laws of the first table are (or why only one is there)."""
    if "radius_uniform" in report:
        top = report["by_radius_band"][-1]["high"]
        text = (
            "Laws: volume: points uniform in the domain (whole space: its normal law), which in high dimension "
            "lie near the boundary; radius-uniform: the normalised radius (0 at the centre, 1 on the boundary) "
            f"uniform in [0, {top:.3g}], the interior weighted like the boundary layer; centre: the domain's "
            "centre (scaled error: |error| / RMS of u_exact over the evaluation points)."
        )
    elif "rel_l2" in report:
        text = (
            "The radius-uniform, radius band and centre errors need an exact solution: left out (the reference "
            "is known at the evaluation points only)."
        )
    else:
        return []
    return ["", text]


def analysis_markdown(report: dict) -> list[str]:
    """Report lines for the residual, the baselines, the error breakdowns and the worst point."""
    lines = laws_markdown(report) + baselines_markdown(report) + residual_markdown(report)
    for key, title in (("by_time_slab", "time slab"), ("by_radius_band", "normalised radius (radius-uniform law)")):
        if report.get(key):
            lines += [
                "",
                f"## Errors by {title}",
                "",
                f"| {title} | points | mean abs error | max abs error | rel L2 |",
                "|---|---|---|---|---|",
            ]
            nan = float("nan")
            lines += [
                f"| [{r['low']:.3g}, {r['high']:.3g}] | {r['points']} | {r.get('mean_abs_error', nan):.3e} "
                f"| {r.get('max_abs_error', nan):.3e} | {r.get('rel_l2', nan):.3e} |"
                for r in report[key]
            ]
    lines += point_markdown(report.get("centre"), "centre") + point_markdown(report.get("at_points"), "evaluation.at")
    where = report.get("max_error_location")
    if where:
        at = f"x = ({_coordinates(where['x'])})" + (f", t = {where['t']:.3g}" if "t" in where else "")
        radius = f", normalised radius {where['radius']:.3g}" if "radius" in where else ""
        lines += ["", f"Largest error {where['abs_error']:.3e} at {at}{radius}."]
    return lines


def baselines_markdown(report: dict) -> list[str]:
    """The errors of networks that learn nothing (the exact-condition ansatz alone), beside the run's."""
    base = report.get("baselines")
    if not base:
        return []
    uniform = report.get("radius_uniform", {})
    dash = "-"
    rows = [
        ("trained network (this run)", report["rel_l2"], uniform.get("rel_l2")),
        ("zero network, u = base (`zero_rel_l2`)", base["zero_rel_l2"], None),
        (
            "best constant network, u = base + factor * c (`best_constant_rel_l2`)",
            base["best_constant_rel_l2"],
            uniform.get("best_constant_rel_l2"),
        ),
    ]
    return [
        "",
        "## Baselines: the ansatz before any learning",
        "",
        f"| network | rel_l2 ({law_label(report)}) | rel_l2 (radius-uniform law) |",
        "|---|---|---|",
        *(f"| {name} | {a:.4e} | {dash if b is None else f'{b:.4e}'} |" for name, a, b in rows),
        "",
        "The exact-condition ansatz u = base + factor * N holds the conditions whatever the network N; these rows "
        "are its errors with N = 0 and with the best constant N = c (least squares on the points: "
        f"c = {base['best_constant']:.4g}). A solver has learned only where the trained row is well below them.",
    ]


def residual_markdown(report: dict) -> list[str]:
    """The PDE residual's statistics (by autodiff), a measure that needs no exact solution."""
    keys = [k for k in ("residual_mean_abs", "residual_max_abs", "residual_rms") if k in report]
    if not keys:
        return []
    where = f"the first {report['residual_points']}" if "residual_points" in report else "the"
    return [
        "",
        "## Residual of the PDE",
        "",
        "| statistic | value |",
        "|---|---|",
        *(f"| {k} | {report[k]:.4e} |" for k in keys),
        "",
        f"The equation's residual of the {report.get('residual_of', 'network')} at {where} evaluation points "
        "(zero for an exact solution; it needs no exact solution).",
    ]


def point_markdown(rows: list[dict] | None, title: str) -> list[str]:
    """A table of the report's rows at single points (``centre``, ``at_points``)."""
    if not rows:
        return []
    lines = [
        "",
        f"## Values at the {title} points" if title != "centre" else "## Values at the centre",
        "",
        f"| {title} | t | u_pred | u_exact | abs error | scaled error |",
        "|---|---|---|---|---|---|",
    ]
    for r in rows:
        x = "centre" if r["x"] == "centre" else f"{r['point']}: ({_coordinates(r['x'])})"
        t = f"{r['t']:.3g}" if "t" in r else "-"
        lines.append(
            f"| {x} | {t} | {r['u_pred']:.6g} | {r['u_exact']:.6g} | {r['abs_error']:.3e} | {r['scaled_error']:.3e} |"
        )
    return lines


def _coordinates(x: list[float], shown: int = 6) -> str:
    """The first ``shown`` coordinates of a point, then "..." if it has more."""
    return ", ".join(f"{v:.3g}" for v in x[:shown]) + (", ..." if len(x) > shown else "")


def write_figures(
    folder: Path,
    history: dict,
    line: dict | None,
    report: dict | None = None,
    slices: xr.Dataset | None = None,
    units: dict | None = None,
) -> list[str]:
    """``error_vs_step.png``; when given, ``line.png``, ``error_by_time.png`` (from the report's
    ``by_time_slab``) and ``slices.png`` (heatmaps of ``slices``). Returns the names written."""
    from . import figures

    written = []

    def save(name, fig):
        atomic_write(folder / name, lambda tmp: fig.savefig(tmp, format="png", dpi=110))
        written.append(name)

    report, units = report or {}, units or {}
    title = report.get("problem", folder.name)
    figures.error_vs_step(save, history, title, report)
    if line is not None:
        figures.line_plot(save, line, title, units)
    if report.get("by_time_slab"):
        figures.error_by_time(save, report["by_time_slab"], title, units)
    if slices is not None:
        figures.slice_heatmaps(save, slices, title, units, report.get("precision", "float64"))
    return written


def write_run_folder(
    folder: Path,
    *,
    solution: xr.Dataset,
    history: xr.Dataset,
    report: dict,
    resolved: dict,
    line: dict | None,
    history_arrays: dict,
    slices: xr.Dataset | None = None,
    lines: xr.Dataset | None = None,
    units: dict | None = None,
) -> None:
    """Writes every output of a run into ``folder`` (which must be new or empty)."""
    given = {"solution.nc": solution, "history.nc": history, "slices.nc": slices, "lines.nc": lines}
    datasets = {name: dataset for name, dataset in given.items() if dataset is not None}
    check_free_space(folder, sum(d.nbytes for d in datasets.values()) * 1.1 + FIGURES_BYTES)  # before any file
    atomic_write_text(folder / "config.yaml", yaml.safe_dump(resolved, sort_keys=False))
    for name, dataset in datasets.items():
        write_netcdf(folder / name, dataset)
    written = write_figures(folder, history_arrays, line, report, slices, units)
    atomic_write_text(folder / "report.md", report_markdown(report, written))
    atomic_write_text(folder / "report.json", json.dumps(report, indent=2) + "\n")  # last: marks the run finished


def save_model(folder: Path, solution) -> None:
    """``model.eqx``: the trained solution's arrays (equinox ``tree_serialise_leaves``)."""
    import equinox as eqx

    atomic_write(folder / "model.eqx", lambda tmp: eqx.tree_serialise_leaves(tmp, solution))


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
