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


def error_vs_step(save: Save, history: dict, title: str, report: dict | None = None) -> None:
    """``error_vs_step.png``: training loss (top) and the validation error logged during training
    (bottom, held-out points), with the final test error on the evaluation points marked at the last
    step (from ``report``); every logged value is a marker."""
    plt = _pyplot()
    report = report or {}
    has_error = np.any(np.isfinite(history["rel_l2"]))
    fig, axes = plt.subplots(
        2 if has_error else 1,
        1,
        figsize=(6.5, 6 if has_error else 3.5),
        sharex=True,
        squeeze=False,
        layout="constrained",
    )
    ax = axes[0, 0]
    ax.semilogy(history["step"], history["loss"], "o-", ms=3, color="C0")
    ax.set_ylabel("training loss")
    stop = f" ({report['stop_reason']})" if "stop_reason" in report else ""
    ax.set_title(f"{title}: training history{stop}", fontsize=10)
    if has_error:
        ax = axes[1, 0]
        ax.semilogy(
            history["step"],
            history["rel_l2"],
            "o-",
            ms=3,
            color="C1",
            label="validation rel L2 (held-out points, logged in training)",
        )
        _mark_test_errors(ax, history, report)
        ax.set_ylabel("relative L2 error")
        ax.legend(fontsize=8, loc="best")
    axes[-1, 0].set_xlabel("step")
    axes[-1, 0].xaxis.get_major_locator().set_params(integer=True)  # steps are whole numbers
    if len(history["step"]):  # training starts at step 0, even when the first logged step is later
        axes[-1, 0].set_xlim(0, 1.03 * max(1, int(history["step"][-1])))
    for a in axes[:, 0]:
        a.grid(True, which="both", alpha=0.3)
    save("error_vs_step.png", fig)
    plt.close(fig)


def _mark_test_errors(ax, history: dict, report: dict) -> None:
    """The final test errors of ``report`` (evaluation points, radius-uniform law) at the last step."""
    if "rel_l2" not in report or not len(history["step"]):
        return
    last = history["step"][-1]
    law = "volume law" if report.get("evaluation_law", "volume") == "volume" else report["evaluation_law"]
    ax.plot(
        [last],
        [report["rel_l2"]],
        "*",
        ms=12,
        color="C3",
        label=f"final test rel L2, evaluation points ({law}): {report['rel_l2']:.2e}",
    )
    uniform = report.get("radius_uniform", {}).get("rel_l2")
    if uniform is not None:
        ax.plot([last], [uniform], "D", ms=7, color="C2", label=f"final test rel L2, radius-uniform law: {uniform:.2e}")


def line_plot(save: Save, line: dict, title: str, units: dict) -> None:
    """``line.png``: prediction and exact along a line (top), absolute error (bottom).

    ``line``: {"s" (n,), "u_pred" (n,), "u_exact" (n,) or None, "label"}."""
    plt = _pyplot()
    has_exact = line.get("u_exact") is not None
    fig, axes = plt.subplots(
        2 if has_exact else 1, 1, figsize=(6.5, 6 if has_exact else 3.5), sharex=True, squeeze=False
    )
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
    ax.set_title(f"{title}: error by time slab (evaluation points)")
    ax.legend()
    ax.grid(True, which="both", alpha=0.3)
    fig.tight_layout()
    save("error_by_time.png", fig)
    plt.close(fig)


def exact_panel(error: np.ndarray, exact: np.ndarray, precision: str) -> bool:
    """Whether an error panel is round-off only (a condition the ansatz imposes exactly): its largest
    error is within 100 machine epsilons of the run's precision times the size of u there."""
    eps = np.finfo(np.float32 if precision == "float32" else np.float64).eps
    finite = np.isfinite(error)
    if not finite.any():
        return False
    scale = max(1.0, float(np.nanmax(np.abs(exact))))
    return bool(float(np.nanmax(error)) <= 100 * eps * scale)


def fixed_text(slices: xr.Dataset, axes_names: list[str], units: dict) -> str:
    """Where the slice holds the other coordinates: "x3 = ... = x10 = 0" or "x3 = 0.25, x4 = 0.5"."""
    if "x_fixed" not in slices.coords:
        return ""
    unit = f" {units['x']}" if "x" in units else ""
    rest = [
        (int(c), float(v))
        for c, v in zip(slices["component"].values, slices["x_fixed"].values)
        if f"x{int(c)}" not in axes_names
    ]
    if not rest:
        return ""
    if len(rest) > 2 and len({v for _, v in rest}) == 1:
        return f"x{rest[0][0]} = ... = x{rest[-1][0]} = {rest[0][1]:.3g}{unit}"
    return ", ".join(f"x{c} = {v:.3g}{unit}" for c, v in rest[:6]) + (", ..." if len(rest) > 6 else "")


