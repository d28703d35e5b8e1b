"""The documentation cannot rot: the site builds with ``mkdocs build --strict`` (every page, the API
reference from the docstrings, the generated settings table and vocabulary, every link's file);
the settings table holds every setting with the default a resolved config has; the README stays
short and keeps CI's test command; the prose pastes no measured figure (they live in
``benchmarks/results/`` and are linked)."""

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from pdesolve.config import RunConfig, resolve
from pdesolve.config._model import MODEL_KINDS
from pdesolve.config._operators import OPERATOR_KINDS
from pdesolve.config._table import settings_rows, settings_table
from pdesolve.solvers import solver_specs

ROOT = Path(__file__).resolve().parent.parent


def test_mkdocs_build_strict(tmp_path):
    env = {**os.environ, "NO_MKDOCS_2_WARNING": "1"}
    done = subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "--site-dir", str(tmp_path / "site")],
        cwd=ROOT,
        capture_output=True,
        text=True,
        env=env,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    settings = (tmp_path / "site" / "settings" / "index.html").read_text()
    assert "train.time_budget" in settings and "<!-- settings-table -->" not in settings
    assert "grad_u_sq" in (tmp_path / "site" / "writing-problems" / "index.html").read_text()
    assert "on_log" in (tmp_path / "site" / "api" / "index.html").read_text()  # docstrings rendered
    assert "<!-- run-defaults-table -->" not in settings and "FD coordinates (auto)" in settings


def _row(setting: str, kind: str | None = None) -> dict:
    rows = [r for r in settings_rows() if r["setting"] == f"`{setting}`" and (kind is None or kind in r["kinds"])]
    assert len(rows) == 1, (setting, kind, rows)
    return rows[0]


def test_the_settings_table_has_every_key_of_every_kind():
    keys = {f"`{k}`" for k in RunConfig.schema()} | {f"`train.{k}`" for k in RunConfig().train.schema()}
    keys |= {f"`model.{k}`" for cls in MODEL_KINDS.values() for k in cls.schema()}
    keys |= {f"`operators.{k}`" for cls in OPERATOR_KINDS.values() for k in cls.schema()}
    keys |= {f"`solver.{k}`" for spec in solver_specs().values() for k in spec.fields}
    assert {r["setting"] for r in settings_rows()} == keys
    assert settings_table().count("\n") == len(settings_rows()) + 2


def test_the_table_defaults_are_those_of_resolved_configs():
    """Each kind resolved from its name alone: its values are the defaults the table must show."""
    plain = RunConfig().to_dict()
    assert _row("seed")["default"] == f"`{plain['seed']}`"
    assert _row("train.steps")["default"] == f"`{plain['train']['steps']}`"
    tt = resolve({"model": {"type": "tt_mlp"}}).to_dict()["model"]
    assert _row("model.widths", "tt_mlp")["default"] == f"`{tt['widths']}`"
    gn = resolve({"solver": {"name": "gauss_newton"}}).to_dict()["solver"]
    assert _row("solver.jacobian", "gauss_newton")["default"] == f"`{gn['jacobian']}`"
    assert _row("solver.chunk_size", "gauss_newton")["default"] == f"`{gn['chunk_size']}`"
    sg = resolve({"operators": {"method": "sg"}}).to_dict()["operators"]
    assert _row("operators.sigma")["default"] == f"`{sg['sigma']}`"
    assert _row("train.time_budget")["default"] == "unset"


def test_descriptions_come_from_the_declaring_comment():
    assert _row("train.batch_size")["description"] == "collocation points per step"
    assert _row("solver.chunk_size", "gauss_newton")["description"] == "Jacobian columns per call"
    assert _row("solver.chunk_size", "rge")["description"] != "Jacobian columns per call"  # another file's key


def test_the_readme_is_short_and_keeps_the_ci_test_command():
    readme = (ROOT / "README.md").read_text()
    assert len(readme.splitlines()) <= 150
    ci = (ROOT / ".ci" / "run").read_text()
    command = 'uv pip install -e ".[test]" && pytest -q'
    assert command in ci and command in readme
    assert readme.index("uv pip install -e .") < readme.index("## Quick start")  # install on the first screen


@pytest.mark.parametrize("name", ["docs/getting-started.md", "README.md"])
def test_the_quick_start_names_a_shipped_problem(name):
    from pdesolve.cli import problem_file

    text = (ROOT / name).read_text()
    assert "pdesolve solve nt_poisson2d_box --set train.steps=10" in text
    assert Path(problem_file("nt_poisson2d_box")).is_file()


def test_the_link_check_sees_a_missing_file_but_not_code(caplog, tmp_path):
    sys.path.insert(0, str(ROOT / "docs" / "_hooks"))
    try:
        import generate
    finally:
        sys.path.pop(0)
    (tmp_path / "there.md").write_text("")
    page = tmp_path / "page.md"
    generate.check_links("[a](there.md) [b](gone.md#x) `f[i](n)` [c](https://example.org)", page)
    assert [r.getMessage() for r in caplog.records] == ["page.md: the link gone.md names no file"]


