"""Figures and reports a scientist can trust at a glance (issue 38): round-off panels are named as
such, the slice title says where the other coordinates are held, one error scale per figure, and
report.md keeps errors, baselines and residuals apart, with the stop reason and the figures."""

import numpy as np
import xarray as xr

from pdesolve import figures
from pdesolve.results import report_markdown, write_figures

REPORT = {
    "problem": "toy",
    "title": "a toy",
    "equation": "u_t = lap_u",
    "domain": "ball",
    "dimension": 4,
    "rel_l2": 1.5e-3,
    "mse": 2e-7,
    "rel_l1": 1e-3,
    "max_abs_error": 4e-3,
    "evaluation_law": "volume",
    "errors_against": "exact solution",
    "steps": 40,
    "wall_time_s": 12.5,
    "stop_reason": "time budget 10 s reached",
    "baselines": {"zero_rel_l2": 0.5, "best_constant": -0.59, "best_constant_rel_l2": 0.17},
    "residual_mean_abs": 0.2,
    "residual_max_abs": 1.1,
    "residual_rms": 0.3,
    "residual_points": 512,
    "residual_of": "network (by autodiff)",
    "versions": {"pdesolve": "0"},
    "seed": 0,
    "precision": "float64",
}


def test_exact_panels_are_round_off_of_the_runs_precision():
    u = np.full((5, 5), 3.0)
    assert figures.exact_panel(np.full((5, 5), 2e-16), u, "float64")
    assert not figures.exact_panel(np.full((5, 5), 1e-9), u, "float64")  # a small but real error is drawn
    assert figures.exact_panel(np.full((5, 5), 3e-7), u, "float32")  # float32 round-off of u ~ 3
    assert not figures.exact_panel(np.full((5, 5), np.nan), u, "float64")  # outside a ball: nothing to say


def _slices(errors: list[float]) -> xr.Dataset:
    """A (t, x1, x2) slice of a 4-d problem at x3 = x4 = 0.25 with constant errors per time."""
    grid, times = np.linspace(0, 1, 6), np.array([0.0, 0.5, 1.0])
    u = np.sin(grid[None, :, None] + grid[None, None, :]) + times[:, None, None]
    error = np.broadcast_to(np.asarray(errors)[:, None, None], u.shape).copy()
    error[:, 2, 3] *= 2  # not flat
    dims = ("t", "x1", "x2")
    return xr.Dataset(
        {"u_pred": (dims, u + error), "u_exact": (dims, u), "abs_error": (dims, error)},
        coords={
            "t": times,
            "x1": grid,
            "x2": grid,
            "component": [1, 2, 3, 4],
            "x_fixed": ("component", [0.0, 0.0, 0.25, 0.25]),
        },
        attrs={"slice_axes": "x1 x2"},
    )


def test_the_slice_title_names_the_fixed_coordinates():
    ds = _slices([1e-3, 2e-3, 1e-17])
    assert figures.fixed_text(ds, ["x1", "x2"], {}) == "x3 = 0.25, x4 = 0.25"
    assert figures.fixed_text(ds, ["x1", "x2"], {"x": "m"}) == "x3 = 0.25 m, x4 = 0.25 m"
    ten = ds.assign_coords(component=np.arange(1, 5), x_fixed=("component", np.zeros(4)))
    ten = ten.reindex(component=np.arange(1, 11), fill_value=0.0)
    assert figures.fixed_text(ten, ["x1", "x2"], {}) == "x3 = ... = x10 = 0"


def test_slices_png_has_one_error_scale_and_names_the_exact_row(tmp_path, monkeypatch):
    saved = {}
    figures.slice_heatmaps(
        lambda name, fig: saved.setdefault(name, fig), _slices([1e-3, 2e-3, 1e-17]), "toy", {"t": "s"}, "float64"
    )
    fig = saved["slices.png"]
    texts = [t.get_text() for ax in fig.axes for t in ax.texts]
    assert any("exact by construction" in t and "2.0e-17" in t for t in texts)  # its largest difference
    titles = [ax.get_title() for ax in fig.axes]
    assert "|u_pred - u_exact|, t = 0.5 s" in titles and "predicted u, t = 1 s" in titles
    assert "x3 = 0.25, x4 = 0.25" in fig._suptitle.get_text()
    panels = [ax for ax in fig.axes if ax.get_label() != "<colorbar>"]
    errors = [im for ax in panels for im in ax.collections if im.get_cmap().name == "magma"]
    assert len(errors) == 2 and {im.get_clim() for im in errors} == {(0.0, 4e-3)}  # shared; the largest error
    colour_bars = [ax for ax in fig.axes if ax.get_label() == "<colorbar>"]
    assert len(colour_bars) == 2  # one for u, one for the error


def test_error_vs_step_marks_validation_and_final_test_errors():
    saved = {}
    history = {"step": np.array([10, 20]), "loss": np.array([1.0, 0.1]), "rel_l2": np.array([1e-2, 2e-3])}
    figures.error_vs_step(
        lambda name, fig: saved.setdefault(name, fig), history, "toy", {**REPORT, "radius_uniform": {"rel_l2": 3e-3}}
    )
    ax = saved["error_vs_step.png"].axes[1]
    labels = [line.get_label() for line in ax.get_lines()]
    assert labels[0].startswith("validation rel L2 (held-out points")
    assert ax.get_lines()[0].get_marker() == "o"  # two logged points are two markers
    assert "final test rel L2, evaluation points (volume law): 1.50e-03" in labels
    assert ax.get_lines()[1].get_xydata().tolist() == [[20.0, 1.5e-3]]
    assert "time budget 10 s reached" in saved["error_vs_step.png"].axes[0].get_title()


def test_report_keeps_errors_baselines_and_residuals_apart(tmp_path):
    history = {"step": np.array([10, 20]), "loss": np.array([1.0, 0.1]), "rel_l2": np.array([1e-2, 2e-3])}
    written = write_figures(tmp_path, history, None, REPORT)
    text = report_markdown(REPORT, written)
    assert "stopped: time budget 10 s reached." in text.splitlines()[5]  # the summary line, under the heading
    errors = text[text.index("## Errors of the trained solution") : text.index("## Baselines")]
    assert "| rel_l2 (volume law) | 1.5000e-03 |" in errors and "baseline" not in errors and "residual" not in errors
    baselines = text[text.index("## Baselines") : text.index("## Residual")]
    assert "| zero network, u = base (`zero_rel_l2`) | 5.0000e-01 | - |" in baselines
    assert "c = -0.59" in baselines  # the constant is a value, said in words, not a row of errors
    assert "| residual_rms | 3.0000e-01 |" in text[text.index("## Residual") :]
    assert written == ["error_vs_step.png"] and "[error_vs_step.png](error_vs_step.png)" in text
    assert (tmp_path / "error_vs_step.png").is_file()
