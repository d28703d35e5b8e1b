"""Smoke tests of the benchmark entry point: one entry of each suite at a trivial size (a few steps).

Nothing here is a timing assertion; it keeps ``python -m benchmarks`` from rotting, and checks that
every table records where it came from and that its derived columns follow from its measured ones.
"""

import json
import math
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import xarray as xr

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))  # the repo root holds the benchmarks package

from benchmarks.__main__ import main  # noqa: E402
from benchmarks._common import partial_path, write_partial  # noqa: E402


def _check_written(folder: Path, suite: str) -> xr.Dataset:
    """The four files of one run, with the commit checked out now, a dirty flag and the load average."""
    for name in ("table.csv", "table.nc", "meta.json", "summary.md"):
        assert (folder / name).is_file(), name
    meta = json.loads((folder / "meta.json").read_text())
    assert meta["suite"] == suite and meta["size"] == "tiny"
    assert {"device", "date", "versions", "load_average_start", "load_average_end", "settings"} <= set(meta)
    head = subprocess.run(["git", "rev-parse", "HEAD"], cwd=ROOT, capture_output=True, text=True).stdout.strip()
    assert meta["commit"] == head and isinstance(meta["dirty"], bool)
    assert meta["dirty"] == bool(meta["dirty_paths"])
    assert f"# commit: {head}" in (folder / "table.csv").read_text()
    return xr.open_dataset(folder / "table.nc")


def test_reference_suite_tiny_entry(tmp_path):
    main(["reference", "--tiny", "--only", "tt FO+AD", "--out", str(tmp_path)])
    ds = _check_written(tmp_path, "reference")
    assert ds.sizes["row"] == 1
    assert str(ds["status"].values[0]) == "ok"
    mse, published = float(ds["mse"].values[0]), float(ds["published_mse"].values[0])
    assert mse > 0 and math.isclose(float(ds["mse_over_published"].values[0]), mse / published, rel_tol=1e-12)
    # the published rel L2 is sqrt(MSE) / rms(u) for the 20-d HJB u = sum(x) + 1 - t, x ~ U[0,1]^20, t ~ U[0,1]:
    # here rms(u) by Monte Carlo, independent of the suite's closed form
    rng = np.random.default_rng(0)
    u = rng.uniform(size=(200_000, 20)).sum(axis=1) + 1 - rng.uniform(size=200_000)
    rel = math.sqrt(published) / math.sqrt(np.mean(u**2))
    assert math.isclose(float(ds["published_rel_l2"].values[0]), rel, rel_tol=2e-3)


@pytest.mark.parametrize(
    "suite, entry",
    [
        ("estimators", "fd"),
        ("tt-forward", "tt_contract"),
        ("compile-time", "hjb20"),
        ("projection", "poisson2d: projection (fixed hidden, LS read-out)"),
        ("catalogue", "poisson2d"),
        pytest.param("warm-start", "bsb r 0.05 -> 0.07", marks=pytest.mark.slow),  # three runs
    ],
)
def test_every_suite_runs_and_records_its_commit(tmp_path, suite, entry):
    write_partial(suite, [{"entry": "from a killed run"}])  # the finished suite removes it
    main([suite, "--tiny", "--only", entry, "--out", str(tmp_path)])
    assert not partial_path(suite).exists()
    ds = _check_written(tmp_path, suite)
    assert ds.sizes["row"] >= 1 and set(ds["entry"].values.astype(str)) == {entry}
    if "status" in ds:
        assert set(ds["status"].values.astype(str)) == {"ok"}


def test_partial_rows_read_back_as_csv():
    """The rows a suite keeps while it runs (what a kill leaves) read back with the csv module,
    columns in first-seen order, missing cells empty."""
    import csv

    write_partial("test-partial", [{"entry": "a", "rel_l2": 0.5}, {"entry": "b", "status": "failed"}])
    with open(partial_path("test-partial"), newline="") as file:
        rows = list(csv.DictReader(file))
    partial_path("test-partial").unlink()
    assert rows == [{"entry": "a", "rel_l2": "0.5", "status": ""}, {"entry": "b", "rel_l2": "", "status": "failed"}]


def test_only_an_existing_suite_is_accepted(capsys):
    with pytest.raises(SystemExit):
        main(["tt_forward", "--tiny"])
    assert "invalid choice" in capsys.readouterr().err


