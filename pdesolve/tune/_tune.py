"""``tune(problem, space, trials)``: a search over config settings by optuna's TPE sampler with
median pruning, in K worker processes sharing one study, resumable in its output folder; each
trial one solve per seed (``seeds``), beside an optional baseline without the space."""

import contextlib
import dataclasses
import fcntl
import hashlib
import json
import math
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import optuna
import xarray as xr

from ..config import load_config_file, resolve_config
from ..errors import ConfigError
from ..problem import Problem, load_problem
from ..run import resolve_run
from ._outputs import best_trial, finished_trials, write_outputs
from ._space import SpaceError, load_space
from ._study import TuneJob, fail_interrupted, open_storage, run_worker
from ._trial import objective_text
from ._verify import run_verification, verify_seeds

#: Seconds of training per trial when neither ``--budget`` nor the config sets ``train.time_budget``.
DEFAULT_BUDGET_S = 20.0


@dataclasses.dataclass
class TuneResult:
    """A finished tune: the study's rows (``study.nc``) and the output folder."""

    study: xr.Dataset
    path: Path

    @property
    def best_trial(self) -> int | None:
        best = int(self.study.attrs["best_trial"])
        return None if best < 0 else best


def worker_environment(workers: int) -> dict:
    """The environment of a worker process: with several, no GPU memory preallocation (the
    workers share the device); CPU threads are left as they are.

    Pinning threads (CPU affinity, ``OPENBLAS_NUM_THREADS``) changes the floating-point results,
    because XLA and LAPACK size their reductions by the thread count, so a trial would no longer
    replay bit for bit in ``pdesolve solve --config best.yaml``.
    """
    env = dict(os.environ)
    if workers > 1:
        env["XLA_PYTHON_CLIENT_PREALLOCATE"] = "false"
    return env


@contextlib.contextmanager
def _folder_lock(out: Path):
    """Holds ``out/tune.lock`` so that two tunes never run on one output folder at once."""
    with open(out / "tune.lock", "w") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise ConfigError(
                "--out", f"another pdesolve tune is running on {out}; wait for it or choose another --out"
            ) from None
        yield


def _run_workers(job: TuneJob, out: Path, workers: int) -> None:
    """Runs ``workers`` worker loops: in this process for one, else as processes of their own."""
    if workers == 1:
        run_worker(job, 0)
        return
    spec = out / "job.json"
    spec.write_text(json.dumps(dataclasses.asdict(job)))
    env = worker_environment(workers)
    procs = [
        subprocess.Popen([sys.executable, "-m", "pdesolve.tune._worker", str(spec), str(i)], env=env)
        for i in range(workers)
    ]
    try:
        codes = [p.wait() for p in procs]
    finally:
        for proc in procs:  # an interrupted tune stops its workers (their trials are failed on resume)
            if proc.poll() is None:
                proc.terminate()
                proc.wait()
    if any(codes):
        raise RuntimeError(f"a worker process failed (exit codes {codes}); its message is above")


def _open_study(job: TuneJob, fingerprint: str) -> optuna.Study:
    """Creates the study, or opens it to continue when it was made with the same settings. An
    output folder's journal holds one study; a shared RDB storage one per problem and space."""
    storage = open_storage(job)
    where = "--storage" if job.storage else "--out"
    names = optuna.get_all_study_names(storage)
    if job.storage is None and set(names) - {job.study_name}:
        raise ConfigError(where, f"holds the study {names[0]!r} of another problem or space; choose a new folder")
    study = optuna.create_study(study_name=job.study_name, storage=storage, direction="minimize", load_if_exists=True)
    known = study.user_attrs.get("fingerprint")
    if known is None:
        study.set_user_attr("fingerprint", fingerprint)
    elif known != fingerprint:
        raise ConfigError(
            where,
            f"holds the study {job.study_name!r} made with another problem, config, budget, "
            "space or --seeds; choose a new folder (or storage), or repeat the command that made it",
        )
    return study


def _verify(study: optuna.Study, job: TuneJob, count: int) -> None:
    """Runs ``--verify`` (see ``_verify``) unless the study holds a verification of its current
    best trial at the same seeds; stores it as the study's user attribute ``verify``."""
    best = best_trial(finished_trials(study))
    if not count or best is None:
        return
    seeds = verify_seeds(job.base_config, job.seeds, count)
    known = study.user_attrs.get("verify")
    if known and known["best_trial"] == best.number and known["seeds"] == seeds:
        return
    problem = load_problem(job.problem_file, overrides=job.params)
    study.set_user_attr(
        "verify", run_verification(problem, best.user_attrs["config"], job.base_config, seeds, best.number)
    )


def _check_options(trials, workers: int, budget: float | None, seeds: int, verify: int) -> None:
    if not (isinstance(trials, int) and trials >= 1):
        raise ConfigError("--trials", f"must be an integer >= 1, got {trials!r}")
    if not (isinstance(workers, int) and 1 <= workers <= 256):
        raise ConfigError("--workers", f"must be an integer from 1 to 256, got {workers!r}")
    if budget is not None and not (math.isfinite(budget) and budget > 0):
        raise ConfigError("--budget", f"must be a number of seconds > 0, got {budget!r}")
    if not (isinstance(seeds, int) and seeds >= 1):
        raise ConfigError(
            "--seeds",
            f"must be an integer >= 1 (training runs per trial), got {seeds!r}; "
            "e.g. --seeds 3, or leave it out for one",
        )
    if not (isinstance(verify, int) and verify >= 0):
        raise ConfigError(
            "--verify", f"must be an integer >= 0 (runs per config after the study), got {verify!r}; e.g. --verify 4"
        )


