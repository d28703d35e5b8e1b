"""``python -m benchmarks SUITE [SUITE ...] [--quick | --full] [--only ENTRY ...] [--out DIR]``.

Suites: reference, time-to-accuracy, efficiency, scaling (``all`` runs the four), and the older
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
from ._common import metadata, regenerate_readme, write_results

MODULES = {"reference": "reference", "time-to-accuracy": "time_to_accuracy", "efficiency": "efficiency",
           "scaling": "scaling"}


def run_suite(suite: str, size: str, only=None, out=None) -> None:
    module = importlib.import_module(f"benchmarks.{MODULES[suite]}")
    print(f"== {suite} ({size})", flush=True)
    start = time.perf_counter()
    meta = metadata(suite, size, {"sizes": module.SIZES[size], "only": only})
    rows, extra = module.run(size, only)
    meta["suite_wall_time_s"] = round(time.perf_counter() - start, 1)
    summary = module.summarise(rows, size)
    try:
        figs = module.figures(rows, extra)
    except Exception as err:  # noqa: BLE001 (a figure must not lose the table)
        print(f"  figures failed: {err}", flush=True)
        figs = {}
    folder = write_results(suite, rows, meta, summary, out=out, figures=figs)
    print("\n".join(summary))
    print(f"== {suite}: {meta['suite_wall_time_s']} s, written to {folder}", flush=True)


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__.splitlines()[0])
    parser.add_argument("suites", nargs="+", help=f"{', '.join(SUITES)}, all, estimators, tt_forward")
    group = parser.add_mutually_exclusive_group()
    group.add_argument("--quick", dest="size", action="store_const", const="quick", help="small CPU size (default)")
    group.add_argument("--full", dest="size", action="store_const", const="full", help="GPU size")
    group.add_argument("--tiny", dest="size", action="store_const", const="tiny", help="a few steps (smoke test)")
    parser.add_argument("--only", nargs="+", help="run only these entries of the suite (labels as in the table)")
    parser.add_argument("--out", help="write here instead of benchmarks/results/<suite>")
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
        run_suite(name, size, args.only, args.out)
    if args.out is None and size != "tiny":
        regenerate_readme(list(SUITES))


if __name__ == "__main__":
    main()
