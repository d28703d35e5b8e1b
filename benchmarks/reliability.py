"""Reliability: a hostile corpus through ``pdesolve check`` (in process, as ``cli.main``).

Inputs, generated from a seed: every field of a problem file (and its nested fields) set to values
of every type, depth and size; every config key of every section and kind through ``--set`` and
through a ``--config`` file; hostile ``--config`` files (not UTF-8, binary, deep, alias-expanded
near and over the bound, special files); hostile paths (over-long names and paths, folders, special
files) for the problem, ``--config`` and ``--out``; runs too large for memory (evaluation points,
slices, Monte Carlo paths, network widths, condition batches, expression terms, steps). Each input
must end in exit 0 (accepted) or 2 (refused with one line), never 1 or a signal, within
``TIME_LIMIT`` seconds. It is not a timing benchmark: the times bound refusals, under any load.

Table columns: input class, tried, refused cleanly (exit 2), accepted (exit 0), failed (any other
outcome), max time, the process's peak RSS after the class, and the outcome.
"""

import contextlib
import dataclasses
import io
import os
import random
import resource
import signal
import tempfile
import time
from pathlib import Path

import yaml

from ._common import ROOT

SIZES = {"tiny": {"per_class": 4}, "quick": {"per_class": None}, "full": {"per_class": None}}
PROBLEM = ROOT / "tests/data/poisson2d_ad.yaml"
MC_PROBLEM = ROOT / "problems/heat_mc10.yaml"
TIME_LIMIT = 10.0
SEED = 40

#: Hostile values of every type, depth and size (YAML flow text).
VALUES = [
    "0",
    "-1",
    "1",
    "2",
    "3.5",
    "-1e308",
    "1e308",
    "1e-320",
    ".inf",
    "-.inf",
    ".nan",
    str(10**30),
    "6e7",
    "1e9",
    "4096",
    "1000000000",
    "true",
    "null",
    "''",
    "' '",
    "x",
    "'x[1]'",
    "'é\u0000'",
    "'" + "a" * 20000 + "'",
    "[]",
    "{}",
    "[1]",
    "[[1]]",
    "[0, 0]",
    "[65536, 65536, 65536]",
    "[-1]",
    "[1.5]",
    "[true]",
    "{a: 1}",
    "[" * 30 + "1" + "]" * 30,
    "[" * 70 + "]" * 70,
    "{a: " * 40 + "1" + "}" * 40,
    "[" + ", ".join(["1"] * 5000) + "]",
    "!!binary aGVsbG8=",
    "!!python/object/apply:os.system ['true']",
    "!!set {a, b}",
    "!!timestamp 2001-12-14",
    "&a [*a]",
    "'${HOME}'",
    "'../../etc/passwd'",
    "'/proc/self/mem'",
]


@dataclasses.dataclass
class Case:
    """One input: its class, a label and the ``pdesolve`` arguments."""

    kind: str
    label: str
    argv: list


def _nested_fields(data: dict, prefix: str = "") -> list[str]:
    """Dotted paths of every key of ``data`` (mappings recursed)."""
    out = []
    for key, value in data.items():
        path = f"{prefix}{key}"
        out.append(path)
        if isinstance(value, dict):
            out += _nested_fields(value, f"{path}.")
    return out


def _set_path(data: dict, path: str, value) -> dict:
    data = yaml.safe_load(yaml.safe_dump(data))
    node = data
    *parents, last = path.split(".")
    for key in parents:
        if not isinstance(node.get(key), dict):
            node[key] = {}
        node = node[key]
    node[last] = value
    return data


def config_keys() -> list[str]:
    """Every config key: plain settings, each model and operators kind's keys, each solver's keys."""
    from pdesolve.config import MODEL_KINDS, OPERATOR_KINDS, TrainConfig, solver_fields
    from pdesolve.fields import FIELD

    def keys(cls):
        return [f.name for f in dataclasses.fields(cls) if FIELD in f.metadata]

    out = ["seed", "precision", "ansatz", "model.type", "operators.method", "solver.name"]
    out += [f"train.{k}" for k in keys(TrainConfig)]
    out += sorted({f"model.{k}" for cls in MODEL_KINDS.values() for k in keys(cls)})
    out += sorted({f"operators.{k}" for cls in OPERATOR_KINDS.values() for k in keys(cls)})
    out += sorted({f"solver.{k}" for schema in solver_fields().values() for k in schema})
    return out


def _problem_cases(tmp: Path, rng: random.Random) -> list[Case]:
    """Every (nested) field of the base problem and of a Monte Carlo one, and new evaluation fields."""
    cases = []
    for base, tag in ((PROBLEM, "p"), (MC_PROBLEM, "mc")):
        data = yaml.safe_load(base.read_text())
        fields = [
            *_nested_fields(data),
            "evaluation.slice.points",
            "evaluation.slice.times",
            "evaluation.at",
            "reference.monte_carlo.paths",
            "parameters.a",
            "time.end",
        ]
        for field in fields:
            for raw in rng.sample(VALUES, 6):
                text = yaml.safe_dump(_set_path(data, field, "@@"), sort_keys=False).replace("'@@'", raw)
                path = tmp / f"{tag}-{len(cases)}.yaml"
                path.write_text(text)
                cases.append(Case("problem file fields", f"{tag} {field}={raw[:40]}", ["check", str(path)]))
    return cases


