"""One trial: a solve with the trial's settings at the per-trial time budget, its validation error
reported to optuna as training goes, so that hopeless trials are pruned."""

import math
import time

import optuna

from ..config import TrainConfig, resolve
from ..errors import PdesolveError
from ..problem import Problem
from ..solve import solve
from ._space import SearchSpace, nested

#: Intermediate errors are reported at each tenth of a trial's budget (training time or steps,
#: whichever runs out first): trials are compared at equal training time, whatever a step costs.
REPORTS = 10


class TrialFailed(Exception):
    """A trial whose settings fail (refused combination, divergence, non-finite error)."""


def objective_name(problem: Problem) -> str:
    """What a trial minimises: the validation rel L2 (an exact solution), the rel L2 against a
    ``reference:`` on the evaluation points, or the final training loss (neither)."""
    if problem.exact is not None:
        return "validation rel_l2"
    return "rel_l2 against the reference" if problem.reference is not None else "final training loss"


def objective_of(run, problem: Problem) -> float:
    """The value of :func:`objective_name` for a finished run (NaN if it has none)."""
    if problem.exact is not None:
        return float(run.history["rel_l2"].values[-1]) if run.history.sizes.get("step") else math.nan
    if problem.reference is not None:
        return float(run.report.get("rel_l2", math.nan))
    return float(run.history["loss"].values[-1]) if run.history.sizes.get("step") else math.nan


class _PruningReporter:
    """``on_log`` callback: reports the error at each tenth of the budget, raises TrialPruned."""

    def __init__(self, trial: optuna.Trial, train: TrainConfig):
        self.trial, self.budget, self.steps = trial, train.time_budget, train.steps
        self.reported, self.last = 0, math.nan  # the last tenth reported, and its value

    def __call__(self, row: dict) -> None:
        progress = row["step"] / self.steps
        if self.budget is not None:
            progress = max(progress, row["train_time"] / self.budget)
        tenth = min(REPORTS, math.floor(progress * REPORTS + 1e-9))
        value = row["rel_l2"] if math.isfinite(row["rel_l2"]) else row["loss"]
        if tenth <= self.reported or not math.isfinite(value):
            return
        for step in range(self.reported + 1, tenth + 1):
            self.trial.report(value, step)
        self.reported, self.last = tenth, value
        if tenth < REPORTS and self.trial.should_prune():
            raise optuna.TrialPruned(f"pruned at {tenth}/{REPORTS} of the budget")


def _settings_text(settings: dict, space: SearchSpace) -> str:
    searched = {d.path for d in space.dimensions}
    return " ".join(f"{p}={v:.3g}" if isinstance(v, float) else f"{p}={v}"
                    for p, v in settings.items() if p in searched)


def run_trial(trial: optuna.Trial, problem: Problem, base_config: dict, space: SearchSpace) -> float:
    """Solves ``problem`` with the trial's settings over ``base_config``; records the run in the
    trial's user attributes (config, steps, train_time, test_rel_l2, stop_reason, error) and
    prints one line. Raises TrialFailed or optuna.TrialPruned."""
    settings = space.suggest(trial)
    started = time.perf_counter()
    try:
        config = resolve(base_config, nested(settings))  # the validation of --set
        trial.set_user_attr("config", config.to_dict())
        reporter = _PruningReporter(trial, config.train)
        run = solve(problem, config.to_dict(), on_log=reporter)
        value = objective_of(run, problem)
        trial.set_user_attr("steps", int(run.report["steps"]))
        trial.set_user_attr("train_time", float(run.history["train_time"].values[-1]))  # the budget's clock
        trial.set_user_attr("test_rel_l2", float(run.report.get("rel_l2", math.nan)))
        trial.set_user_attr("stop_reason", run.report["stop_reason"])
        if run.report["stop_reason"].startswith("diverged"):
            raise TrialFailed(run.report["stop_reason"])
        if not math.isfinite(value):
            raise TrialFailed(f"the error is {value}")
    except optuna.TrialPruned as err:
        trial.set_user_attr("stop_reason", str(err))
        _print(trial, "pruned", settings, space, started, f"error {reporter.last:.3e} ({err})")
        raise
    except Exception as err:  # a failing setting ends its trial, not the study; study.nc says why
        message = str(err) if isinstance(err, (PdesolveError, TrialFailed)) else f"{type(err).__name__}: {err}"
        trial.set_user_attr("error", message)
        _print(trial, "failed", settings, space, started, f"({message})")
        raise TrialFailed(message) from None
    _print(trial, "complete", settings, space, started, f"error {value:.3e} ({run.report['steps']} steps)")
    return value


def _print(trial, state: str, settings: dict, space: SearchSpace, started: float, result: str) -> None:
    print(f"trial {trial.number:3d} {state:8s} {result}  {time.perf_counter() - started:5.1f} s  "
          f"{_settings_text(settings, space)}", flush=True)
