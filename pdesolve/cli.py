"""Command line: ``pdesolve solve | check | report | list | tune``.

Errors in problem files, configs and arguments print one line and exit 2; a traceback is shown
only with ``--debug``. A run that diverges (non-finite loss) writes its folder and exits 3.
"""

import argparse
import difflib
import json
import os
import sys
import warnings
from pathlib import Path

import yaml

from .config import parse_override
from .errors import ConfigError, PdesolveError, PdesolveWarning, ProblemError, key_name, preview
from .safe_yaml import safe_load


def shipped(kind: str) -> Path:
    """The shipped ``problems`` or ``configs`` folder: package data of an install (``pdesolve/<kind>``, mapped
    from the top-level folder at build time, see setup.py), else the top-level folder of a source checkout."""
    here = Path(__file__).resolve().parent
    return next((folder for folder in (here / kind, here.parent / kind) if folder.is_dir()), Path(kind))


def _param_overrides(items: list[str]) -> dict:
    overrides = {}
    for item in items:
        if "=" not in item:
            raise ProblemError("--param", f"{item!r} is not NAME=VALUE, e.g. --param r=0.1 or --param dimension=50")
        name, raw = item.split("=", 1)
        try:
            overrides[name.strip()] = safe_load(raw)
        except yaml.YAMLError:
            raise ProblemError(f"--param {key_name(name)}", f"cannot read the value {preview(raw)}") from None
    return overrides


def problem_file(name: str) -> str:
    """``name`` if it is a file; else the shipped problem of that name (``nt_hjb10_ball`` or
    ``nt_hjb10_ball.yaml``); else a ProblemError that suggests the nearest shipped names."""
    if Path(name).exists() or os.sep in name or "/" in name:
        return name  # a path: load_problem says what is wrong with it
    folder = shipped("problems")
    for candidate in (folder / name, *(folder / f"{name}{suffix}" for suffix in (".yaml", ".yml", ".py"))):
        if candidate.is_file():
            return str(candidate)
    names = sorted(path.stem for path in folder.glob("*.yaml")) + sorted(path.stem for path in folder.glob("*.py"))
    near = difflib.get_close_matches(Path(name).stem, names, n=3, cutoff=0.6)
    hint = f"did you mean {' or '.join(near)}? " if near else ""
    raise ProblemError(
        "<file>",
        f"not found, neither as a file nor as a shipped problem in {folder}; {hint}"
        "`pdesolve list` shows the shipped problems",
        source=name,
    )


def _load(path: str, params: list[str]):
    from .problem import load_problem

    return load_problem(problem_file(path), overrides=_param_overrides(params))


def cmd_solve(args) -> int:
    from .run import StopReason, solve, unknowns_summary

    problem = _load(args.problem, args.param)
    overrides = [parse_override(item) for item in args.set]
    if args.seed is not None:
        overrides.append({"seed": args.seed})
    if args.quiet:
        overrides.append({"train": {"progress": False}})
    if args.resume and args.out:
        raise ConfigError("--resume", "continues the run in its own folder; drop --out")
    run = solve(
        problem,
        args.config,
        overrides=overrides,
        out=args.out or "auto",
        output_root=args.output_root,
        resume=args.resume,
        init_from=args.init_from,
    )
    report = run.report
    assert run.path is not None  # out is a folder or "auto": solve wrote a run folder
    if "rel_l2" in report:
        print(
            f"{problem.name}: {_errors_text(report)}  mse {report['mse']:.3e}  "
            f"max_abs {report['max_abs_error']:.3e}  ({report['steps']} steps, {report['stop_reason']}; "
            f"{report['wall_time_s']:.1f} s, "
            f"{report['operators']} + {report['solver']}, {report['n_params']} parameters)"
        )
        if "radius_uniform" in report:
            print(
                "  volume law: test points uniform in the domain, in high d almost all near its boundary; "
                "radius-uniform: their distance from the centre uniform, the interior seen as much as the "
                "boundary; centre: the domain's centre (report.md: by radius band)"
            )
    else:
        print(
            f"{problem.name}: no exact solution ({report['steps']} steps, {report['stop_reason']}); final loss in "
            f"{run.path / 'history.nc'}"
        )
    for line in unknowns_summary(report):  # an inverse problem's learned unknowns and data misfit
        print(line)
    print(run.path)
    if StopReason.of(report["stop_reason"]) is StopReason.DIVERGED:
        print(f"error: {report['stop_reason']}; outputs of step {report['steps']} in {run.path}", file=sys.stderr)
        return 3
    return 0


