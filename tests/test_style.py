"""The style held by tools (issue 39): ``ruff check``, ``ruff format --check`` and ``mypy pdesolve`` pass,
as configured in pyproject.toml. mypy keeps its cache in the repository's ``.mypy_cache``: a warm run takes
seconds, a cold one (a fresh checkout, as in CI) about a minute."""

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def _run(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", *args], cwd=ROOT, capture_output=True, text=True, timeout=600)


@pytest.mark.parametrize(
    "command",
    [("ruff", "check", "--no-cache"), ("ruff", "format", "--check", "--no-cache"), ("mypy", "pdesolve")],
    ids=["ruff-check", "ruff-format", "mypy"],
)
def test_the_code_passes_its_style_tool(command):
    done = _run(*command)
    assert done.returncode == 0, f"{' '.join(command)} failed:\n{done.stdout}{done.stderr}"
