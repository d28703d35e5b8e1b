"""``solve(problem, config)``: build, train, evaluate and (optionally) write a run folder."""

import dataclasses
import functools
import warnings
from collections.abc import Callable
from pathlib import Path

import equinox as eqx
import jax
import numpy as np
import xarray as xr
import yaml

from ..config import RunConfig
from ..errors import ConfigError, PdesolveError, PdesolveWarning
from ..limits import check_memory, first_layer_params
from ..models import Solution
from ..operators import AbstractOperatorEngine
from ..problem import Problem, load_problem
from ..resources import check_run
from ..results import history_dataset, save_model, write_run_folder
from ..safe_write import atomic_write_text
from ._build import Assembled, build
from ._checkpoint import RunCheckpoints
from ._evaluate import check_exact, diagonal_line, evaluate, evaluation_points, lines, reference_values, slices
from ._folder import WRITE_ERRNOS, discard_unstarted, prepare_folder, write_error
from ._inverse import data_report, unknowns_report
from ._loop import train
from ._precision import precision
from ._predict import make_predictor, predict_at, prediction_chunk
from ._report import analysis, run_report, run_solution_dataset
from ._resolve import as_config, resolve_run, resolved_record, resume_config
from ._trained import TrainResult
from ._warm import warm_start
from ._whole_domain import whole_domain_errors


@dataclasses.dataclass
class RunResult:
    """A finished run: datasets, report, the trained solution and the run folder (if written).

    ``predict(x, t)`` evaluates the trained solution as :meth:`pdesolve.OpenedRun.predict` does."""

    solution: xr.Dataset
    history: xr.Dataset
    report: dict
    model: Solution
    config: dict  # the plain mapping of config.yaml (RunConfig.to_dict())
    path: Path | None = None
    slices: xr.Dataset | None = None  # written with a run folder only
    lines: xr.Dataset | None = None  # the solution along the diagonal line (lines.nc)
    problem: Problem | None = None
    run_config: RunConfig | None = None  # the typed config (``config`` is its plain mapping)
    engine: AbstractOperatorEngine | None = None  # the operator engine (it smooths a Stein run's prediction)

    def predict(self, x, t=None, *, raw: bool = False) -> np.ndarray:
        """u at points x (n, d) (or (d,) for one point) and times t (n,) or a scalar (required for a
        time-dependent problem, ignored for a stationary one): what ``u_pred`` holds, or with ``raw``
        the network itself. Returns (n,) in the run's precision."""
        assert self.engine is not None and self.problem is not None and self.run_config is not None  # solve sets them
        return predict_at(self.model, self.engine, self.problem, self.run_config, x, t, raw=raw)


