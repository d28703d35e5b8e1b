"""The pdesolve runner of the ``peers`` suite (the same interface as ``peer_jinns.py``):
``python benchmarks/peer_pdesolve.py SPEC.json OUT.npz`` solves ``problems/<problem>.yaml`` with the
package default for ``budget_s`` seconds of training and writes ``times`` (1,), ``u`` (1, n) at
the points of SPEC, ``peak_rss_mb``, and the validation history (``curve_times``, ``curve_rel_l2``:
rel L2 on the run's own uniform validation points at each log) for the figure.
"""

import json
import resource
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def main(spec_path: str, out_path: str) -> None:
    import pdesolve
    from benchmarks.published import predict_at

    spec = json.loads(Path(spec_path).read_text())
    problem = pdesolve.load_problem(ROOT / "problems" / f"{spec['problem']}.yaml")
    overrides = {
        "seed": spec["seed"],
        "train": {"steps": 10**7, "time_budget": spec["budget_s"], "progress": False, "checkpoint_every": 0},
    }
    run = pdesolve.solve(problem, None, overrides=[overrides])
    x = np.load(spec["points"])["x"]
    u = predict_at(run, problem, x, np.zeros(len(x)))
    hist = run.history
    np.savez(
        out_path,
        times=np.array([run.report["train_time_s"]]),
        u=np.asarray(u)[None, :],
        iterations=np.array([run.report["steps"]]),
        peak_rss_mb=resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        curve_times=np.asarray(hist["train_time"].values, float),
        curve_rel_l2=np.asarray(hist["rel_l2"].values, float),
    )


if __name__ == "__main__":
    main(*sys.argv[1:3])
