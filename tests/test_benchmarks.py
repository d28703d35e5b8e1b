"""Smoke test of the benchmark entry point: one suite entry at a trivial size (a few steps).

Nothing here is a timing assertion; it only keeps ``python -m benchmarks`` from rotting.
"""

import json
import sys
from pathlib import Path

import xarray as xr

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # the repo root holds the benchmarks package

from benchmarks.__main__ import main  # noqa: E402


def test_reference_suite_tiny_entry(tmp_path):
    main(["reference", "--tiny", "--only", "tt FO+AD", "--out", str(tmp_path)])
    for name in ("table.csv", "table.nc", "meta.json", "summary.md"):
        assert (tmp_path / name).is_file(), name
    meta = json.loads((tmp_path / "meta.json").read_text())
    assert meta["suite"] == "reference" and meta["size"] == "tiny"
    assert {"device", "date", "versions", "load_average_start", "settings"} <= set(meta)
    ds = xr.open_dataset(tmp_path / "table.nc")
    assert ds.sizes["row"] == 1
    assert str(ds["status"].values[0]) == "ok"
    assert float(ds["mse"].values[0]) > 0
    assert float(ds["published_mse"].values[0]) == 1.63e-5


def test_nontrivial_suite_configs_are_valid_and_gn_fd_is_the_package_default():
    """Every method's config of the nontrivial suite resolves on every catalogue problem (a typo in
    a key would make the suite record failures instead of results), GN-FD is exactly the package
    default apart from the step budget, and the summary counts wins against Adam-AD."""
    from benchmarks import nontrivial
    from pdesolve.problem import load_problem
    from pdesolve.solve import resolve_run_config

    for path in nontrivial.problem_files(nontrivial.SIZES["quick"]):
        problem = load_problem(path)
        for method in nontrivial.METHODS:
            config = nontrivial.method_config(method, problem)
            limit = nontrivial.MAX_DIM[method]
            assert (config is None) == (limit is not None and problem.dimension > limit), (path.name, method)
            if config is not None:
                resolve_run_config(problem, config)
        default = resolve_run_config(problem)
        gn_fd = resolve_run_config(problem, nontrivial.method_config("GN-FD", problem))
        assert {k: v for k, v in gn_fd.items() if k != "train"} == {k: v for k, v in default.items() if k != "train"}
    rows = [{"problem": "p", "dim": 5, "method": m, "budget_s": 1, "best_constant_rel_l2": 0.1, "zero_rel_l2": 1.0,
             "status": "ok", "rel_l2": e} for m, e in zip(nontrivial.METHODS, (1e-3, 2e-3, 3e-3, 5e-3, 0.2, 0.3))]
    summary = "\n".join(nontrivial.summarise(rows, "tiny"))
    assert "below Adam-AD on 1 of 1 problems; below the best constant network on 1 of 1" in summary
