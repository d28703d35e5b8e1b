"""The optuna study of a tune: its storage, the trial count, and the loop each worker runs.

Storage: without ``--storage``, a journal file (``study.log`` in the output folder; optuna's
``JournalFileBackend``, an append-only log under a file lock, the backend optuna recommends for
several processes on one machine, and one that a kill cannot leave half written). With
``--storage URL``, an RDB database (PostgreSQL, MySQL; ``sqlite:///`` for one machine) that
workers on several machines share; there, heartbeats mark the trials of a killed worker failed.
"""

import contextlib
import dataclasses
import functools
import warnings

import optuna
from optuna.storages.journal import JournalFileBackend
from optuna.trial import TrialState

from ..errors import ConfigError, preview
from ..problem import load_problem
from ._space import parse_space
from ._trial import TrialFailed, run_baseline, run_trial

#: A worker on a shared RDB storage records a heartbeat this often (s); a running trial without
#: one for ``GRACE_S`` is failed (its worker was killed), so that the study can go on without it.
HEARTBEAT_S = 30
GRACE_S = 120


@dataclasses.dataclass
class TuneJob:
    """What every worker needs; JSON-able, so that worker processes get it as a file."""

    problem_file: str
    params: dict  # --param overrides
    base_config: dict  # the resolved config every trial starts from (time budget included)
    space: dict  # the space file's mapping
    space_file: str
    trials: int
    storage: str | None  # an RDB URL, or None: the journal file
    journal: str  # the journal file's path
    study_name: str
    seeds: int = 1  # training runs per trial (see _trial.run_trial)
    baseline: bool = False  # worker 0 also trains base_config itself (see _trial.run_baseline)


@contextlib.contextmanager
def _experimental_ok():
    """Heartbeats are marked experimental in optuna (there since 2.9): no warning at each use."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
        yield


def open_storage(job: TuneJob) -> optuna.storages.BaseStorage:
    """The study's storage (see the module docstring)."""
    if job.storage is None:
        return optuna.storages.JournalStorage(JournalFileBackend(job.journal))
    try:
        with _experimental_ok():
            return optuna.storages.RDBStorage(job.storage, heartbeat_interval=HEARTBEAT_S, grace_period=GRACE_S)
    except Exception as err:  # sqlalchemy: bad URL, missing driver, unreachable server
        import sqlalchemy

        try:
            shown = sqlalchemy.engine.make_url(job.storage).render_as_string(hide_password=True)
        except Exception:  # not even a URL
            shown = preview(job.storage)
        raise ConfigError(
            "--storage",
            f"cannot open {shown} ({type(err).__name__}: {str(err).splitlines()[0]}); "
            "give an RDB URL, e.g. postgresql://user:password@host/db or sqlite:///study.db",
        ) from None


def counts(trial: optuna.trial.FrozenTrial) -> bool:
    """Whether a trial counts towards ``--trials``: finished (complete, pruned, or failed by its
    settings) or running; not one failed by a kill or started beyond the count."""
    if trial.state == TrialState.FAIL:
        return "error" in trial.user_attrs
    return trial.state in (TrialState.COMPLETE, TrialState.PRUNED, TrialState.RUNNING)


def fail_interrupted(study: optuna.Study) -> None:
    """Marks failed the trials left running by a killed tune (only for a storage no one else uses)."""
    for trial in study.get_trials(deepcopy=False, states=(TrialState.RUNNING,)):
        study.tell(trial.number, state=TrialState.FAIL, skip_if_finished=True)


class _Surplus(Exception):
    """A trial started by a worker after the others had started the last one that counts."""


def _objective(trial: optuna.Trial, job: TuneJob, problem, space) -> float:
    before = [t for t in trial.study.get_trials(deepcopy=False) if t.number < trial.number and counts(t)]
    if len(before) >= job.trials:
        trial.set_user_attr("surplus", True)
        raise _Surplus
    return run_trial(trial, problem, job.base_config, space, job.seeds)


def worker_study(job: TuneJob, index: int) -> optuna.Study:
    """The study, with a TPE sampler seeded by the worker's index and the trials so far (a resumed
    study draws new settings) and a median pruner over the reports of ``_trial.REPORTS``."""
    storage = open_storage(job)
    existing = storage.get_n_trials(storage.get_study_id_from_name(job.study_name))
    startup = max(2, min(10, job.trials // 3))
    sampler = optuna.samplers.TPESampler(n_startup_trials=startup, seed=1000 * index + existing)
    pruner = optuna.pruners.MedianPruner(n_startup_trials=max(2, min(5, job.trials // 4)), n_warmup_steps=3)
    return optuna.load_study(study_name=job.study_name, storage=storage, sampler=sampler, pruner=pruner)


def run_worker(job: TuneJob, index: int) -> None:
    """Runs trials until the study holds ``job.trials`` that count (see :func:`counts`); worker 0
    first runs the baseline when ``job.baseline`` and the study has none (the study's user
    attribute ``baseline``: recorded once every seed has run, so a killed one runs again)."""
    optuna.logging.set_verbosity(optuna.logging.ERROR)  # each trial prints its own line
    problem = load_problem(job.problem_file, overrides=job.params)
    space = parse_space(job.space, job.space_file, job.base_config)
    study = worker_study(job, index)
    if job.baseline and index == 0 and "baseline" not in study.user_attrs:
        study.set_user_attr("baseline", run_baseline(problem, job.base_config, job.seeds))
    objective = functools.partial(_objective, job=job, problem=problem, space=space)
    while True:
        if job.storage is not None:  # the trials of killed workers (no heartbeat) count no longer
            with _experimental_ok():
                optuna.storages.fail_stale_trials(study)
        if sum(counts(t) for t in study.get_trials(deepcopy=False)) >= job.trials:
            return
        try:
            study.optimize(objective, n_trials=1, catch=(TrialFailed,))
        except _Surplus:
            return