def solve(
    problem: Problem | str | Path,
    config: dict | str | Path | None = None,
    *,
    overrides: list[dict] | tuple = (),
    out: str | Path | None = None,
    output_root: str | Path = "outputs",
    resume: str | Path | None = None,
    init_from: str | Path | None = None,
    on_log: Callable[[dict], None] | None = None,
) -> RunResult:
    """Solves ``problem`` (a Problem or a problem file) with ``config`` (a mapping or a YAML file),
    then ``overrides`` (mappings, e.g. from ``--set``). Writes a run folder when ``out`` is a
    folder (used as is: it must not hold files) or ``out == "auto"`` (under ``output_root``).

    ``resume`` is the folder of an unfinished run: training continues there from its last
    checkpoint with the run's own config (``config`` and ``overrides`` may only repeat it, or
    change ``train.progress``).

    ``init_from`` is the folder of a trained run: training starts from its network (warm start, the
    same architecture; ``train.init_from``, recorded in the run's config and report).

    ``on_log(row)`` is called at every logged step (every ``train.log_every`` steps, the last one, and
    the step that meets a stopping rule) with that step's history row, a dict of floats keyed by
    ``pdesolve.run.HISTORY_FIELDS``: ``step``, ``loss`` (training loss), ``rel_l2`` and ``mse`` (on
    the ``train.validation_points`` held-out points; NaN without an exact solution), ``wall_time``
    and ``train_time`` (seconds), ``loss_evals`` and ``network_evals`` (counts so far). The same
    rows end up in ``history.nc``. An exception raised by ``on_log`` stops training and propagates
    (``pdesolve tune`` prunes trials so); Ctrl-C stops at the end of a step after a checkpoint.

    Example::

        rows = []
        run = pdesolve.solve("problems/poisson2d.yaml", {"train": {"steps": 200}}, on_log=rows.append)
        print([(r["step"], r["rel_l2"]) for r in rows])
    """
    problem = problem if isinstance(problem, Problem) else load_problem(problem)
    run_config = _run_config(problem, config, overrides, resume, init_from)
    where: dict = {}  # the run folder, once made
    try:
        with precision(run_config):  # float64 for this run only (and this thread), never for the rest of the process
            pieces = build(problem, run_config)
            return _run(problem, pieces, out=out, output_root=output_root, resume=resume, where=where, on_log=on_log)
    except PdesolveError:
        if resume is None:
            discard_unstarted(where)
        raise
    except OSError as err:
        if where.get("folder") is None or err.errno not in WRITE_ERRNOS:
            raise
        raise write_error(err, where, new=resume is None) from None
    except KeyboardInterrupt as err:
        # for the CLI's hint: continue with --resume there (an attribute the exception does not declare)
        err.run_folder = where.get("folder")  # type: ignore[attr-defined]
        raise


def _run_config(problem: Problem, config, overrides, resume, init_from) -> RunConfig:
    """The run's resolved config: ``config`` then ``overrides`` (and ``init_from``), or a resumed run's own."""
    if init_from is not None:
        overrides = [*overrides, {"train": {"init_from": str(Path(init_from).resolve())}}]
    if resume is not None:
        return resume_config(Path(resume), problem, as_config(config), overrides)
    return resolve_run(problem, as_config(config), *overrides)


def _run(problem: Problem, pieces: Assembled, *, out, output_root, resume, where: dict, on_log=None) -> RunResult:
    """Checks, trains and evaluates the built ``pieces`` under the run's precision (see :func:`solve`)."""
    config, compiled = pieces.config, pieces.compiled
    if config.train.check_memory:
        check_memory(config, pieces.engine.evals_per_point(compiled.needs, problem.dimension), pieces.network.n_params)
    check_run(
        problem,
        config,
        pieces.engine.evals_per_point(compiled.needs, problem.dimension),
        pieces.network.n_params,
        first_layer_params(pieces.network),
    )
    check_exact(problem, compiled, pieces.dtype)
    if config.train.init_from is not None:
        pieces.solution = warm_start(pieces.solution, config.train.init_from)
    resolved = resolved_record(problem, config)
    folder, checkpoints = _open_folder(
        problem, pieces, resolved, out=out, output_root=output_root, resume=resume, where=where
    )
    result = _trained(pieces, checkpoints, resume, on_log)
    return _evaluated(problem, pieces, result, resolved, folder)


def _open_folder(
    problem: Problem, pieces: Assembled, resolved: dict, *, out, output_root, resume, where: dict
) -> tuple[Path | None, RunCheckpoints | None]:
    """The run's folder (new, or the one resumed; none without ``out``), also recorded in ``where``,
    with ``config.yaml`` written first (enough to rerun, or to resume), and its checkpoints."""
    config = pieces.config
    if jax.process_count() > 1:  # several hosts: process 0 writes the run folder
        if resume is not None:
            raise ConfigError("--resume", "resuming is supported on one host only")
        out = out if jax.process_index() == 0 else None
    created = out == "auto" or (out is not None and not Path(out).exists())  # else an empty folder given
    folder = Path(resume) if resume is not None else prepare_folder(problem, config, out, Path(output_root))
    where.update(folder=folder, created=created)
    if folder is None:
        return None, None
    if resume is None:
        atomic_write_text(folder / "config.yaml", yaml.safe_dump(resolved, sort_keys=False))
    return folder, RunCheckpoints(
        folder, {"problem": problem.name, "solver": config.solver.name, "operators": pieces.engine.name}
    )


