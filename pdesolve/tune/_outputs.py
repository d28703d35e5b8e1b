"""What a tune writes: ``study.nc`` (one row per trial), ``study.png`` (the error against each
setting) and ``best.yaml`` (the best trial's whole config, for ``pdesolve solve --config``)."""

import dataclasses
import math
import textwrap
from pathlib import Path

import numpy as np
import optuna
import xarray as xr
import yaml
from optuna.trial import TrialState

from ..config import SolverConfig, resolve, upgrade_saved
from ..safe_write import atomic_write, atomic_write_bytes, atomic_write_text
from ._space import Dimension, SearchSpace
from ._study import counts

STATES = {TrialState.COMPLETE: "complete", TrialState.PRUNED: "pruned", TrialState.FAIL: "failed"}


def finished_trials(study: optuna.Study) -> list[optuna.trial.FrozenTrial]:
    """The trials that count and have finished, by number."""
    return sorted(
        (t for t in study.get_trials(deepcopy=False) if counts(t) and t.state in STATES), key=lambda t: t.number
    )


def trial_error(trial: optuna.trial.FrozenTrial) -> float:
    """The objective of a complete trial, the last reported error of a pruned one, else NaN."""
    if trial.state == TrialState.COMPLETE:
        assert trial.value is not None  # a complete trial has its objective
        return float(trial.value)
    if trial.state == TrialState.PRUNED and trial.intermediate_values:
        return float(trial.intermediate_values[max(trial.intermediate_values)])
    return math.nan


def best_trial(trials: list) -> optuna.trial.FrozenTrial | None:
    complete = [t for t in trials if t.state == TrialState.COMPLETE]
    return min(complete, key=lambda t: (t.value, t.number)) if complete else None


def _setting_values(dim: Dimension, trials: list) -> np.ndarray:
    values = [t.params.get(dim.path) for t in trials]
    if dim.kind == "int_range":
        return np.array([-1 if v is None else v for v in values], dtype=np.int64)
    if dim.kind != "choices" or all(isinstance(c, (int, float)) and not isinstance(c, bool) for c in dim.labels()):
        return np.array([math.nan if v is None else v for v in values], dtype=float)
    return np.array(["" if v is None else str(v) for v in values], dtype=object)


#: Per-run variables of study.nc: name -> (the trial's user attribute with one seed, with several
#: seeds (a list by seed), the fill for a run not done, dtype, attributes).
RUN_VARIABLES = {
    "test_rel_l2": (
        "test_rel_l2",
        "seed_test_rel_l2",
        math.nan,
        float,
        {"long_name": "rel L2 error on the evaluation points (complete trials)"},
    ),
    "train_time": ("train_time", "seed_train_time", math.nan, float, {"units": "s"}),
    "steps": ("steps", "seed_steps", -1, np.int64, {"long_name": "steps done (-1: unknown)"}),
    "seed_error": (None, "seed_error", math.nan, float, {"long_name": "the objective of each seed's run"}),
}


def _run_variables(trials: list, seeds: list[int]) -> dict:
    """``test_rel_l2``, ``train_time`` and ``steps`` over ``trial``; with several seeds, over
    ``trial`` and ``seed`` (filled for the seeds not run), and ``seed_error`` beside them."""
    data: dict[str, tuple] = {}
    for name, (single, per_seed, fill, dtype, attrs) in RUN_VARIABLES.items():
        if len(seeds) > 1:
            rows = [t.user_attrs.get(per_seed, []) for t in trials]
            table = np.array([row + [fill] * (len(seeds) - len(row)) for row in rows], dtype=dtype)
            data[name] = (("trial", "seed"), table.reshape(len(trials), len(seeds)), attrs)
        elif single is not None:
            data[name] = ("trial", np.array([t.user_attrs.get(single, fill) for t in trials], dtype=dtype), attrs)
    return data


def record_attributes(prefix: str, record: dict | None) -> dict:
    """A record kept in the study (the baseline of ``_trial.run_baseline``, the verification of
    ``_verify.run_verification``) as study.nc attributes ``<prefix>_*`` (lists as arrays)."""
    attrs = {}
    for key, value in (record or {}).items():
        if isinstance(value, list):
            value = np.array(value, dtype=np.int64 if key.endswith(("steps", "seeds")) else float)
        attrs[f"{prefix}_{key}"] = value
    return attrs


def study_dataset(trials: list, space: SearchSpace, attrs: dict, seeds: list[int]) -> xr.Dataset:
    """``study.nc``: over ``trial`` (the optuna trial number), each searched setting (named by its
    config path), ``error`` (the objective), ``test_rel_l2``, ``train_time``, ``steps`` (over
    ``trial`` and ``seed`` with several seeds, with each seed's error ``seed_error``), ``state``
    and ``note`` (why a trial stopped, was pruned or failed)."""
    data: dict[str, tuple] = {
        dim.path: ("trial", _setting_values(dim, trials), {"search": dim.kind}) for dim in space.dimensions
    }
    data.update(
        {
            "error": ("trial", np.array([trial_error(t) for t in trials]), {"long_name": attrs["objective"]}),
            **_run_variables(trials, seeds),
            "state": ("trial", np.array([STATES[t.state] for t in trials], dtype=object)),
            "note": (
                "trial",
                np.array(
                    [t.user_attrs.get("error", t.user_attrs.get("stop_reason", "")) for t in trials], dtype=object
                ),
            ),
        }
    )
    best = best_trial(trials)
    attrs = {**attrs, "best_trial": -1 if best is None else best.number, "trials_finished": len(trials)}
    coords = {"trial": np.array([t.number for t in trials], dtype=np.int64)}
    if len(seeds) > 1:
        coords["seed"] = np.array(seeds, dtype=np.int64)
    return xr.Dataset(data, coords=coords, attrs=attrs)


