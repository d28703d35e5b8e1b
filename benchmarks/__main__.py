"""``python -m benchmarks SUITE [SUITE ...] [--quick | --full] [--only ENTRY ...] [--out DIR]``.

Suites: reference, time-to-accuracy, efficiency, scaling, nontrivial (``all`` runs the five), and the older
single-purpose scripts ``estimators`` and ``tt_forward`` (their own sizes). ``--quick`` (default)
is sized for a small CPU, ``--full`` for a GPU; ``--tiny`` is a few-step smoke size for tests.
Results go to ``benchmarks/results/<suite>/`` (or ``--out``), and the summary section of
``benchmarks/README.md`` is regenerated (not with ``--out`` or ``--tiny``).
"""

import argparse
import importlib
import sys
import time

from . import SUITES
from ._common import metadata, read_results, regenerate_readme, write_results

MODULES = {"reference": "reference", "time-to-accuracy": "time_to_accuracy", "efficiency": "efficiency",
           "scaling": "scaling", "nontrivial": "nontrivial"}


def run_suite(suite: str, size: str, only=None, out=None, merge: bool = False) -> None:
    module = importlib.import_module(f"benchmarks.{MODULES[suite]}")
    print(f"== {suite} ({size})", flush=True)
    start = time.perf_counter()
    meta = metadata(suite, size, {"sizes": module.SIZES[size], "only": only})
    rows, extra = module.run(size, only)
    meta["suite_wall_time_s"] = round(time.perf_counter() - start, 1)
    if merge:  # replace the rerun entries in the existing table, keep the others (and their figures)
        old_rows, old_meta = read_results(suite, out)
        new = {r["entry"]: r for r in rows}
        rows = [new.pop(r["entry"], r) for r in old_rows] + list(new.values())
        meta = {**old_meta, "merged": old_meta.get("merged", []) + [
            {"entries": sorted({r["entry"] for r in rows} & set(only or [])), "date": meta["date"],
             "load_average_start": meta["load_average_start"], "git": meta["git"],
             "suite_wall_time_s": meta["suite_wall_time_s"], "settings": meta["settings"]}]}
        meta.pop("load_average_end", None)
        extra = None
        if hasattr(module, "postprocess"):
            module.postprocess(rows)
    summary = module.summarise(rows, size)
    try:
        figs = module.figures(rows, extra) if extra is not None or not merge else {}
    except Exception as err:  # noqa: BLE001 (a figure must not lose the table)
        print(f"  figures failed: {err}", flush=True)
        figs = {}
    folder = write_results(suite, rows, meta, summary, out=out, figures=figs)
    (folder / "partial.csv").unlink(missing_ok=True)
    if merge:
        (folder / "summary.md").write_text((folder / "summary.md").read_text() + "\nEntries rerun later and merged "
                                           "into this table: " + "; ".join(
                                               f"{', '.join(m['entries'])} ({m['date']}, load {m['load_average_start']})"
                                               for m in meta["merged"]) + "\n")
    print("\n".join(summary))
    print(f"== {suite}: {time.perf_counter() - start:.1f} s, written to {folder}", flush=True)


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__.splitlines()[0])
    parser.add_argument("suites", nargs="+", help=f"{', '.join(SUITES)}, all, estimators, tt_forward")
    group = parser.add_mutually_exclusive_group()
    group.add_argument("--quick", dest="size", action="store_const", const="quick", help="small CPU size (default)")
    group.add_argument("--full", dest="size", action="store_const", const="full", help="GPU size")
    group.add_argument("--tiny", dest="size", action="store_const", const="tiny", help="a few steps (smoke test)")
    parser.add_argument("--only", nargs="+", help="run only these entries of the suite (labels as in the table)")
    parser.add_argument("--out", help="write here instead of benchmarks/results/<suite>")
    parser.add_argument("--merge", action="store_true",
                        help="with --only: replace those entries in the existing table instead of rewriting it")
    args = parser.parse_args(argv)
    size = args.size or "quick"
    names = [s for name in args.suites for s in (SUITES if name == "all" else [name])]
    for name in names:
        if name in ("estimators", "tt_forward"):
            module = importlib.import_module(f"benchmarks.{name}")
            sys.argv = [f"benchmarks/{name}.py"]
            module.main()
            continue
        if name not in MODULES:
            parser.error(f"unknown suite {name!r}; choose from {', '.join(SUITES)}, all, estimators, tt_forward")
        run_suite(name, size, args.only, args.out, args.merge)
    if args.out is None and size != "tiny":
        regenerate_readme(list(SUITES))


if __name__ == "__main__":
    main()
