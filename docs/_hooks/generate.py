"""MkDocs hook: fills the generated parts of the pages when the site is built, so they cannot drift
from the code: ``<!-- settings-table -->`` (every config setting, from the config classes) and
``<!-- vocabulary -->`` (the names a problem expression may use, from the parser's whitelist)."""

import logging
import re
from pathlib import Path

from pdesolve.config._table import settings_table
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
            .replace("<!-- vocabulary -->", vocabulary_markdown()))