def _config_cases(tmp: Path, rng: random.Random) -> list[Case]:
    """Every config key through ``--set`` and through a ``--config`` file."""
    cases = []
    for key in config_keys():
        for raw in rng.sample(VALUES, 6):
            cases.append(
                Case("--set every config key", f"{key}={raw[:40]}", ["check", str(PROBLEM), "--set", f"{key}={raw}"])
            )
        raw = rng.choice(VALUES)
        section, _, name = key.rpartition(".")
        text = f"{section}: {{{name}: {raw}}}\n" if section else f"{name}: {raw}\n"
        path = tmp / f"c-{len(cases)}.yaml"
        path.write_text(text)
        cases.append(
            Case("--config every config key", f"{key}: {raw[:40]}", ["check", str(PROBLEM), "--config", str(path)])
        )
    return cases


def _bomb(width: int, levels: int) -> str:
    value = "&l0 'x[1]'"
    for i in range(1, levels + 1):
        value = f"&l{i} [" + ", ".join([value] + [f"*l{i - 1}"] * (width - 1)) + "]"
    return value


def _file_cases(tmp: Path) -> list[Case]:
    """Hostile ``--config`` files and paths (problem, ``--config``, ``--out``)."""
    files = {
        "latin-1": "train: {steps: 10}  # caf\xe9\n".encode("latin-1"),
        "binary": bytes(range(256)) * 8,
        "deep": ("train: " + "[" * 5000 + "]" * 5000).encode(),
        "empty": b"",
        "nul": b"\x00" * 100,
        "bom": "\ufefftrain: {steps: 3}\n".encode(),
        "utf-16": "train: {steps: 3}\n".encode("utf-16"),
        "alias under": f"model: {{widths: {_bomb(480, 2)}}}\n".encode(),
        "alias over": f"model: {{widths: {_bomb(500, 2)}}}\n".encode(),
        "alias deep over": f"model: {{widths: {_bomb(2, 18)}}}\n".encode(),
        "big": b"train: {steps: 3}\n" + b"# " + b"x" * 20_000_000 + b"\n",
    }
    cases = []
    for name, content in files.items():
        path = tmp / f"f-{name.replace(' ', '-')}.yaml"
        path.write_bytes(content)
        cases.append(Case("--config hostile files", name, ["check", str(PROBLEM), "--config", str(path)]))
    long_name, long_path = str(tmp / ("a" * 300)), str(tmp / "/".join(["b" * 200] * 30))
    special = [
        "/proc/self/mem",
        "/dev/null",
        "/dev/zero",
        str(tmp),
        "/nonexistent/x.yaml",
        long_name,
        long_path,
        "/etc/passwd",
        str(ROOT / "pdesolve/cli.py"),
    ]
    for path in special:
        cases.append(Case("CLI paths", f"--config {path[:60]}", ["check", str(PROBLEM), "--config", path]))
        cases.append(Case("CLI paths", f"problem {path[:60]}", ["check", path]))
    for path in (long_name, long_path, "/proc/self/out", str(PROBLEM)):
        cases.append(Case("CLI paths", f"--out {path[:60]}", ["solve", str(PROBLEM), "--quiet", "--out", path]))
    cases.append(Case("CLI paths", "--output-root long", ["solve", str(PROBLEM), "--output-root", long_path]))
    return cases


def _resource_cases(tmp: Path) -> list[Case]:
    """Runs too large to hold: each must be refused by ``check`` (exit 2)."""
    base = yaml.safe_load(PROBLEM.read_text())
    mc = yaml.safe_load(MC_PROBLEM.read_text())
    edits = {
        "evaluation.points 6e8": (base, "evaluation.points", 600_000_000),
        "slice points 4096 x 10^5 times": (mc, "evaluation.slice", {"points": 4096, "times": 100_000}),
        "Monte Carlo paths 1e9": (mc, "reference.monte_carlo.paths", 10**9),
        "nested Sum terms 10^8": (
            _set_path(base, "dimension", 10_000),
            "source",
            "Sum(Sum(x[i]*x[j], (i, 1, d)), (j, 1, d))",
        ),
    }
    cases = []
    for label, (data, field, value) in edits.items():
        path = tmp / f"r-{len(cases)}.yaml"
        path.write_text(yaml.safe_dump(_set_path(data, field, value), sort_keys=False))
        cases.append(Case("runs too large", label, ["check", str(path)]))
    for item in (
        "model.widths=[65536, 65536, 65536]",
        "train.boundary_batch_size=1000000000",
        "train.batch_size=1000000000",
        f"train.steps={10**30}",
    ):
        cases.append(Case("runs too large", item, ["check", str(PROBLEM), "--set", item]))
    return cases


