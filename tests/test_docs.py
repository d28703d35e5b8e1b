"""The documentation cannot rot: the site builds with ``mkdocs build --strict`` (every page, the API
reference from the docstrings, the generated settings table and vocabulary, every link's file);
the settings table holds every setting with the default a resolved config has; the README stays
short and keeps CI's test command."""

import os
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
