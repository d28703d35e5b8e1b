"""Every config setting in one Markdown table, generated from the config classes and the solver
registry (the documentation's settings page is built from it: ``python -m pdesolve.config._table``).

A setting's description is the comment written beside (or just above) its declaration, so it has
one home: the class or spec that declares the setting.
"""

import ast
import functools
import inspect
import io
import sys
import tokenize
from pathlib import Path

from ..fields import Field
from ..solvers import solver_specs
from ._model import MODEL_KINDS
from ._operators import OPERATOR_KINDS
from ._run import RunConfig
from ._train import TrainConfig


@functools.cache
def _comments(path: Path) -> dict[str, str]:
    """Key -> the comment beside its declaration in ``path`` (``key: T = setting(...)  # ...``,
    ``"key": Field(...),  # ...``, or a comment block just above), first declaration wins."""
    source = path.read_text()
    notes: dict[int, str] = {}
    for token in tokenize.generate_tokens(io.StringIO(source).readline):
        if token.type == tokenize.COMMENT:
            notes[token.start[0]] = token.string.lstrip("#:").strip()
    lines, tree = source.splitlines(), ast.parse(source)
    found: dict[str, str] = {}
    helpers = {n.name: n for n in ast.walk(tree) if isinstance(n, ast.FunctionDef)}
    for key, node in _declarations(tree):
        text = _span_note(notes, node.lineno, node.end_lineno or node.lineno) or _note_above(notes, lines, node.lineno)
        call = node.value if isinstance(node, ast.AnnAssign) else node
        if not text and isinstance(call, ast.Call) and isinstance(call.func, ast.Name) and call.func.id in helpers:
            helper = helpers[call.func.id]
            text = _span_note(notes, helper.lineno, helper.end_lineno or helper.lineno)
        if text and not found.get(key):
            found[key] = text
    return found


def _declarations(tree: ast.AST):
    """(key, node) of each ``key: T = ...`` in a class and each ``"key": value`` of a dict literal."""
    for node in ast.walk(tree):
        if isinstance(node, ast.ClassDef):
            yield from (
                (s.target.id, s)
                for s in node.body
                if isinstance(s, ast.AnnAssign) and isinstance(s.target, ast.Name) and s.value is not None
            )
        elif isinstance(node, ast.Dict):
            yield from (
                (k.value, v)
                for k, v in zip(node.keys, node.values)
                if isinstance(k, ast.Constant) and isinstance(k.value, str)
            )


def _span_note(notes: dict[int, str], first: int, last: int) -> str:
    return " ".join(notes[n] for n in range(first, last + 1) if n in notes)


def _note_above(notes: dict[int, str], lines: list[str], line: int) -> str:
    """The block of comment-only lines just above ``line`` (1-based)."""
    block: list[str] = []
    n = line - 1
    while n >= 1 and lines[n - 1].strip().startswith("#"):
        block.insert(0, notes.get(n, ""))
        n -= 1
    return " ".join(block)


def _allowed(field: Field) -> str:
    if field.choices:
        return " \\| ".join(f"`{c}`" for c in field.choices)
    if field.bounds:
        return field.bounds[2]
    return "> 0" if field.positive else ""


def _type(field: Field) -> str:
    names = [t.__name__ for t in field.types]
    return " or ".join("null" if n == "NoneType" else n for n in names)


def _default(value) -> str:
    return "unset" if value is None else f"`{str(value).lower() if isinstance(value, bool) else value}`"


def _sources() -> list[tuple[str, str, dict[str, Field], Path]]:
    """(section key prefix, kind label, fields, declaring file) of every section and kind."""
    out = [("", "", RunConfig.schema(), Path(inspect.getfile(RunConfig)))]
    out += [
        ("model.", f"`type: {kind}`", cls.schema(), Path(inspect.getfile(type(cls.spec))))
        for kind, cls in MODEL_KINDS.items()
    ]
    out += [
        ("operators.", f"`method: {kind}`", cls.schema(), Path(inspect.getfile(type(cls.spec))))
        for kind, cls in OPERATOR_KINDS.items()
    ]
    out += [
        ("solver.", f"`name: {name}`", dict(spec.fields), Path(inspect.getfile(type(spec))))
        for name, spec in solver_specs().items()
    ]
    out.append(("train.", "", TrainConfig.schema(), Path(inspect.getfile(TrainConfig))))
    return out


def _description(key: str, where: Path) -> str:
    """The declaration comment of ``key``: in its own file, else in the package's modules that file
    imports from (``from ._optimizer import OPTIMIZER_FIELDS``)."""
    for path in (where, *_imported(where)):
        if text := _comments(path).get(key):
            return text
    return ""


def _imported(path: Path) -> list[Path]:
    """The files of the same package that ``path`` imports from (relative imports, level 1)."""
    tree = ast.parse(path.read_text())
    names = [
        node.module for node in ast.walk(tree) if isinstance(node, ast.ImportFrom) and node.level == 1 and node.module
    ]
    return [path.parent / f"{name}.py" for name in names if (path.parent / f"{name}.py").is_file()]


def settings_rows() -> list[dict[str, str]]:
    """One row per (setting, type, default, allowed values) with the kinds that have it."""
    rows: dict[tuple, dict] = {}
    for prefix, kind, fields, where in _sources():
        for key, field in fields.items():
            cells = (prefix + key, _type(field), _default(field.default), _allowed(field))
            row = rows.setdefault(
                cells,
                {
                    "setting": f"`{cells[0]}`",
                    "kinds": [],
                    "type": cells[1],
                    "default": cells[2],
                    "allowed": cells[3],
                    "description": _description(key, where).replace("|", "\\|"),
                },
            )
            if kind:
                row["kinds"].append(kind)
    return [{**row, "kinds": ", ".join(row["kinds"]) or "all"} for row in rows.values()]


def settings_table() -> str:
    """The Markdown table of every setting (a row per distinct default where kinds differ)."""
    head = ["| setting | where | type | default | allowed | what it is |", "|---|---|---|---|---|---|"]
    return (
        "\n".join(
            head
            + [
                f"| {r['setting']} | {r['kinds']} | {r['type']} | {r['default']} | {r['allowed']} "
                f"| {r['description']} |"
                for r in settings_rows()
            ]
        )
        + "\n"
    )


if __name__ == "__main__":
    sys.stdout.write(settings_table())