_NUMBER = r"\d+(?:\.\d+)?(?:e[-+]?\d+)?"
#: A measured figure in prose: a before/after pair whose first number has a decimal point or an
#: exponent ("1.6e-4 -> 8.3e-5"; not a shape such as 21 -> 512), a duration after a verb or
#: preposition ("in 240 s", "after 30 s", "took 4.4 s"), a time per step or call, a speed-up or
#: error ratio ("1.8x lower"), or a relative L2 error quoted as a number.
MEASURED = re.compile(
    rf"(?:\d\.\d+|\d+e[-+]?\d+)(?:e[-+]?\d+)?\s*(?:->|→)\s*{_NUMBER}"
    rf"|\b(?:in|after|took|takes|for|within)\s+(?:about\s+|~)?{_NUMBER}\s*(?:s|ms|sec|seconds|min|minutes|h|hours)\b"
    rf"|\b{_NUMBER}\s*(?:s|ms|min)\s+per\s+(?:step|call|Jacobian|point|residual)"
    rf"|\b{_NUMBER}x\s+(?:faster|slower|lower|higher|fewer|less|more)\b"
    rf"|\brel(?:ative)?\s+L2\s+(?:error\s+)?(?:of\s+|about\s+|~)?{_NUMBER}",
    re.IGNORECASE,
)
#: Code (fenced blocks, inline spans) is not prose.
_CODE = re.compile(r"```.*?```|`[^`\n]*`", re.S)
#: A line that links its figures' results folder or cites a paper's published figures may hold them.
_CITES = re.compile(r"benchmarks/results/|et al\.|\b(?:19|20)\d\d\)|arXiv|published", re.IGNORECASE)


def measured_figures(markdown: str) -> list[str]:
    """``"line number: line"`` of each prose line with a pasted measurement (``MEASURED``), outside
    code and outside lines that link to ``benchmarks/results/`` or cite a paper."""
    prose = _CODE.sub(lambda m: "\n" * m.group().count("\n"), markdown).splitlines()
    return [
        f"{n}: {line.strip()}"
        for n, (line, original) in enumerate(zip(prose, markdown.splitlines()), 1)
        if MEASURED.search(line) and not _CITES.search(original)
    ]


@pytest.mark.parametrize(
    "planted",
    [
        "nt_burgers5_ball 1.6e-4 -> 8.3e-5 with the held-out points",
        "hjb100_whole 0.108 -> 7.96e-2.",
        "the 40 x 40 network reached 9.4e-4 in 240 s",
        "3.5e-3 (hjb20) after 600 s.",
        "took 4.4 s per step and",
        "64 x 64 ends 1.3x - 1.8x lower on all four",
        "reach rel L2 4.1e-3 and 4.0e-3 (volume law)",
        "The measured values (rel L2 about 7e-4 and 1.3e-3) are",
    ],
)
def test_a_planted_measurement_is_found(planted):
    page = f"# Page\n\nSome prose.\n{planted}\nMore prose.\n"
    assert measured_figures(page) == [f"4: {planted}"]


@pytest.mark.parametrize(
    "text",
    [
        "Central differences with step h, the best step is near eps^(1/4); 1e-3 in float64.",
        "`h = eps^(1/3)` (6e-6 in float64) and `delta -> -delta` symmetric rules",
        "The reference network is 21 -> 512 -> 512 -> 1 with TT rank 2.",
        "`line_search: 20, min_damping: 1e-6` (6 from 22 network inputs)",
        "the trial of a killed machine is failed after two minutes",
        "`train.time_budget` seconds of training, `--budget 20`",
        "a gain ratio `rho > 0` is taken and `lam *= max(1/3, 1 - (2 rho - 1)^3)`",
        "```\nnt_burgers5_ball 1.6e-4 -> 8.3e-5 in 240 s\n```",
        "Measured in [`benchmarks/results/x`](../benchmarks/results/x/summary.md): 1.6e-4 -> 8.3e-5.",
        "Published test MSE (Zhao et al., 2023): 3.58e-4 -> 4.28e-5 with TT layers.",
    ],
)
def test_formulas_defaults_code_links_and_citations_are_not_measurements(text):
    assert measured_figures(text) == []


@pytest.mark.parametrize(
    "name", sorted(["README.md", *(str(p.relative_to(ROOT)) for p in (ROOT / "docs").glob("*.md"))])
)
def test_the_prose_pastes_no_measurement(name):
    """Measurements live in benchmarks/results/ and are linked (issues 38 and 39)."""
    assert measured_figures((ROOT / name).read_text()) == []