def _errors_text(report: dict) -> str:
    """rel_l2 under the evaluation law and, with an exact solution, under the radius-uniform law and
    the largest error at the domain's centre."""
    from .results import law_label

    text = f"rel_l2 {report['rel_l2']:.3e} ({law_label(report)})"
    if "radius_uniform" in report:
        centre = max(row["abs_error"] for row in report["centre"])
        text += f"  {report['radius_uniform']['rel_l2']:.3e} (radius-uniform)  centre |err| {centre:.3e}"
    return text


def _cost_text(pieces) -> str:
    """The derivative method the run of ``pieces`` (``pdesolve.run.Assembled``) will use and its
    network evaluations per point and step."""
    from .solvers import solver_spec

    config, problem, engine = pieces.config, pieces.compiled.problem, pieces.engine
    per_point = engine.evals_per_point(pieces.compiled.needs, problem.dimension)
    n_params = pieces.network.n_params
    batch = config.train.batch_size
    hidden_units = sum(getattr(config.model, "widths", ()))
    losses = solver_spec(config.solver.name).evaluations_per_step(config.solver.settings, n_params, hidden_units, batch)
    chosen = " (auto)" if config.operators.kind == "auto" else ""
    return (
        f"{engine.name}{chosen} operators: {per_point:,} network evaluations per point, "
        f"{per_point * batch:,} per loss (batch {batch}), ~{per_point * batch * losses:,} per "
        f"{config.solver.name} step ({losses:,} loss evaluations)"
    )


def _training_text(pieces) -> str:
    """Where the interior training points of the run of ``pieces`` lie, and which conditions are
    losses (the rest are exact)."""
    train = pieces.config.train
    law = {
        "volume": "volume law (uniform in the domain)",
        "radius_uniform": "radius-uniform law",
        "mixture": f"mixture: {train.radius_weight:g} radius-uniform, the rest volume",
    }[train.interior_law]
    law += _reach_text(pieces.compiled.problem, pieces.sampler)
    if train.adaptive_candidates > 1:
        law += f", residual-adaptive among {train.adaptive_candidates}x candidates"
    losses = ", ".join(pieces.soft_kinds) if pieces.soft_kinds else "none (every condition exact)"
    return f"interior points: {law}; ansatz {pieces.config.ansatz}, conditions as losses: {losses}"


def _reach_text(problem, sampler) -> str:
    """How far the radius-uniform training points reach where diffusion widens them (whole space, a
    parabolic equation: ``problem.training_domain``); empty where that does not apply."""
    reach = getattr(sampler.domain, "reach", 0.0)
    if reach <= 0.0 or sampler.radius_fraction <= 0.0:
        return ""
    widened, own = sampler.domain.radius_max, problem.domain.radius_max
    part = "" if sampler.radius_fraction >= 1.0 else " its radius-uniform part"
    return (
        f",{part} widened by the diffusion reach 2 a (T - t0) / std^2 = {reach:.3g} (added to the squared radius): "
        f"normalised radius |x - mean| / (std sqrt(d)) up to {widened:.3g}, {widened / own:.3g}x the "
        f"normal law's {own:.3g}"
    )


def _source_text(problem) -> str:
    """The source line of ``check``: none, the expression, or what ``from_exact`` builds."""
    from .problem import manufactured_text

    if problem.source == "from_exact":
        return f"from_exact: {manufactured_text(problem)}, operators of the exact solution by autodiff"
    return "none" if problem.source is None else str(problem.source)


