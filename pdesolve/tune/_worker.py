"""A worker process of ``pdesolve tune``: ``python -m pdesolve.tune._worker JOB.json INDEX``."""

import json
import sys

from ._study import TuneJob, run_worker


def main(argv: list[str]) -> int:
    path, index = argv
    with open(path) as handle:
        job = TuneJob(**json.load(handle))
    try:
        run_worker(job, int(index))
    except KeyboardInterrupt:  # its running trial is marked failed; the tune says how to continue
        return 130
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