def test_nontrivial_suite_configs_are_valid_and_its_default_is_the_package_default():
    """Every method's config of the nontrivial suite resolves on every catalogue problem (a typo in
    a key would make the suite record failures instead of results), the suite's DEFAULT method is
    exactly the package default apart from the step budget, the summary counts wins against
    Adam-AD, and ``--only`` selects problems and methods."""
    from benchmarks import nontrivial
    from benchmarks._common import selected
    from pdesolve.problem import load_problem
    from pdesolve.run import resolve_run_config

    for path in nontrivial.problem_files(nontrivial.SIZES["quick"]):
        problem = load_problem(path)
        for method in nontrivial.METHODS:
            config = nontrivial.method_config(method, problem)
            limit = nontrivial.MAX_DIM[method]
            assert (config is None) == (limit is not None and problem.dimension > limit), (path.name, method)
            if config is not None:
                resolve_run_config(problem, config)
        default = resolve_run_config(problem)
        ours = resolve_run_config(problem, nontrivial.method_config(nontrivial.DEFAULT, problem))
        assert {k: v for k, v in ours.items() if k != "train"} == {k: v for k, v in default.items() if k != "train"}
    errors = dict(zip(nontrivial.METHODS, (1e-3, 2e-3, 3e-3, 4e-3, 5e-3, 0.2, 0.3, 5e-4)))
    rows = [
        {
            "problem": "p",
            "dim": 5,
            "method": m,
            "budget_s": 1,
            "best_constant_rel_l2": 0.1,
            "zero_rel_l2": 1.0,
            "status": "ok",
            "rel_l2": e,
        }
        for m, e in errors.items()
    ]
    summary = "\n".join(nontrivial.summarise(rows, "tiny"))
    assert (
        f"{nontrivial.DEFAULT} (BP-free) below Adam-AD on 1 of the 1 problems where it ran; below the best "
        "constant network on 1 of 1" in summary
    )
    without_adam = "\n".join(nontrivial.summarise([r for r in rows if r["method"] != "Adam-AD"], "tiny"))
    assert "(BP-free) Adam-AD not run; below the best constant network on 1 of 1" in without_adam
    assert (
        "over fit-exact (near 1: PDE training costs nothing; the network, points and budget limit the "
        "error): p 2" in summary
    )
    assert selected(["GN-FD", "nt_gauss5_ball"], nontrivial.METHODS) == {"GN-FD"}
    assert selected(["nt_gauss5_ball"], nontrivial.METHODS) == set(nontrivial.METHODS)


def test_nontrivial_fit_exact_row_fits_the_closed_form():
    """The ``fit-exact`` yardstick keeps the problem (domain, conditions, exact solution) and makes its
    residual u - u_exact: the compiled source is the exact solution and the residual vanishes there."""
    import jax.numpy as jnp
    import numpy as np

    from benchmarks import nontrivial
    from pdesolve.problem import compile_problem, load_problem

    problem = load_problem(nontrivial.PROBLEMS / "nt_hjb10_ball.yaml")
    fitted = compile_problem(nontrivial.fitted_to_exact(problem))
    assert fitted.needs == {"u"} and fitted.problem.conditions == problem.conditions
    x = jnp.asarray(np.random.default_rng(0).uniform(-0.5, 0.5, (7, problem.dimension)))
    t = jnp.linspace(0.0, 1.0, 7)
    exact = fitted.exact(x, t)
    np.testing.assert_allclose(fitted.source(x, t), exact, rtol=1e-12)
    residual = fitted.residual({"u": exact}, x, t, fitted.source(x, t))
    np.testing.assert_allclose(residual, 0.0, atol=1e-12)


@pytest.mark.slow  # 23 s (compiles seven cases)
def test_scaling_suite_tiny_entries(tmp_path):
    """The scaling suite's tiny size (d = 10): an FD-k row, its plain-first-layer twin and the Adam-AD
    reference; nodes per point follow the stencil (two sets of 1 + 2k + 2 with time) and the ratio
    column is the measured s/step over Adam-AD's. A case over a cap is a status, not a crash."""
    from benchmarks import scaling

    entries = ["GN-layerwise FD-k", "GN-layerwise FD-k (plain first layer)", "Adam-AD"]
    main(["scaling", "--tiny", "--only", *entries, "--out", str(tmp_path)])
    ds = _check_written(tmp_path, "scaling")
    rows = {str(c): i for i, c in enumerate(ds["case"].values)}
    assert set(rows) == set(entries)
    assert all(str(s).startswith("ok") for s in ds["status"].values)
    k = scaling.coordinates_k(10)
    fdk, adam = rows["GN-layerwise FD-k"], rows["Adam-AD"]
    assert int(ds["nodes_per_point"].values[fdk]) == 2 * (1 + 2 * k + 2)
    step = ds["step_s"].values
    assert math.isclose(float(ds["step_over_adam_ad"].values[fdk]), step[fdk] / step[adam], rel_tol=1e-12)
    assert float(ds["rel_l2"].values[fdk]) > 0 and math.isnan(float(ds["rel_l2"].values[rows[entries[1]]]))
    assert (tmp_path / "scaling.png").is_file()

    from pdesolve.problem import load_problem

    problem = load_problem(scaling.PROBLEM_FILE, overrides={"dimension": 10})
    row = scaling.one_case("GN-layerwise SG3", problem, {**scaling.SIZES["tiny"], "max_node_evals": 100})
    assert row["status"].startswith("skipped:") and row["nodes_per_point"] == 2 * 10**2 + 6 * 10 + 5
