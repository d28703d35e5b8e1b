"""Figures of a run: history, a line through the domain, error by time slab, slice heatmaps.

Each function takes plain arrays or datasets and a ``save(name, fig)`` callback (the run folder
writes atomically), so the figures know nothing of files.
"""

from collections.abc import Callable

import numpy as np
import xarray as xr

Save = Callable[[str, object], None]


def _pyplot():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _label(name: str, units: dict, key: str) -> str:
    return f"{name} [{units[key]}]" if key in units else name


def error_vs_step(save: Save, history: dict, title: str) -> None:
    """``error_vs_step.png``: training loss (top) and error on the evaluation points (bottom)."""
    plt = _pyplot()
    has_error = np.any(np.isfinite(history["rel_l2"]))
    fig, axes = plt.subplots(2 if has_error else 1, 1, figsize=(6.5, 6 if has_error else 3.5), sharex=True,
                             squeeze=False)
    ax = axes[0, 0]
    ax.semilogy(history["step"], history["loss"], color="C0")
    ax.set_ylabel("training loss")
    ax.set_title(f"{title}: training history")
    if has_error:
        ax = axes[1, 0]
        ax.semilogy(history["step"], history["rel_l2"], color="C1")
        ax.set_ylabel("relative L2 error")
    ax.set_xlabel("step")
    for a in axes[:, 0]:
        a.grid(True, which="both", alpha=0.3)
    fig.tight_layout()
    save("error_vs_step.png", fig)
    plt.close(fig)


def line_plot(save: Save, line: dict, title: str, units: dict) -> None:
    """``line.png``: prediction and exact along a line (top), absolute error (bottom).

    ``line``: {"s" (n,), "u_pred" (n,), "u_exact" (n,) or None, "label"}."""
    plt = _pyplot()
    has_exact = line.get("u_exact") is not None
    fig, axes = plt.subplots(2 if has_exact else 1, 1, figsize=(6.5, 6 if has_exact else 3.5), sharex=True,
                             squeeze=False)
    ax = axes[0, 0]
    ax.plot(line["s"], line["u_pred"], label="predicted")
    if has_exact:
        ax.plot(line["s"], line["u_exact"], "--", label="exact")
        ax.legend()
        axes[1, 0].plot(line["s"], np.abs(np.asarray(line["u_pred"]) - line["u_exact"]), color="C3")
        axes[1, 0].set_ylabel(_label("|u_pred - u_exact|", units, "u"))
    ax.set_ylabel(_label("u", units, "u"))
    ax.set_title(f"{title}: solution along a line")
    axes[-1, 0].set_xlabel(line["label"])  # a line parameter (a fraction of a box's diagonal): no units
    for a in axes[:, 0]:
        a.grid(True, alpha=0.3)
    fig.tight_layout()
    save("line.png", fig)
    plt.close(fig)


def error_by_time(save: Save, slabs: list[dict], title: str, units: dict) -> None:
    """``error_by_time.png``: mean and max absolute error per time slab (report ``by_time_slab``)."""
    plt = _pyplot()
    low = np.array([s["low"] for s in slabs])
    high = np.array([s["high"] for s in slabs])
    mean = np.array([s.get("mean_abs_error", np.nan) for s in slabs])
    peak = np.array([s.get("max_abs_error", np.nan) for s in slabs])
    fig, ax = plt.subplots(figsize=(6.5, 3.8))
    ax.bar(low, mean, width=high - low, align="edge", alpha=0.7, label="mean |error|", edgecolor="k")
    ax.step(np.append(low, high[-1]), np.append(peak, peak[-1]), where="post", color="C3", label="max |error|")
    ax.set_yscale("log")
    ax.set_xlabel(_label("t", units, "t"))
    ax.set_ylabel(_label("absolute error", units, "u"))
    ax.set_title(f"{title}: error by time slab")
    ax.legend()
    ax.grid(True, which="both", alpha=0.3)
    fig.tight_layout()
    save("error_by_time.png", fig)
    plt.close(fig)


def slice_heatmaps(save: Save, slices: xr.Dataset, title: str) -> None:
    """``slices.png``: prediction, exact and absolute error on the slice grid, one row per time."""
    plt = _pyplot()
    names = [n for n in ("u_pred", "u_exact", "abs_error") if n in slices]
    axes_names = slices.attrs["slice_axes"].split()
    times = slices["t"].values if "t" in slices.dims and "t" not in axes_names else [None]
    fig, axes = plt.subplots(len(times), len(names), figsize=(4.2 * len(names), 3.6 * len(times)), squeeze=False)
    values = np.concatenate([slices[n].values.ravel() for n in names if n != "abs_error"])
    shared = {"vmin": np.nanmin(values), "vmax": np.nanmax(values)}  # prediction and exact on one scale
    for row, time in enumerate(times):
        for col, name in enumerate(names):
            da = slices[name] if time is None else slices[name].isel(t=row)
            scale = {"cmap": "magma", "vmin": 0.0} if name == "abs_error" else {"cmap": "viridis", **shared}
            da.plot(ax=axes[row, col], x=axes_names[0], y=axes_names[1], center=False, **scale)
            axes[row, col].set_title(da.attrs.get("long_name", name) + ("" if time is None else f", t = {time:.3g}"))
    fig.suptitle(f"{title}: slice over {slices.attrs['slice_axes'].replace(' ', ', ')}")
    fig.tight_layout()
    save("slices.png", fig)
    plt.close(fig)