def study_figure(path: Path, ds: xr.Dataset, space: SearchSpace) -> None:
    """``study.png``: one panel per searched setting, the error of each trial against its value
    (log axes for a log range; pruned trials at their last reported error; the best starred)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    count = len(space.dimensions)
    cols = min(3, count)
    rows = math.ceil(count / cols)
    fig, axes = plt.subplots(rows, cols, figsize=(4.2 * cols, 3.4 * rows), squeeze=False)
    error = ds["error"].values
    positive = bool(np.all(error[np.isfinite(error)] > 0))
    for ax, dim in zip(axes.flat, space.dimensions):
        values = ds[dim.path].values
        if values.dtype.kind in "OSU":  # choices that are not numbers, shown by position
            labels = [str(label) for label in dim.labels()]
            ax.set_xticks(range(len(labels)), labels, rotation=20, fontsize=8)
            ax.set_xlim(-0.5, len(labels) - 0.5)
            values = np.array([labels.index(v) if v else math.nan for v in values])
        for state, style in (("complete", {"marker": "o", "color": "C0"}), ("pruned", {"marker": "x", "color": "0.5"})):
            keep = ds["state"].values == state
            ax.scatter(values[keep], error[keep], label=state, s=22, **style)
        if math.isfinite(ds.attrs.get("baseline_error", math.nan)):
            ax.axhline(ds.attrs["baseline_error"], color="C2", linestyle="--", label="baseline (no space)")
        if ds.attrs["best_trial"] >= 0:
            best = list(ds["trial"].values).index(ds.attrs["best_trial"])
            ax.scatter([values[best]], [error[best]], marker="*", s=160, color="C3", label="best", zorder=3)
        if dim.log:
            ax.set_xscale("log")
            ax.set_xlim(dim.bounds[0] / 1.25, dim.bounds[1] * 1.25)  # the whole range searched
        elif dim.bounds:
            margin = 0.04 * (dim.bounds[1] - dim.bounds[0])
            ax.set_xlim(dim.bounds[0] - margin, dim.bounds[1] + margin)
        if positive:
            ax.set_yscale("log")
        ax.set_xlabel(dim.path)
        ax.set_ylabel(textwrap.fill(ds.attrs["objective"], 32))  # several seeds: a long name
    for ax in list(axes.flat)[count:]:
        ax.set_visible(False)
    axes.flat[0].legend(fontsize=8)
    fig.suptitle(f"{ds.attrs['problem']}: {ds.attrs['trials_finished']} trials ({Path(ds.attrs['space']).name})")
    fig.tight_layout()
    atomic_write(path, lambda tmp: fig.savefig(tmp, dpi=110, format="png"))
    plt.close(fig)


def _schedule_spans_steps(solver: SolverConfig) -> bool:
    """Whether the learning rate follows a schedule over ``train.steps`` (cosine, exponential)."""
    return getattr(solver.settings, "schedule", "constant") != "constant"


def best_config(trial: optuna.trial.FrozenTrial, objective: str) -> str:
    """``best.yaml``: the whole resolved config of ``trial``, with a header saying how it replays it.

    The trial was stopped by its time budget, which a rerun on a busier or faster machine would
    reach at another step; so ``train.steps`` becomes the steps the trial did and the budget is
    unset, and the file replays the trial bit for bit on CPU (of a several-seed trial, the run at
    its first seed; the header gives every seed's error). That is not possible when the
    learning-rate schedule spans ``train.steps`` and the budget cut it short: then the trial's own
    settings are kept, and the header says so.
    """
    config = resolve(upgrade_saved(trial.user_attrs["config"]))
    steps, train = trial.user_attrs["steps"], config.train
    budget = train.time_budget
    exact = steps == train.steps or not _schedule_spans_steps(config.solver)
    if exact:
        how = (
            f"train.steps is the {steps} steps it did (time budget {budget} s per run, unset here):\n"
            "# `pdesolve solve PROBLEM --config best.yaml` replays it bit for bit on CPU"
        )
        train = dataclasses.replace(train, steps=steps, time_budget=None)
    else:
        how = (
            f"its learning-rate schedule spans train.steps = {train.steps}, which the time budget of "
            f"{budget} s cut at step {steps}:\n# a rerun stops where its own budget runs out (not bit for bit)"
        )
    config = dataclasses.replace(config, train=dataclasses.replace(train, progress=True))
    errors = trial.user_attrs.get("seed_error")  # several seeds: the file is the first one's run
    which = (
        f"by seed {', '.join(f'{e:.6e}' for e in errors)}; this file is the seed {config.seed} run"
        if errors
        else f"seed {config.seed}"
    )
    header = f"# best trial {trial.number}: {objective} {trial.value:.6e} ({which})\n# {how}\n"
    return header + yaml.safe_dump(config.to_dict(), sort_keys=False)


def write_outputs(out: Path, study: optuna.Study, space: SearchSpace, attrs: dict, seeds: list[int]) -> xr.Dataset:
    """Writes ``study.nc``, ``study.png`` and (when a trial completed) ``best.yaml`` into ``out``."""
    trials = finished_trials(study)
    attrs = {
        **attrs,
        **record_attributes("baseline", study.user_attrs.get("baseline")),
        **record_attributes("verify", study.user_attrs.get("verify")),
    }
    ds = study_dataset(trials, space, attrs, seeds)
    atomic_write_bytes(out / "study.nc", ds.to_netcdf(engine="h5netcdf"))  # in memory: HDF5 never sees a full disk
    if trials:
        study_figure(out / "study.png", ds, space)
    best = best_trial(trials)
    if best is not None:
        atomic_write_text(out / "best.yaml", best_config(best, attrs["objective"]))
    return ds