def _exact_lines(compiled) -> list[str]:
    """Prints the exact solution's residual and condition misfits; returns warnings for large ones."""
    from .problem import verify_exact

    if compiled.problem.exact is None:
        print("exact      unknown")
        return []
    misfits = verify_exact(compiled)
    print(
        "exact      known; largest misfit at 300 points (and relative to the size of its terms): "
        + ", ".join(f"{m.what} {m.absolute:.1e} ({m.relative:.1e})" for m in misfits)
    )
    return [
        f"{m.what}: the exact solution misses it by up to {m.absolute:.3e} at {m.where()} (relative up to "
        f"{m.relative:.2e}); check exact: (and source:) against the equation and conditions"
        for m in misfits
        if not m.small
    ]


def _memory_text(problem, pieces) -> str:
    """Refuses what ``solve`` would refuse before training (``limits``, ``resources``); else the
    memory of each phase of the run."""
    from .limits import check_memory, first_layer_params
    from .resources import check_run, describe

    config = pieces.config
    evals = pieces.engine.evals_per_point(pieces.compiled.needs, problem.dimension)
    n_params, first = pieces.network.n_params, first_layer_params(pieces.network)
    if config.train.check_memory:
        check_memory(config, evals, n_params)
    check_run(problem, config, evals, n_params, first)
    return describe(problem, config, evals, n_params, first)


def _settings_lines(config, origins: dict[str, str]) -> list[str]:
    """``settings`` and a line per setting of the resolved ``config`` (dotted key, value, and where
    the value came from: ``origins``, by dotted key, as ``resolve_run_traced`` gives them)."""
    plain = config.to_dict()
    shown: dict[str, str] = {}
    for key in origins:
        section, _, inner = key.partition(".")
        value = plain[section][inner] if inner else plain[section]
        shown[key] = "unset" if value is None else value if isinstance(value, str) else json.dumps(value)
    width, column = max(map(len, shown)), max(map(len, shown.values()))
    return ["settings   (value, where it came from)"] + [
        f"  {key:<{width}}  {text:<{column}}  {origins[key]}" for key, text in shown.items()
    ]


def cmd_check(args) -> int:
    from .reference import check_reference
    from .run import as_config, build, precision, resolve_run_traced

    problem = _load(args.problem, args.param)
    # defaults, the problem's config: section, --config and --set, validated as solve validates them
    updates = [(f"preset {args.config}", as_config(args.config))] if args.config else []
    config, origins = resolve_run_traced(problem, *updates, *[("--set", parse_override(s)) for s in args.set])
    with precision(config):
        pieces = build(problem, config)  # as solve builds the run: compiled problem, network, engine, solver
    compiled = pieces.compiled
    reference = check_reference(compiled)  # refuses a Monte Carlo reference of an unsupported form
    memory = _memory_text(problem, pieces)  # refuses, as solve does, a run that would not fit
    time = "none (stationary)" if problem.time is None else f"[{problem.time[0]:g}, {problem.time[1]:g}]"
    params = (
        ", ".join(
            f"{k}={v:g}" if not hasattr(v, "shape") else f"{k}=<{' x '.join(map(str, v.shape))} array>"
            for k, v in problem.parameters.items()
        )
        or "none"
    )
    conditions = ", ".join(f"{k}: {problem.raw.get('conditions', {}).get(k, v)}" for k, v in problem.conditions.items())
    print(f"problem    {problem.name}: {problem.title}")
    print(f"file       {problem.source_file}")
    print(f"dimension  {problem.dimension}")
    print(f"time       {time}")
    print(f"domain     {problem.domain.describe()}")
    print(f"equation   {problem.equation_text}")
    print(f"operators  {', '.join(sorted(str(n) for n in compiled.needs))}")
    print(f"conditions {conditions}")
    print(f"parameters {params}")
    print(f"source     {_source_text(problem)}")
    exact_warnings = _exact_lines(compiled)
    if reference is not None:
        print(f"reference  {reference}")
    evaluation = problem.evaluation
    print(f"evaluation {evaluation['points']} points, {evaluation['sampling']}, seed {evaluation['seed']}")
    print(
        f"config     {config.operators.kind} operators, {config.solver.name} solver, "
        f"{config.model.kind} model, {config.train.steps} steps, {config.precision}"
    )
    print(f"network    {pieces.network.n_params:,} parameters; inputs: {pieces.inputs}")
    print(f"training   {_training_text(pieces)}")
    print(f"cost       {_cost_text(pieces)}")
    print(f"memory     {memory}")
    print("\n".join(_settings_lines(config, origins)))
    for warning in (*problem.warnings, *exact_warnings):
        print(f"warning    {warning}")
    print("ok")
    return 0


