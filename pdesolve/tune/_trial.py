"""One trial: solves with the trial's settings at the per-trial time budget, once per seed, its
validation error reported to optuna as the first seed's run goes, so that hopeless trials are
pruned before the other seeds run. The objective over several seeds is their geometric mean."""

import dataclasses
import math
import time
from collections.abc import Iterator

import optuna

from ..config import RunConfig, TrainConfig, resolve
from ..errors import PdesolveError
from ..problem import Problem
from ..run import StopReason, solve
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


def objective_text(problem: Problem, seed: int, seeds: int) -> str:
    """:func:`objective_name`, and over several seeds the aggregation (study.nc's ``objective``)."""
    name = objective_name(problem)
    return name if seeds == 1 else f"geometric mean over seeds {seed} to {seed + seeds - 1} of {name}"


def objective_of(run, problem: Problem) -> float:
    """The value of :func:`objective_name` for a finished run (NaN if it has none)."""
    if problem.exact is not None:
        return float(run.history["rel_l2"].values[-1]) if run.history.sizes.get("step") else math.nan
    if problem.reference is not None:
        return float(run.report.get("rel_l2", math.nan))
    return float(run.history["loss"].values[-1]) if run.history.sizes.get("step") else math.nan


def geometric_mean(errors: list[float]) -> float:
    """exp(mean(log e)), the objective over seeds (errors span decades, so a mean of logs). One
    error is returned as it is: exp(log e) may differ from e in the last bit."""
    if len(errors) == 1:
        return errors[0]
    if min(errors) == 0:
        return 0.0
    return math.exp(math.fsum(math.log(e) for e in errors) / len(errors))


@dataclasses.dataclass(frozen=True)
class SeedRun:
    """One training run of a trial (or of the baseline) at one seed."""

    seed: int
    error: float  # objective_of the run
    test_rel_l2: float  # on the evaluation points (NaN without a reference)
    train_time: float  # the budget's clock (s)
    steps: int
    stop_reason: str


#: The per-seed records of a several-seed trial: user attribute ``seed_<name>`` (a list by seed).
SEED_FIELDS = ("error", "test_rel_l2", "train_time", "steps")


def seed_runs(problem: Problem, config: RunConfig, seeds: int, on_log=None) -> Iterator[SeedRun]:
    """Solves with ``config`` at seeds ``config.seed``, ..., ``config.seed + seeds - 1`` in turn,
    each to the full time budget; ``on_log`` (the pruning reporter) watches the first run only."""
    for index in range(seeds):
        seed = config.seed + index
        run = solve(problem, {**config.to_dict(), "seed": seed}, on_log=on_log if index == 0 else None)
        yield SeedRun(
            seed,
            objective_of(run, problem),
            float(run.report.get("rel_l2", math.nan)),
            float(run.history["train_time"].values[-1]),
            int(run.report["steps"]),
            run.report["stop_reason"],
        )


def check_run(run: SeedRun, seeds: int) -> None:
    """Raises TrialFailed when ``run`` diverged or its error is not finite."""
    where = f"seed {run.seed}: " if seeds > 1 else ""
    if StopReason.of(run.stop_reason) is StopReason.DIVERGED:
        raise TrialFailed(where + run.stop_reason)
    if not math.isfinite(run.error):
        raise TrialFailed(f"{where}the error is {run.error}")


def failure_message(err: Exception) -> str:
    return str(err) if isinstance(err, (PdesolveError, TrialFailed)) else f"{type(err).__name__}: {err}"


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
    return " ".join(
        f"{p}={v:.3g}" if isinstance(v, float) else f"{p}={v}" for p, v in settings.items() if p in searched
    )


def _record(trial: optuna.Trial, runs: list[SeedRun], seeds: int) -> None:
    """User attributes: the first run's steps, train_time, test_rel_l2 and stop_reason (the run
    ``best.yaml`` replays); with several seeds also ``seed_<field>`` lists of the runs so far."""
    first = runs[0]
    if len(runs) == 1:
        trial.set_user_attr("steps", first.steps)
        trial.set_user_attr("train_time", first.train_time)
        trial.set_user_attr("test_rel_l2", first.test_rel_l2)
        trial.set_user_attr("stop_reason", first.stop_reason)
    if seeds > 1:
        for name in SEED_FIELDS:
            trial.set_user_attr(f"seed_{name}", [getattr(run, name) for run in runs])


def run_trial(trial: optuna.Trial, problem: Problem, base_config: dict, space: SearchSpace, seeds: int = 1) -> float:
    """Solves ``problem`` with the trial's settings over ``base_config`` at ``seeds`` seeds (see
    :func:`seed_runs`); records the runs in the trial's user attributes (config, see
    :func:`_record`, error) and prints one line. Returns the geometric mean of the runs' errors;
    raises TrialFailed or optuna.TrialPruned."""
    settings = space.suggest(trial)
    started, runs = time.perf_counter(), []
    try:
        config = resolve(base_config, nested(settings))  # the validation of --set
        trial.set_user_attr("config", config.to_dict())
        reporter = _PruningReporter(trial, config.train)
        for run in seed_runs(problem, config, seeds, on_log=reporter):
            runs.append(run)
            _record(trial, runs, seeds)
            check_run(run, seeds)
    except optuna.TrialPruned as err:
        trial.set_user_attr("stop_reason", str(err))
        _print(trial, "pruned", settings, space, started, f"error {reporter.last:.3e} ({err})")
        raise
    except Exception as err:  # a failing setting ends its trial, not the study; study.nc says why
        trial.set_user_attr("error", failure_message(err))
        _print(trial, "failed", settings, space, started, f"({failure_message(err)})")
        raise TrialFailed(failure_message(err)) from None
    value = geometric_mean([run.error for run in runs])
    _print(trial, "complete", settings, space, started, f"error {value:.3e} ({_runs_text(runs)})")
    return value


def _runs_text(runs: list[SeedRun]) -> str:
    if len(runs) == 1:
        return f"{runs[0].steps} steps"
    return "by seed " + ", ".join(f"{run.error:.3e} in {run.steps} steps" for run in runs)


def run_baseline(problem: Problem, base_config: dict, seeds: int) -> dict:
    """Solves with ``base_config`` itself (no space applied) at the trials' seeds and budget: what
    the untuned settings give. Returns the record kept in the study (``error`` the geometric mean,
    NaN on failure; ``seed_<field>`` lists of the runs done; ``note`` why it failed) and prints one line."""
    started, runs, note = time.perf_counter(), [], ""
    config = resolve(base_config)
    try:
        for run in seed_runs(problem, config, seeds):
            runs.append(run)
            check_run(run, seeds)
    except Exception as err:  # recorded, as for a trial: the study goes on
        note = failure_message(err)
    error = math.nan if note else geometric_mean([run.error for run in runs])
    result = f"({note})" if note else f"error {error:.3e} ({_runs_text(runs)})"
    print(
        f"baseline  {'failed' if note else 'complete':8s} {result}  {time.perf_counter() - started:5.1f} s  "
        "(the config without the space)",
        flush=True,
    )
    return {
        "error": error,
        "note": note,
        **{f"seed_{name}": [getattr(run, name) for run in runs] for name in SEED_FIELDS},
    }


def _print(trial, state: str, settings: dict, space: SearchSpace, started: float, result: str) -> None:
    print(
        f"trial {trial.number:3d} {state:8s} {result}  {time.perf_counter() - started:5.1f} s  "
        f"{_settings_text(settings, space)}",
        flush=True,
    )
