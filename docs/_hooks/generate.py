"""MkDocs hook: fills the generated parts of the pages when the site is built, so they cannot drift
from the code: ``<!-- settings-table -->`` (every config setting, from the config classes),
``<!-- run-defaults-table -->`` (what a problem without ``config:`` gets, from ``run_defaults``) and
``<!-- vocabulary -->`` (the names a problem expression may use, from the parser's whitelist)."""

import logging
import re
from pathlib import Path

from pdesolve.config._table import settings_table
from pdesolve.defaults import run_defaults
from pdesolve.operators import default_operators
from pdesolve.problem import _vocabulary as vocabulary


def vocabulary_markdown() -> str:
    """The expression vocabulary as a Markdown list."""
    names = lambda items: ", ".join(f"`{n}`" for n in sorted(items))  # noqa: E731
    return "\n".join([
        "- variables: `x[i]` (components, 1-based), `t`, `d` (the dimension), the source `f`, and the "
        "problem's `parameters:` by name",
        f"- operators on the solution: {names([*vocabulary.SCALAR_OPERATORS, *vocabulary.VECTOR_OPERATORS])}"
        f" (`u_x[i]` the gradient, `u_xx[i]` the Hessian diagonal, `u_xx[i, j]` an entry), and "
        f"{names(vocabulary.DERIVED)} (= |grad u|^2)",
        f"- vector reductions: {names(vocabulary.MACROS)}; sums `Sum(term, (i, 1, d))` over the indices "
        f"{names(vocabulary.INDICES)}",
        f"- functions: {names(vocabulary.FUNCTIONS)}",
        f"- constants: {names(vocabulary.CONSTANTS)}",
    ]) + "\n"


#: Dimensions the run-defaults table scans: its rules are thresholds, so its last row holds beyond.
SCANNED_DIMENSIONS = range(1, 2001)


def _flat(section: dict, prefix: str = "") -> dict:
    """``{"solver": {"name": ...}}`` -> ``{"solver.name": ...}``."""
    out = {}
    for key, value in section.items():
        out.update(_flat(value, f"{prefix}{key}.") if isinstance(value, dict) else {f"{prefix}{key}": value})
    return out


def _problem_defaults(dim: int, has_time: bool) -> dict:
    """The flat run defaults of a problem of dimension ``dim``, with the coordinates ``auto`` picks."""
    flat = _flat(run_defaults(dim, has_time))
    flat["FD coordinates (auto)"] = default_operators(dim, flat["precision"])["coordinates"]
    return flat


def _dimension_ranges(has_time: bool, keys: list[str]) -> list[tuple[int, int, tuple]]:
    """``(first d, last d, values of keys)`` for each run of dimensions with the same values."""
    ranges: list[tuple[int, int, tuple]] = []
    for dim in SCANNED_DIMENSIONS:
        flat = _problem_defaults(dim, has_time)
        values = tuple(flat.get(key, "-") for key in keys)
        if ranges and ranges[-1][2] == values:
            ranges[-1] = (ranges[-1][0], dim, values)
        else:
            ranges.append((dim, dim, values))
    return ranges


def _span(first: int, last: int) -> str:
    if last == SCANNED_DIMENSIONS[-1]:
        return f"{first} and more"
    return f"{first} - {last}" if last > first else f"{first}"


def run_defaults_markdown() -> str:
    """What ``pdesolve/defaults.py`` gives a problem without ``config:``, by dimension, as Markdown:
    the settings that never change in one line, the others in a table with one row per range of d."""
    rows = [_problem_defaults(dim, has_time) for dim in SCANNED_DIMENSIONS for has_time in (False, True)]
    keys = list(dict.fromkeys(key for row in rows for key in row))
    fixed = [k for k in keys if all(k in row and row[k] == rows[0][k] for row in rows)]
    varying = [k for k in keys if k not in fixed]
    stationary, timed = _dimension_ranges(False, varying), _dimension_ranges(True, varying)
    if [v for *_, v in stationary] != [v for *_, v in timed]:
        raise ValueError("run defaults: time changes more than where the ranges of d start")
    code = lambda value: "-" if value == "-" else f"`{value}`"  # noqa: E731
    lines = [
        "Every problem without `config:`: " + ", ".join(f"`{k}: {rows[0][k]}`" for k in fixed) + ".",
        "",
        "| d (stationary) | d (with time) | " + " | ".join(varying) + " |",
        "|" + "---|" * (len(varying) + 2),
    ]
    for (a, b, values), (c, e, _) in zip(stationary, timed):
        lines.append(f"| {_span(a, b)} | {_span(c, e)} | " + " | ".join(map(code, values)) + " |")
    return "\n".join(lines) + "\n"


LOG = logging.getLogger("mkdocs.hooks.generate")  # a warning here fails ``mkdocs build --strict``
CODE = re.compile(r"```.*?```|`[^`\n]*`", re.S)
LINK = re.compile(r"\]\(([^)\s#]+)(#[^)\s]*)?\)")


def check_links(markdown: str, source: Path) -> None:
    """Warns of each relative link whose file does not exist beside the page's source (links out of
    ``docs/``, to ``../benchmarks/...``, are valid in the repository but unknown to MkDocs)."""
    prose = CODE.sub("", markdown)  # links are not looked for in code
    for target, _ in LINK.findall(prose):
        if "://" in target or target.startswith("mailto:"):
            continue
        if not (source.parent / target).exists():
            LOG.warning("%s: the link %s names no file", source.name, target)


def on_page_markdown(markdown: str, page, config, files) -> str:
    check_links(markdown, Path(page.file.abs_src_path))
    return (markdown.replace("<!-- settings-table -->", settings_table())
            .replace("<!-- run-defaults-table -->", run_defaults_markdown())
            .replace("<!-- vocabulary -->", vocabulary_markdown()))