def slice_heatmaps(
    save: Save, slices: xr.Dataset, title: str, units: dict | None = None, precision: str = "float64"
) -> None:
    """``slices.png``: prediction, exact and absolute error on the slice grid, one row per time; one
    colour scale for u and one for the error over the whole figure; an error panel that is round-off
    only (the condition is exact there) says so instead of drawing it."""
    plt = _pyplot()
    units = units or {}
    names = [n for n in ("u_pred", "u_exact", "abs_error") if n in slices]
    axes_names = slices.attrs["slice_axes"].split()
    times = slices["t"].values if "t" in slices.dims and "t" not in axes_names else [None]
    fig, axes = plt.subplots(
        len(times),
        len(names),
        figsize=(3.6 * len(names) + 1.2, 3.2 * len(times) + 0.6),
        squeeze=False,
        layout="constrained",
    )
    panels = [[slices[n] if t is None else slices[n].isel(t=row) for n in names] for row, t in enumerate(times)]
    exact_rows = [
        "abs_error" in names and exact_panel(p[-1].values, p[names.index("u_exact")].values, precision) for p in panels
    ]
    values = np.concatenate([slices[n].values.ravel() for n in names if n != "abs_error"])
    u_scale = {"cmap": "viridis", "vmin": np.nanmin(values), "vmax": np.nanmax(values)}
    drawn = [p[-1].values for p, exact in zip(panels, exact_rows) if not exact]
    e_scale = {"cmap": "magma", "vmin": 0.0, "vmax": max([float(np.nanmax(v)) for v in drawn], default=1.0) or 1.0}
    u_image = e_image = None
    for row, time in enumerate(times):
        when = "" if time is None else f", t = {time:.3g}{' ' + units['t'] if 't' in units else ''}"
        for col, name in enumerate(names):
            ax, da = axes[row, col], panels[row][col]
            if name == "abs_error" and exact_rows[row]:
                _exact_note(ax, da, when)
                continue
            image = _draw(ax, da, axes_names, e_scale if name == "abs_error" else u_scale)
            u_image, e_image = (u_image, image) if name == "abs_error" else (image, e_image)
            ax.set_title(_PANEL_TITLES.get(name, name) + when, fontsize=9)
        _axis_labels(axes, row, axes_names, units)
    _colour_bars(fig, axes, names, u_image, e_image, units)
    fixed = fixed_text(slices, axes_names, units)
    fig.suptitle(f"{title}: slice over ({', '.join(axes_names)})" + (f"; {fixed}" if fixed else ""), fontsize=10)
    save("slices.png", fig)
    plt.close(fig)


_PANEL_TITLES = {"u_pred": "predicted u", "u_exact": "exact u", "abs_error": "|u_pred - u_exact|"}


def _draw(ax, da: xr.DataArray, axes_names: list[str], scale: dict):
    """One heatmap of ``da`` (dims ordered as ``axes_names``): first axis horizontal, second vertical."""
    first, second = (da[a].values for a in axes_names)
    image = ax.pcolormesh(first, second, da.transpose(*axes_names).values.T, shading="nearest", **scale)
    if "t" not in axes_names:
        ax.set_aspect("equal")
    return image


def _exact_note(ax, da: xr.DataArray, when: str) -> None:
    """An error panel left blank: the condition is exact there; its largest difference is round-off."""
    ax.set_title(f"|u_pred - u_exact|{when}", fontsize=9)
    largest = float(np.nanmax(da.values))
    difference = "no difference" if largest == 0 else f"max |difference| {largest:.1e}\n(round-off)"
    ax.text(
        0.5,
        0.5,
        f"exact by construction\n(condition imposed by the ansatz)\n{difference}",
        ha="center",
        va="center",
        fontsize=9,
        transform=ax.transAxes,
    )
    ax.set_xticks([])
    ax.set_yticks([])


def _axis_labels(axes, row: int, axes_names: list[str], units: dict) -> None:
    """Axis names on the left column and the bottom row only (units in brackets)."""
    n_rows = axes.shape[0]
    for col in range(axes.shape[1]):
        ax = axes[row, col]
        if row == n_rows - 1 and ax.get_xticks().size:
            ax.set_xlabel(_label(axes_names[0], units, "t" if axes_names[0] == "t" else "x"))
        if col == 0:
            ax.set_ylabel(_label(axes_names[1], units, "t" if axes_names[1] == "t" else "x"))


def _colour_bars(fig, axes, names: list[str], u_image, e_image, units: dict) -> None:
    """One colour bar for u (prediction and exact) and one for the error, each beside its columns."""
    if u_image is not None:
        columns = [axes[r, c] for r in range(axes.shape[0]) for c, n in enumerate(names) if n != "abs_error"]
        fig.colorbar(u_image, ax=columns, shrink=0.8, label=_label("u", units, "u"))
    if e_image is not None:
        column = [axes[r, names.index("abs_error")] for r in range(axes.shape[0])]
        fig.colorbar(e_image, ax=column, shrink=0.8, label=_label("|u_pred - u_exact|", units, "u"))
