"""``python -m benchmarks SUITE [SUITE ...] [--quick | --full | --tiny] [--only ENTRY ...] [--out DIR]``.

Suites: reference, time-to-accuracy, efficiency, scaling, nontrivial, estimators, tt-forward,
compile-time, projection, catalogue, stein-bias, warm-start, published, peers, reliability (``all`` runs every
one). ``--quick`` (default) is sized for a small CPU, ``--full`` for a GPU; ``--tiny`` is a few-step smoke size for
tests. Each run of a suite writes one table from one process at one commit to
``benchmarks/results/<suite>/`` (or ``--out``), with the commit, dirty flag, device, versions and
load average; the summary section of ``benchmarks/README.md`` is regenerated (not with ``--out`` or ``--tiny``).
"""

import argparse
import importlib
import time

from . import SUITES
from ._common import metadata, partial_path, regenerate_readme, write_results


def run_suite(suite: str, size: str, only=None, out=None) -> None:
    module = importlib.import_module(f"benchmarks.{SUITES[suite]}")
    print(f"== {suite} ({size})", flush=True)
    start = time.perf_counter()
    meta = metadata(suite, size, {"sizes": module.SIZES[size], "only": only})
    rows, extra = module.run(size, only)
    meta["suite_wall_time_s"] = round(time.perf_counter() - start, 1)
    summary = module.summarise(rows, size)
    try:
        figs = module.figures(rows, extra) if hasattr(module, "figures") else {}
    except Exception as err:  # a figure must not lose the table
        print(f"  figures failed: {err}", flush=True)
        figs = {}
    folder = write_results(suite, rows, meta, summary, out=out, figures=figs)
    partial_path(suite).unlink(missing_ok=True)
    print("\n".join(summary))
    print(f"== {suite}: {time.perf_counter() - start:.1f} s, written to {folder}", flush=True)


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__.splitlines()[0])
    parser.add_argument(
        "suites", nargs="+", choices=[*SUITES, "all"], metavar="SUITE", help=f"{', '.join(SUITES)} or all"
    )
    group = parser.add_mutually_exclusive_group()
    group.add_argument("--quick", dest="size", action="store_const", const="quick", help="small CPU size (default)")
    group.add_argument("--full", dest="size", action="store_const", const="full", help="GPU size")
    group.add_argument("--tiny", dest="size", action="store_const", const="tiny", help="a few steps (smoke test)")
    parser.add_argument("--only", nargs="+", help="run only these entries of the suite (labels as in the table)")
    parser.add_argument("--out", help="write here instead of benchmarks/results/<suite>")
    args = parser.parse_args(argv)
    size = args.size or "quick"
    names = list(SUITES) if "all" in args.suites else list(dict.fromkeys(args.suites))
    if args.out is not None and len(names) > 1:
        parser.error("--out takes one suite (each suite writes its own table)")
    for name in names:
        run_suite(name, size, args.only, args.out)
    if args.out is None and size != "tiny":
        regenerate_readme(list(SUITES))


if __name__ == "__main__":
    main()