def corpus(tmp: Path, per_class: int | None = None, seed: int = SEED) -> list[Case]:
    """The hostile inputs (files written under ``tmp``); ``per_class`` keeps that many of each class."""
    rng = random.Random(seed)
    cases = _problem_cases(tmp, rng) + _config_cases(tmp, rng) + _file_cases(tmp) + _resource_cases(tmp)
    if per_class is None:
        return cases
    kept: dict[str, list] = {}
    for case in rng.sample(cases, len(cases)):
        kept.setdefault(case.kind, []).append(case)
    return [case for group in kept.values() for case in group[:per_class]]


class _TooSlow(Exception):
    pass


def _alarm(signum, frame):
    raise _TooSlow


def run_case(case: Case, limit: float = TIME_LIMIT) -> dict:
    """Runs one input through ``cli.main``: {kind, label, exit, seconds, message}. A case past
    ``limit`` x 3 seconds is stopped (exit "timeout"); an exception out of ``main`` is its name."""
    from pdesolve import cli

    out, err = io.StringIO(), io.StringIO()
    old = signal.signal(signal.SIGALRM, _alarm)
    signal.alarm(int(limit * 3))
    start = time.perf_counter()
    try:
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            code = cli.main(case.argv)
    except _TooSlow:
        code = "timeout"
    except BaseException as exc:  # SystemExit from argparse, anything else: recorded
        code = f"raised {type(exc).__name__}"
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, old)
    lines = err.getvalue().strip().splitlines()
    return {
        "kind": case.kind,
        "label": case.label,
        "exit": code,
        "seconds": time.perf_counter() - start,
        "message": lines[-1][:300] if lines else "",
        "lines": len(lines),
    }


def clean(result: dict, limit: float = TIME_LIMIT) -> bool:
    """Exit 0, or exit 2 with one line; within ``limit`` seconds."""
    ok = result["exit"] == 0 or (result["exit"] == 2 and result["lines"] == 1)
    return ok and result["seconds"] <= limit


def run(size: str, only=None):
    """The suite's rows: one per input class (see the module docstring)."""
    cases = corpus(Path(tempfile.mkdtemp(prefix="pdesolve-reliability-")), SIZES[size]["per_class"])
    cwd = os.getcwd()
    os.chdir(tempfile.mkdtemp(prefix="pdesolve-reliability-run-"))  # where accepted solves would write
    rss: dict[str, float] = {}  # the process's peak RSS (MB) after each class
    failures = []
    for path in (PROBLEM, MC_PROBLEM):  # imports and first compilations outside the clock
        run_case(Case("warm-up", "warm-up", ["check", str(path)]), limit=100.0)
    results: dict[str, list] = {}
    try:
        for i, case in enumerate(cases):
            if only and case.kind not in only:
                continue
            result = run_case(case)
            results.setdefault(case.kind, []).append(result)
            if not clean(result):
                failures.append(result)
                print(
                    f"  not clean: {case.label[:80]}: exit {result['exit']}, {result['seconds']:.1f} s, "
                    f"{result['message'][:160]}",
                    flush=True,
                )
            if i % 100 == 0:
                print(f"  {i}/{len(cases)} inputs", flush=True)
            rss[case.kind] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    finally:
        os.chdir(cwd)
    return [_row(kind, group, rss[kind]) for kind, group in results.items()], {"failures": failures}


def _row(kind: str, results: list[dict], rss_mb: float) -> dict:
    codes = [r["exit"] for r in results]
    bad = [r for r in results if not clean(r)]
    return {
        "input_class": kind,
        "tried": len(results),
        "refused_cleanly": sum(c == 2 for c in codes),
        "accepted": sum(c == 0 for c in codes),
        "failed": len(bad),
        "max_time_s": round(max(r["seconds"] for r in results), 3),
        "peak_rss_mb": round(rss_mb),
        "outcome": "ok" if not bad else f"{bad[0]['label'][:60]}: exit {bad[0]['exit']} {bad[0]['message'][:80]}",
    }


def summarise(rows: list[dict], size: str) -> list[str]:
    total = sum(r["tried"] for r in rows)
    failed = sum(r["failed"] for r in rows)
    lines = [
        f"Hostile corpus ({size}): {total} inputs through `pdesolve check`, {failed} not clean "
        f"(exit other than 0 / 2, more than one line, or over {TIME_LIMIT:g} s).",
        "",
        "| input class | tried | refused cleanly | accepted | failed | max time (s) | peak RSS (MB) | outcome |",
        "|---|---|---|---|---|---|---|---|",
    ]
    lines += [
        f"| {r['input_class']} | {r['tried']} | {r['refused_cleanly']} | {r['accepted']} | {r['failed']} | "
        f"{r['max_time_s']} | {r['peak_rss_mb']} | {r['outcome']} |"
        for r in rows
    ]
    return lines