def cmd_report(args) -> int:
    folder = Path(args.run)
    path = folder / "report.md"
    if not path.is_file():
        raise ProblemError(str(folder), "is not a run folder (no report.md); give outputs/<problem>/<run-id>")
    print(path.read_text())
    if args.json:
        print(json.dumps(json.loads((folder / "report.json").read_text()), indent=2))
    return 0


def cmd_tune(args) -> int:
    from .tune import tune

    try:
        result = tune(
            problem_file(args.problem),
            args.space,
            args.trials,
            config=args.config,
            workers=args.workers,
            budget=args.budget,
            out=args.out,
            storage=args.storage,
            params=_param_overrides(args.param),
            seeds=args.seeds,
            baseline=args.baseline,
            verify=args.verify,
        )
    except KeyboardInterrupt:
        print("\ninterrupted; run the same command again to continue the study", file=sys.stderr)
        return 130
    study = result.study
    states = {state: int((study.state == state).sum()) for state in ("complete", "pruned", "failed")}
    print(
        f"{study.attrs['problem']}: {study.attrs['trials_finished']} trials ({states['complete']} complete, "
        f"{states['pruned']} pruned, {states['failed']} failed)"
    )
    if "baseline_error" in study.attrs:
        note = study.attrs["baseline_note"]
        print(
            f"baseline (the config without the space): {study.attrs['objective']} "
            f"{study.attrs['baseline_error']:.3e}{f' ({note})' if note else ''}"
        )
    if result.best_trial is None:
        print(f"error: no trial completed; why is in {result.path / 'study.nc'} (variable note)", file=sys.stderr)
        return 1
    print(
        f"best trial {result.best_trial}: {study.attrs['objective']} "
        f"{float(study.error.sel(trial=result.best_trial)):.3e}; "
        f"pdesolve solve {args.problem} --config {result.path / 'best.yaml'}"
    )
    if "verify_best_error" in study.attrs:
        seeds = study.attrs["verify_seeds"]
        print(
            f"verified alone at seeds {seeds[0]}-{seeds[-1]} (geometric mean): best trial "
            f"{study.attrs['verify_best_trial']} {study.attrs['verify_best_error']:.3e}, the config without the "
            f"space {study.attrs['verify_baseline_error']:.3e}"
        )
    print(result.path)
    return 0


def cmd_list(args) -> int:
    for kind in ("problems", "configs", "configs/spaces"):
        folder = shipped(kind)
        print(f"{kind} ({folder}):")
        for path in sorted(folder.glob("*.yaml")) + sorted(folder.glob("*.py")):
            title = ""
            try:
                data = safe_load(path.read_text()) if path.suffix == ".yaml" else None
                title = (data or {}).get("title", "") if isinstance(data, dict) else ""
            except yaml.YAMLError:
                title = "(not valid YAML)"
            print(f"  {path.name:32s} {title or _leading_comment(path)}")
    return 0


