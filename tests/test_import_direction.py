"""Imports flow one way through the package (issue 15): a module of ``pdesolve`` imports modules of
its own layer and of earlier layers only, never of a later one. Function-level imports count too.

The layers, first to last: what every module may use (errors, settings fields, safe YAML, error
metrics), the problem, the operator engines, the models, the solvers, the typed config (its solver
section is the solver registry's), the run folder's files and the evaluation analyses, the run
(build, loop, evaluation, ``solve``, ``open_run``), and the commands. The run folder's file formats
(``results``) sit below the run, which writes them while it trains (checkpoints) and after.
"""

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parent.parent / "pdesolve"

#: Each layer's top-level modules and subpackages of ``pdesolve``, first to last (``__init__``:
#: the package's own ``__init__.py``, the public face, which may import any layer).
LAYERS = (
    ("foundation", {"_version", "errors", "fields", "frozen", "safe_yaml", "safe_write", "metrics"}),
    ("problem", {"problem", "sampling", "reference"}),
    ("operators", {"operators"}),
    ("models", {"models", "loss", "baselines"}),
    ("solvers", {"solvers"}),
    ("config", {"config", "defaults", "limits"}),
    ("results", {"results", "figures", "analysis", "resources"}),
    ("run", {"run"}),
    ("cli", {"cli", "tune", "__main__", "__init__"}),
)
LAYER = {name: rank for rank, (_, names) in enumerate(LAYERS) for name in names}


def _top_name(parts: list[str], package: Path) -> str:
    """The top-level name of ``pdesolve`` that the dotted ``parts`` (after ``pdesolve``) lie in."""
    if not parts:
        return "__init__"
    return parts[0] if (package / parts[0]).is_dir() or (package / f"{parts[0]}.py").is_file() else "__init__"


def imported_names(source: str, module: list[str], package: Path) -> set[str]:
    """The top-level names of ``pdesolve`` that ``source`` (the module ``module``, dotted parts from
    ``pdesolve`` on, ``__init__`` for a package) imports, anywhere in it."""
    here = module[:-1]  # the package the module is in (a package's __init__ is in the package itself)
    names = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            targets = [alias.name.split(".") for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = here[: len(here) - node.level + 1] if node.level else []
            base = base + (node.module.split(".") if node.module else [])
            targets = [[*base, alias.name] for alias in node.names] if node.module is None else [base]
        else:
            continue
        names |= {_top_name(target[1:], package) for target in targets if target[:1] == ["pdesolve"]}
    return names


def module_parts(path: Path, package: Path) -> list[str]:
    """``pdesolve/run/_loop.py`` -> ['pdesolve', 'run', '_loop']; a package's ``__init__.py`` keeps
    ``__init__`` as its last part."""
    return ["pdesolve", *path.relative_to(package).with_suffix("").parts]


def backward_imports(package: Path = PACKAGE) -> list[str]:
    """Every import of a later layer, as 'module (layer) imports name (layer)'."""
    found = []
    for path in sorted(package.rglob("*.py")):
        parts = module_parts(path, package)
        own = parts[1]  # the top-level name the module belongs to
        for name in sorted(imported_names(path.read_text(), parts, package)):
            if LAYER[name] > LAYER[own]:
                layers = LAYERS[LAYER[own]][0], LAYERS[LAYER[name]][0]
                found.append(f"{'.'.join(parts)} ({layers[0]}) imports {name} ({layers[1]})")
    return found


def test_every_module_is_in_one_layer():
    tops = {
        path.stem if path.is_file() else path.name
        for path in PACKAGE.iterdir()
        if (path.suffix == ".py" or (path / "__init__.py").is_file())
    }
    placed = [name for _, names in LAYERS for name in names]
    assert len(placed) == len(set(placed)), "a name is in two layers"
    assert tops == set(placed), (
        f"place these in LAYERS: {sorted(tops - set(placed))}; gone: {sorted(set(placed) - tops)}"
    )


def test_no_module_imports_a_later_layer():
    assert backward_imports() == []


@pytest.mark.parametrize(
    "source, module, expected",
    [
        ("from ..run import solve", ["pdesolve", "problem", "_spec"], {"run"}),
        ("def f():\n    from ..config import resolve", ["pdesolve", "operators", "_build"], {"config"}),
        ("from . import _vocabulary", ["pdesolve", "problem", "_compile"], {"problem"}),
        ("from . import __version__, figures", ["pdesolve", "results"], {"__init__", "figures"}),
        ("from .errors import preview", ["pdesolve", "problem", "__init__"], {"problem"}),  # pdesolve.problem.errors
        ("from ..errors import preview", ["pdesolve", "problem", "__init__"], {"errors"}),
        ("import pdesolve.run._loop\nimport numpy", ["pdesolve", "models", "_mlp"], {"run"}),
    ],
)
def test_imports_are_resolved_to_their_top_level_name(source, module, expected):
    """The checker sees relative, absolute and function-level imports (so the tests above can fail)."""
    assert imported_names(source, module, PACKAGE) == expected