def _out_folder(out: str | Path | None, problem_name: str, space: str | Path) -> Path:
    """The tune's folder, made: ``out``, default ``outputs/<problem>/tune-<space>``."""
    folder = Path(out) if out is not None else Path("outputs") / problem_name / f"tune-{Path(space).stem}"
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        raise ConfigError(
            "--out", f"cannot create {folder}: {err.strerror or err}; choose a folder you can write to"
        ) from None
    return folder


def _fingerprint(settings: dict, seeds: int) -> str:
    """The hash of what a study's trials depend on; one seed keeps the fingerprint of the studies made before
    ``--seeds``."""
    if seeds > 1:
        settings = settings | {"seeds": seeds}
    return hashlib.sha256(json.dumps(settings, sort_keys=True, default=str).encode()).hexdigest()


def _check_seeds_outside(space: dict, space_file: str | Path, seeds: int, baseline: bool) -> None:
    """Several seeds and the baseline train at the config's seed, seed+1, ...: the space may not set it."""
    if "seed" in space and (seeds > 1 or baseline):
        raise SpaceError(
            str(space_file),
            "seed",
            "--seeds and --baseline train at the config's seed, seed+1, ...: set seed in --config, not in the space",
        )


def _study_attrs(job: TuneJob, problem: Problem, base: Any, budget: float) -> dict:
    """The study's attributes in study.nc: what was searched, on what, how."""
    return {
        "problem": problem.name,
        "problem_file": job.problem_file,
        "space": job.space_file,
        "objective": objective_text(problem, base["seed"], job.seeds),
        "time_budget_s": float(budget),
        "trials_requested": job.trials,
        "study_name": job.study_name,
        "sampler": "optuna TPE",
        "pruner": "optuna median",
    }


def tune(
    problem_file: str | Path,
    space: str | Path,
    trials: int,
    *,
    config: str | Path | None = None,
    workers: int = 1,
    budget: float | None = None,
    out: str | Path | None = None,
    storage: str | None = None,
    params: dict | None = None,
    seeds: int = 1,
    baseline: bool = False,
    verify: int = 0,
) -> TuneResult:
    """Searches the settings of the space file ``space`` on the problem in ``problem_file`` over
    ``config``: ``trials`` trials in all, each ``seeds`` solves (seeds ``seed`` to ``seed + seeds
    - 1`` of the config, each at a time budget of ``budget`` seconds of training: default the
    config's ``train.time_budget``, else ``DEFAULT_BUDGET_S``; a trial costs ``seeds`` budgets)
    whose objective is the geometric mean of their errors, by ``workers`` processes. Pruning
    watches the first seed's run. ``baseline`` also solves ``config`` without the space at the
    same seeds and budget, recorded in study.nc's ``baseline_*`` attributes. ``verify = K``: then
    the best trial's config and ``config`` train one after the other in this process at K new seeds
    (``_verify``), recorded in the ``verify_*`` attributes. Writes ``study.nc``,
    ``study.png`` and ``best.yaml`` into ``out`` (default ``outputs/<problem>/tune-<space>``);
    run again with the same ``out``, a tune continues its study up to ``trials``. ``storage`` is
    an RDB URL shared by several machines; ``params`` overrides problem parameters (as ``--param``)."""
    _check_options(trials, workers, budget, seeds, verify)
    params = params or {}
    problem = load_problem(problem_file, overrides=params)
    resolved = resolve_run(problem, config and load_config_file(config), {"train": {"progress": False}})
    budget = budget or resolved.train.time_budget or DEFAULT_BUDGET_S
    base = resolve_config(resolved.to_dict(), {"train": {"time_budget": float(budget)}})
    space_set = load_space(space, base)
    _check_seeds_outside(space_set.raw, space, seeds, baseline)
    out = _out_folder(out, problem.name, space)
    journal, name = str(out / "study.log"), f"{problem.name}-{Path(space).stem}"
    job = TuneJob(
        str(problem_file), params, base, space_set.raw, str(space), trials, storage, journal, name, seeds, baseline
    )
    searched = {"problem": problem.raw, "params": params, "config": base, "space": space_set.raw}
    fingerprint = _fingerprint(searched, seeds)
    optuna.logging.set_verbosity(optuna.logging.WARNING)  # not optuna's line per trial: each prints its own
    with _folder_lock(out):
        study = _open_study(job, fingerprint)
        if storage is None:  # the journal is this folder's alone (the lock): its running trials were killed
            fail_interrupted(study)
        _run_workers(job, out, min(workers, trials))
        _verify(study, job, verify)
        seed_list = list(range(base["seed"], base["seed"] + seeds))
        attrs = _study_attrs(job, problem, base, budget)
        return TuneResult(write_outputs(out, study, space_set, attrs, seed_list), out)
