"""The published benchmarks (issue 36): the ``problems/pub_*.yaml`` files check and pose what their
papers pose (closed forms against independent numpy formulas, PDEs by autodiff of those formulas);
the ``published`` and ``peers`` tables are written from fake results."""

import json
import math
import sys
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from pdesolve import cli
from pdesolve.problem import compile_problem, load_problem

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))  # the repo root holds the benchmarks package
from benchmarks import peers, published  # noqa: E402
from benchmarks._common import write_results  # noqa: E402

PUB = sorted((ROOT / "problems").glob("pub_*.yaml"))


def test_every_published_problem_has_a_file_and_one_law():
    assert {p.stem for p in PUB} == set(published.problems_published())
    for name in published.problems_published():
        assert published.law_of(name) in ("volume", "radius_uniform", "point")


@pytest.mark.parametrize("path", PUB, ids=[p.stem for p in PUB])
def test_published_problem_checks(path, capsys):
    assert cli.main(["check", str(path)]) == 0
    assert capsys.readouterr().out.rstrip().endswith("ok")
    problem = load_problem(path)
    assert problem.name == path.stem
    if published.law_of(path.stem) == "volume":
        assert problem.evaluation["sampling"] == "uniform"  # the papers' uniform test points


#: Independent closed forms (numpy) of the problems with an exact solution, x (n, d), t (n,).
EXACT = {
    "pub_engd_poisson5_box": lambda x, t: np.cos(np.pi * x).sum(1),
    "pub_kfac_poisson10_box": lambda x, t: (x[:, 0::2] * x[:, 1::2]).sum(1),
    "pub_kfac_poisson100_box": lambda x, t: (x**2).sum(1),
    "pub_kfac_heat5_box": lambda x, t: np.exp(-t) * np.sin(2 * x).sum(1),
}


@pytest.mark.parametrize("name", sorted(EXACT))
def test_published_exact_solutions_match_the_papers(name):
    problem = load_problem(ROOT / "problems" / f"{name}.yaml")
    rng = np.random.default_rng(0)
    x, t = rng.uniform(size=(16, problem.dimension)), rng.uniform(size=16)
    got = np.asarray(compile_problem(problem).exact(jnp.asarray(x), jnp.asarray(t)))
    np.testing.assert_allclose(got, EXACT[name](x, t), rtol=1e-12, atol=1e-12)


def test_kfac_poisson10_is_harmonic_and_heat_solves_its_equation():
    rng = np.random.default_rng(1)
    x = jnp.asarray(rng.uniform(size=10))
    u10 = lambda y: jnp.sum(y[0::2] * y[1::2])  # noqa: E731
    assert abs(float(jnp.trace(jax.hessian(u10)(x)))) < 1e-12
    heat = lambda y, s: jnp.exp(-s) * jnp.sum(jnp.sin(2 * y))  # noqa: E731
    y, s = x[:4], 0.3
    u_t = jax.grad(heat, argnums=1)(y, s)
    assert abs(float(u_t - jnp.trace(jax.hessian(heat)(y, s)) / 4)) < 1e-12


def test_point_reference_values_are_the_published_ones():
    values = {
        "pub_bsde_allen_cahn100_whole": 0.052802,
        "pub_stde_semilinear_heat100_whole": 0.31674,
        "pub_stde_sine_gordon_time100_whole": 0.0528368,
    }
    for name, value in values.items():
        problem = load_problem(ROOT / "problems" / f"{name}.yaml")
        x, t = published.centre_point(problem)
        np.testing.assert_array_equal(problem.reference["x"], x)
        assert problem.reference["t"][0] == t[0] == 0.0 and problem.reference["u"][0] == value


def _fake_rows():
    return [
        {
            "problem": "pub_kfac_poisson10_box",
            "dim": 10,
            "method": "default",
            "law": "volume",
            "status": "ok",
            "error": 2.35e-5,
            "train_time_s": 60.0,
            "zero_network_rel_l2": 1.0,
        },
        {
            "problem": "pub_bsde_hjb100_whole",
            "dim": 100,
            "method": "default",
            "law": "point",
            "status": "ok",
            "error": 3.4e-3,
            "train_time_s": 61.0,
        },
        {
            "problem": "pub_stde_semilinear_heat100_whole",
            "dim": 100,
            "method": "default",
            "law": "point",
            "status": "failed: boom",
        },
    ]


def test_published_table_writer_on_a_fake_result(tmp_path):
    rows = _fake_rows()
    table = published.table_rows(rows)
    assert table[0]["published"] == 1.2e-5 and table[0]["its method"] == "SPRING"  # the best of four
    assert math.isclose(table[0]["ratio"], 2.35e-5 / 1.2e-5) and table[0]["verdict"] == "published better"
    assert math.isclose(table[1]["ratio"], 3.4e-3 / 1.7e-3)
    assert table[2]["pdesolve"] is None and table[2]["ratio"] is None
    summary = published.summarise(rows, "tiny")
    assert any(line.startswith("| pub_kfac_poisson10_box | 10 | volume | 1.2e-05 | SPRING") for line in summary)
    curves = {("pub_kfac_poisson10_box", "default"): (np.array([1.0, 60.0]), np.array([1e-2, 2.35e-5]))}
    meta = {
        "suite": "published",
        "size": "tiny",
        "commit": "0" * 40,
        "dirty": False,
        "dirty_paths": [],
        "date": "today",
        "device": "cpu",
        "versions": {"jax": jax.__version__},
        "load_average_start": "n/a",
    }
    folder = write_results("published", rows, meta, summary, out=tmp_path, figures=published.figures(rows, curves))
    assert (folder / "error_vs_time.png").stat().st_size > 0
    assert "SPRING" in (folder / "summary.md").read_text()
    assert json.loads((folder / "meta.json").read_text())["suite"] == "published"


def test_peers_measures_every_entry_on_the_same_points():
    u = np.array([1.0, 2.0, 2.0])
    result = {
        "times": np.array([1.0, 2.0]),
        "u": np.array([[0.0, 0.0, 0.0], [1.0, 2.0, 1.0]]),
        "peak_rss_mb": 100.0,
        "iterations": np.array([50, 100]),
    }
    info = {"problem": "pub_kfac_poisson10_box", "dim": 10, "entry": "jinns Adam", "budget_s": 2}
    row, (times, errors) = peers.measured(info, result, u, "1.0", 3.0)
    np.testing.assert_allclose(errors, [1.0, 1.0 / 3.0])  # |u - u*| / |u*| with |u*| = 3
    assert row["rel_l2"] == errors[-1] and row["iterations"] == 100 and row["peak_rss_mb"] == 100.0
    mine = {**info, "entry": "pdesolve default", "status": "ok", "rel_l2": 0.1}
    lines = peers.summarise([mine, row], "tiny")
    assert lines[-1].startswith("pdesolve's default below the peer on 1 of 1")
    assert peers.figures([mine, row], {(info["problem"], "jinns Adam"): (times, errors)})


def test_peers_reports_a_missing_library(tmp_path):
    assert peers.library_version(peers.sys.executable, "no_such_module_pdesolve") is None
