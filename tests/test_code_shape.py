"""The package's shape (issue 15): no function over ``MAX_FUNCTION_LINES`` lines, and settings read
as attributes of the typed config, never as ``config["..."]`` lookups outside ``pdesolve/config/``.
Comments and docstrings say what and why, not what was measured (issue 39): timings and
before/after figures live in ``benchmarks/results/``, and a comment may link there."""

import ast
import io
import re
import tokenize
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


#: What a measurement looks like in prose: a number in scientific notation (unless it is a literal of
#: the module's own code, e.g. a documented floor ``1e-8``), a timing, a before/after pair of numbers
#: and a speed-up factor.
SCIENTIFIC = re.compile(r"(?<![\w.])\d+(?:\.\d+)?e[-+]?\d+\b", re.IGNORECASE)
TIMING = re.compile(r"(?<![\w.])\d+(?:\.\d+)?\s?(?:s|ms|min|minutes?|seconds?|hours?)\b")
BEFORE_AFTER = re.compile(  # a mapping written as an equation (51 -> 54 = 2 * 3 * 3 * 3) is not one
    r"(?<![\w.])\d+(?:\.\d+)?(?:e[-+]?\d+)?\s*->\s*\d+(?:\.\d+)?(?:e[-+]?\d+)?\b(?!\s*=)", re.IGNORECASE
)
SPEED_UP = re.compile(r"(?<![\w.])\d+(?:\.\d+)?(?:\s?-\s?\d+(?:\.\d+)?)?\s?x\s+(?:faster|slower|less|more)\b")
#: Quoted code (``...`` or `...`) and quoted tokens ('1e-3') are examples, not measurements.
QUOTED = re.compile(r"``[^`]*``|`[^`]*`|'[^'\s]*'")


def _literal_block_lines(text: str) -> set[int]:
    """Indices of the lines of ``text`` inside reST literal blocks (indented under a line ending in ``::``)."""
    inside, lines, indent = set(), text.splitlines(), None
    for i, line in enumerate(lines):
        depth = len(line) - len(line.lstrip())
        if indent is not None and line.strip() and depth <= indent:
            indent = None
        if indent is not None:
            inside.add(i)
        elif line.rstrip().endswith("::"):
            indent = depth
    return inside


def prose(source: str) -> list[tuple[int, str]]:
    """(line, text) of every comment and every docstring line of ``source`` (literal blocks left out)."""
    found = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Expr) and isinstance(node.value, ast.Constant) and isinstance(node.value.value, str):
            code = _literal_block_lines(node.value.value)
            found += [(node.lineno + i, text) for i, text in enumerate(node.value.value.splitlines()) if i not in code]
    found += [
        (tok.start[0], tok.string)
        for tok in tokenize.generate_tokens(io.StringIO(source).readline)
        if tok.type == tokenize.COMMENT
    ]
    return found


def measurements(source: str) -> list[tuple[int, str]]:
    """(line, figure) of every measured-looking figure in the comments and docstrings of ``source``."""
    own = {
        float(node.value)
        for node in ast.walk(ast.parse(source))
        if isinstance(node, ast.Constant) and type(node.value) in (int, float)
    }
    found = []
    for line, text in prose(source):
        text = QUOTED.sub(" ", text)
        found += [(line, m.group()) for m in SCIENTIFIC.finditer(text) if float(m.group()) not in own]
        found += [(line, m.group()) for pattern in (TIMING, BEFORE_AFTER, SPEED_UP) for m in pattern.finditer(text)]
    return found


def test_comments_and_docstrings_quote_no_measurements():
    found = {str(path.relative_to(PACKAGE)): measurements(path.read_text()) for path in PACKAGE.rglob("*.py")}
    assert {path: figures for path, figures in found.items() if figures} == {}


def test_the_measurement_check_sees_timings_and_before_after_errors():
    planted = (
        '"""Solves it.\n\nrel L2 4.7e-4 -> 1.2e-3 on hjb10; took 3.2 s (2x faster on hjb10).\n"""\n'
        "STEP = 1e-3  # 0.40 s at once, 0.19 s in chunks; error 3e-7 at this step\n"
    )
    assert [figure for _, figure in measurements(planted)] == [
        "4.7e-4",
        "1.2e-3",
        "3.2 s",
        "4.7e-4 -> 1.2e-3",
        "2x faster",
        "3e-7",
        "0.40 s",
        "0.19 s",
    ]
    assert [line for line, _ in measurements(planted)] == [3, 3, 3, 3, 3, 5, 5, 5]


def test_the_measurement_check_lets_formulas_constants_and_examples_be():
    allowed = (
        "FLOOR = 1e-8  # misfits are divided by at least 1e-8\n"
        "def f():\n"
        "    \"\"\"h ~ (48 eps |u| / |u''''|)^(1/4); ``tol: 1e-6`` or the string '1e-3'; 5 x 5 grid, 40 steps.\n\n"
        '    Example::\n\n        solver.initial_damping: {log_range: [1.0e-6, 1.0e-1]}\n    """\n'
    )
    assert measurements(allowed) == []
