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