def _leading_comment(path: Path) -> str:
    """The first line of a file's leading comment (``# ...``) or docstring: a config's description."""
    for line in path.read_text().splitlines():
        text = line.strip()
        if text.startswith("#"):
            return text.lstrip("#").strip()[:100]
        if text.startswith(('"""', "'''")):
            return text.strip("\"' ")[:100]
        if text:
            break
    return ""


def _tune_seed_options(tune: argparse.ArgumentParser) -> None:
    """The ``tune`` options on the seeds a trial trains at, the baseline and the verification."""
    tune.add_argument(
        "--seeds",
        type=int,
        default=1,
        metavar="K",
        help="training runs per trial, at the config's "
        "seed, seed+1, ..., seed+K-1, each with the whole --budget (a trial costs K budgets); the "
        "objective is the geometric mean of their errors (errors span decades); pruning watches the "
        "first seed's run (default 1)",
    )
    tune.add_argument(
        "--baseline",
        action="store_true",
        help="also train the config the trials start from "
        "without the space's settings (the shipped defaults, or --config) at the same seeds and budget, "
        "by the first worker before its trials; its error is printed and kept in study.nc (attributes "
        "baseline_*)",
    )
    tune.add_argument(
        "--verify",
        type=int,
        default=0,
        metavar="K",
        help="after the study, train the best trial's "
        "settings and the config without the space one after the other in this process (no worker "
        "beside them) at K seeds the trials did not use, at the same budget; printed and kept in "
        "study.nc (attributes verify_*). Trials that share the processors compete for them: verify "
        "before trusting a time-budgeted win (default 0: none)",
    )


def _tune_parser(sub) -> argparse.ArgumentParser:
    """The ``tune`` subcommand's options."""
    tune = sub.add_parser("tune", help="search config settings (optuna TPE, pruning) and write the best as a config")
    tune.add_argument("problem", help="problem file (.yaml, or .py defining PROBLEM)")
    tune.add_argument(
        "--space",
        required=True,
        help="search space (YAML: dotted config paths with range, log_range, int_range or choices; configs/spaces/)",
    )
    tune.add_argument("--trials", type=int, required=True, help="trials in the study (a rerun continues up to it)")
    tune.add_argument("--config", help="config file every trial starts from (as for solve)")
    tune.add_argument("--workers", type=int, default=1, help="parallel worker processes on this machine")
    tune.add_argument(
        "--budget",
        type=float,
        help="seconds of training per run, one run per seed of a trial "
        "(default: the config's train.time_budget, else 20)",
    )
    _tune_seed_options(tune)
    tune.add_argument(
        "--out",
        help="output folder (default outputs/<problem>/tune-<space>); the same folder continues an interrupted study",
    )
    tune.add_argument(
        "--storage",
        metavar="URL",
        help="RDB URL of a study shared by workers on several machines, "
        "e.g. postgresql://user:password@host/db (default: a journal file in --out)",
    )
    tune.add_argument(
        "--param", action="append", default=[], metavar="NAME=VALUE", help="problem parameter or dimension override"
    )
    tune.set_defaults(func=cmd_tune)
    return tune


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="pdesolve", description=__doc__.splitlines()[0])
    parser.add_argument("--debug", action="store_true", help="show tracebacks")
    sub = parser.add_subparsers(dest="command", required=True)

    solve = sub.add_parser("solve", help="train on a problem and write a run folder")
    solve.add_argument("problem", help="problem file (.yaml, or .py defining PROBLEM)")
    solve.add_argument("--config", help="config file (YAML) applied over the problem's defaults")
    solve.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="config override, e.g. --set train.steps=2000 (repeatable)",
    )
    solve.add_argument(
        "--param",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="problem parameter or dimension override, e.g. --param dimension=50",
    )
    solve.add_argument("--out", help="run folder to create (default outputs/<problem>/<run-id>)")
    solve.add_argument("--output-root", default="outputs", help="where automatic run folders go")
    solve.add_argument("--seed", type=int, help="random seed (same seed, same result on CPU)")
    solve.add_argument("--quiet", action="store_true", help="no progress bar")
    solve.add_argument(
        "--resume",
        metavar="RUN",
        help="continue the unfinished run in folder RUN from its last checkpoint (same problem and config)",
    )
    solve.add_argument(
        "--init-from",
        metavar="RUN",
        help="start from the trained network of the run in folder RUN "
        "(warm start; the same model settings), e.g. after changing a parameter",
    )
    solve.set_defaults(func=cmd_solve)

    check = sub.add_parser("check", help="validate a problem file and show what it compiles to")
    check.add_argument("problem")
    check.add_argument("--param", action="append", default=[], metavar="NAME=VALUE")
    check.add_argument("--config", help="config file (YAML), checked as solve would apply it")
    check.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", help="config override (repeatable)")
    check.set_defaults(func=cmd_check)

    report = sub.add_parser("report", help="print a run's error report")
    report.add_argument("run", help="run folder")
    report.add_argument("--json", action="store_true", help="also print report.json")
    report.set_defaults(func=cmd_report)

    listing = sub.add_parser("list", help="list shipped problems, configs and search spaces")
    listing.set_defaults(func=cmd_list)

    tune = _tune_parser(sub)
    for command in (solve, check, report, listing, tune):  # --debug also after the subcommand, as errors suggest
        command.add_argument("--debug", action="store_true", default=argparse.SUPPRESS, help="show tracebacks")
    return parser


