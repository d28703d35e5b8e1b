"""The package's shape (issue 15): no function over ``MAX_FUNCTION_LINES`` lines, and settings read
as attributes of the typed config, never as ``config["..."]`` lookups outside ``pdesolve/config/``."""

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parent.parent / "pdesolve"
MAX_FUNCTION_LINES = 60


def long_functions(source: str) -> list[tuple[str, int]]:
    """(name, lines) of every function or method in ``source`` longer than ``MAX_FUNCTION_LINES``
    (decorators not counted, the docstring counted)."""
    return [
        (node.name, node.end_lineno - node.lineno + 1)
        for node in ast.walk(ast.parse(source))
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef))
        and node.end_lineno - node.lineno + 1 > MAX_FUNCTION_LINES
    ]


def config_lookups(source: str) -> list[int]:
    """Lines of ``config[...]`` subscripts with a string key in ``source``."""
    return [
        node.lineno
        for node in ast.walk(ast.parse(source))
        if isinstance(node, ast.Subscript)
        and isinstance(node.value, ast.Name)
        and node.value.id == "config"
        and isinstance(node.slice, ast.Constant)
        and isinstance(node.slice.value, str)
    ]


def test_no_function_is_over_the_line_limit():
    found = {str(path.relative_to(PACKAGE)): long_functions(path.read_text()) for path in PACKAGE.rglob("*.py")}
    assert {path: funcs for path, funcs in found.items() if funcs} == {}


def test_settings_are_read_from_the_typed_config_outside_the_config_package():
    found = {
        str(path.relative_to(PACKAGE)): config_lookups(path.read_text())
        for path in PACKAGE.rglob("*.py")
        if path.parent.name != "config"
    }
    assert {path: lines for path, lines in found.items() if lines} == {}


def test_the_checks_see_what_they_forbid():
    long = "def f():\n" + "    x = 1\n" * MAX_FUNCTION_LINES
    assert long_functions(long) == [("f", MAX_FUNCTION_LINES + 1)]
    assert long_functions("def f():\n" + "    x = 1\n" * (MAX_FUNCTION_LINES - 1)) == []
    assert config_lookups("a = 1\nb = config['train']['steps']\nc = other['x']") == [2]