def _trained(pieces: Assembled, checkpoints: RunCheckpoints | None, resume, on_log) -> TrainResult:
    """Trains (or resumes training); a resumed run whose training had finished (it was stopped in
    the final evaluation) is not retrained. With a folder, saves the trained network first:
    ``open_run(folder).predict`` reloads it, and from then on ``--resume`` only evaluates."""
    result = None
    if resume is not None:
        assert checkpoints is not None  # a resumed run is in its folder
        result = checkpoints.load_trained(pieces.solution)
        if result is None and not checkpoints.exists():
            text = no_checkpoint_text(checkpoints.folder, pieces.config.train.checkpoint_every)
            warnings.warn(text, PdesolveWarning, stacklevel=2)
    if result is None:
        result = train(
            pieces, checkpoints=checkpoints, resume=checkpoints is not None and checkpoints.exists(), on_log=on_log
        )
    if checkpoints is not None:
        save_model(checkpoints.folder, result.solution)
        checkpoints.save_trained(result)
    return result


def no_checkpoint_text(folder: Path, every: int) -> str:
    """What ``--resume`` does with a run folder that holds no checkpoint."""
    why = (
        "checkpoints are off (train.checkpoint_every: 0)"
        if every == 0
        else f"the run stopped before its first checkpoint (train.checkpoint_every: {every} steps)"
    )
    return (
        f"--resume: {folder} holds no checkpoint ({why}); training starts again from step 0 in that folder, "
        "with the run's config"
    )


def _evaluated(
    problem: Problem, pieces: Assembled, result: TrainResult, resolved: dict, folder: Path | None
) -> RunResult:
    """The trained solution on the evaluation points: report, datasets and (with a folder) its files."""
    config, compiled, engine, dtype = pieces.config, pieces.compiled, pieces.engine, pieces.dtype
    x, t = evaluation_points(problem, dtype)
    params, static = eqx.partition(result.solution, eqx.is_inexact_array)
    predict = make_predictor(engine, static, problem.dimension)
    chunk = prediction_chunk(engine, problem.dimension)
    u_pred, u_raw = evaluate(predict, params, x, t, chunk, config.train.progress)
    smoothed = engine.solution(result.solution) is not result.solution
    u_exact, ref = reference_values(compiled, x, t)  # exact solution, or reference: values or Monte Carlo

    evaluate_at = functools.partial(evaluate, predict, params, chunk=chunk, progress=config.train.progress)
    line = diagonal_line(problem, compiled, predict, params, dtype)

    report = run_report(problem, pieces, result, u_pred, u_exact, smoothed, ref)
    report.update(analysis(problem, compiled, result.solution, x, t, u_pred, u_exact, smoothed))
    report.update(unknowns_report(problem, result.solution) | data_report(problem, engine, result.solution))
    if compiled.exact is not None and u_exact is not None:  # a reference is known at the evaluation points only
        report.update(whole_domain_errors(problem, compiled, evaluate_at, u_exact, line, dtype, result.solution))
    solution_ds = run_solution_dataset(problem, config, report, x, t, u_pred, u_raw if smoothed else None, u_exact, ref)
    history_ds = history_dataset(
        result.history, {"problem": problem.name, "solver": report["solver"], "operators": report["operators"]}
    )
    run = RunResult(
        solution_ds,
        history_ds,
        report,
        result.solution,
        resolved["config"],
        folder,
        lines=lines(problem, line, solution_ds.attrs),
        problem=problem,
        run_config=config,
        engine=engine,
    )
    if folder is not None:
        run.slices = slices(problem, compiled, evaluate_at, x, dtype, smoothed, solution_ds.attrs)
        write_run_folder(
            folder,
            solution=solution_ds,
            history=history_ds,
            report=report,
            resolved=resolved,
            line=line,
            history_arrays=result.history,
            slices=run.slices,
            lines=run.lines,
            units=problem.evaluation.get("units"),
        )
    return run