#: Path arguments, the option that names them and what a run adds below them (limits.path_too_long).
PATH_ARGS = (
    ("problem", "problem", ""),
    ("config", "--config", ""),
    ("out", "--out", "RUN_FILE_NAME"),
    ("output_root", "--output-root", "RUN_FOLDER_NAME"),
    ("resume", "--resume", "RUN_FILE_NAME"),
    ("run", "run", ""),
    ("space", "--space", ""),
)


def _check_paths(args) -> None:
    """Refuses, before anything runs, a path argument longer than the file system allows."""
    from . import limits

    for attr, option, below in PATH_ARGS:
        value = getattr(args, attr, None)
        reason = limits.path_too_long(value, getattr(limits, below) if below else 0) if value else None
        if reason is not None:
            raise (ProblemError if attr == "problem" else ConfigError)(option, reason)


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    with warnings.catch_warnings():  # pdesolve's own warnings as "warning: ..." lines, only while the command runs
        warnings.simplefilter("always", PdesolveWarning)
        warnings.showwarning = _show_warning(warnings.showwarning)
        return _run_command(args)


def _show_warning(show):
    """``warnings.showwarning`` that prints a ``PdesolveWarning`` as one line and others by ``show``."""

    def shown(message, category, filename, lineno, file=None, line=None):
        if issubclass(category, PdesolveWarning):
            print(f"warning: {message}", file=sys.stderr)
        else:
            show(message, category, filename, lineno, file, line)

    return shown


def _run_command(args) -> int:
    """Runs the parsed command; errors become one line and an exit code (2: bad input, 3: diverged,
    130: interrupted, 1: internal)."""
    try:
        _check_paths(args)
        code = args.func(args)
        sys.stdout.flush()  # here, so that a closed pipe is caught below
        return code
    except PdesolveError as err:
        if args.debug:
            raise
        print(f"error: {err}", file=sys.stderr)
        return 2
    except KeyboardInterrupt as err:
        folder = getattr(err, "run_folder", None)  # TrainingInterrupted says at which step and what it saved
        hint = f"; continue it with: pdesolve solve {args.problem} --resume {folder}" if folder else ""
        print(f"\n{str(err) or 'interrupted'}{hint}", file=sys.stderr)
        return 130
    except BrokenPipeError:  # the reader of stdout went away (pdesolve report RUN | head): not an error
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return 0
    except Exception as err:  # an internal failure: one line, traceback with --debug
        if args.debug:
            raise
        print(f"internal error: {type(err).__name__}: {err} (rerun with --debug for the traceback)", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
