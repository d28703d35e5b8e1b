"""Errors that see the whole domain (issue 34): a hand-made prediction whose error is a known function
of the normalised radius, u_pred = u_exact + C (1 - rho) (rho the radius over ``radius_max``), checked
against closed forms for the radius-uniform law (rho uniform in [0, 1]), the equal-width radius bands,
the centre, the ``evaluation.at`` points and the diagonal line; and ``evaluation.at`` parsing."""

import types

import jax.numpy as jnp
import numpy as np
import pytest

from pdesolve.errors import ProblemError
from pdesolve.problem import problem_from_mapping
from pdesolve.run._evaluate import diagonal_line
from pdesolve.run._whole_domain import whole_domain_errors

C, U = 0.2, 3.0  # the error at the centre, the (constant) exact solution
N = 8192  # evaluation points: the radius-uniform set is as large (Sobol points)

#: domain, (its centre's rho, the largest error on the diagonal line / C, a point of evaluation.at and its rho)
DOMAINS = {
    "ball": ({"type": "ball", "radius": 2, "center": 1}, (0.0, 1.0, [2, 1, 1, 1, 1], 0.5)),
    "box": ({"type": "box", "low": 0, "high": [2, 2, 2, 2, 4]}, (0.0, 1.0, [1, 1, 1, 1.5, 2], 0.5)),
    # the annulus's centre is mid-shell on the diagonal; its line crosses the hole (rho = -1 at the centre)
    "annulus": ({"type": "annulus", "inner": 0.5, "outer": 1}, (0.5, 2.0, [0.875, 0, 0, 0, 0], 0.75)),
    "whole_space": (
        {"type": "whole_space", "sampling": {"normal": {"mean": 1, "std": 0.5}}},
        (0.0, 1.0, [1, 1, 1, 1, 1], 0.0),
    ),
}


#: The ansatz u = 0 + 1 * N: its best constant network is the least-squares constant.
FLAT = types.SimpleNamespace(base=lambda x, t: jnp.zeros(len(t)), factor=lambda x, t: jnp.ones(len(t)))


def _problem(domain: dict, at_point: list):
    conditions = {"initial": "3"} | ({} if domain["type"] == "whole_space" else {"boundary": "3"})
    return problem_from_mapping(
        {
            "name": "radial",
            "dimension": 5,
            "time": {"start": 0, "end": 2},
            "domain": domain,
            "equation": "u_t - lap_u = 0",
            "conditions": conditions,
            "evaluation": {"points": N, "sampling": "sobol", "seed": 5, "at": {"points": [at_point], "times": [0, 2]}},
        }
    )


def _errors(name: str) -> tuple[dict, tuple]:
    domain, expected = DOMAINS[name]
    problem = _problem(domain, expected[2])
    exact = types.SimpleNamespace(exact=lambda x, t: jnp.full(len(t), U))

    def evaluate_at(x, t, desc):  # (u_pred, u_raw) = U + C (1 - rho)
        rho = problem.domain.radius(np.asarray(x, np.float64)) / problem.domain.radius_max
        return (U + C * (1 - rho),) * 2

    line = diagonal_line(problem, exact, lambda params, x, t: evaluate_at(x, t, ""), None, np.float64)
    return whole_domain_errors(problem, exact, evaluate_at, np.full(N, U), line, np.float64, FLAT), expected


@pytest.fixture(scope="module", params=list(DOMAINS))
def errors(request):
    return _errors(request.param)


def test_the_radius_uniform_law_against_closed_forms(errors):
    """rho uniform in [0, 1]: mean e^2 = C^2 / 3, mean |e| = C / 2, max |e| -> C."""
    out, _ = errors
    law = out["radius_uniform"]
    assert law["points"] == N
    np.testing.assert_allclose(law["mse"], C**2 / 3, rtol=1e-3)
    np.testing.assert_allclose(law["rel_l2"], C / np.sqrt(3) / U, rtol=1e-3)
    np.testing.assert_allclose(law["rel_l1"], C / 2 / U, rtol=1e-3)
    np.testing.assert_allclose(law["max_abs_error"], C, rtol=1e-3)
    assert law["best_constant_rel_l2"] == pytest.approx(0.0, abs=1e-14)  # u = U is a constant network


def test_equal_width_bands_against_closed_forms(errors):
    """Band [a, b] of rho: equally many points; mean |e| = C (1 - (a + b) / 2), max |e| -> C (1 - a),
    rel L2 = C sqrt(((1 - a)^3 - (1 - b)^3) / (3 (b - a))) / U."""
    out, _ = errors
    rows = out["by_radius_band"]
    top = rows[-1]["high"]
    a, b = np.array([r["low"] for r in rows]) / top, np.array([r["high"] for r in rows]) / top
    np.testing.assert_allclose(a, [0, 0.2, 0.4, 0.6, 0.8], atol=1e-12)
    np.testing.assert_allclose(b, [0.2, 0.4, 0.6, 0.8, 1.0], atol=1e-12)
    counts = np.array([r["points"] for r in rows])
    assert counts.sum() == N and np.all(np.abs(counts - N / 5) < 0.01 * N)
    np.testing.assert_allclose([r["mean_abs_error"] for r in rows], C * (1 - (a + b) / 2), rtol=1e-2)
    np.testing.assert_allclose([r["max_abs_error"] for r in rows], C * (1 - a), rtol=1e-2)
    rel = C * np.sqrt(((1 - a) ** 3 - (1 - b) ** 3) / (3 * (b - a))) / U
    np.testing.assert_allclose([r["rel_l2"] for r in rows], rel, rtol=1e-2)


def test_the_centre_the_listed_points_and_the_line(errors):
    """The centre at the start, middle and end time; each evaluation.at point at each of its times;
    scaled error = abs error / RMS of the exact solution on the evaluation points (U here)."""
    out, (centre_rho, line_max, at_point, at_rho) = errors
    centre = out["centre"]
    assert [r["t"] for r in centre] == [0.0, 1.0, 2.0] and {r["x"] for r in centre} == {"centre"}
    for r in centre:
        assert r["u_exact"] == U and r["abs_error"] == pytest.approx(C * (1 - centre_rho), rel=1e-12)
        assert r["scaled_error"] == pytest.approx(r["abs_error"] / U, rel=1e-12)
    assert [(r["point"], r["t"]) for r in out["at_points"]] == [(0, 0.0), (0, 2.0)]
    for r in out["at_points"]:
        assert r["x"] == at_point and r["abs_error"] == pytest.approx(C * (1 - at_rho), rel=1e-9, abs=1e-12)
    assert out["line_max_abs_error"] == pytest.approx(C * line_max, rel=1e-9)


def test_a_stationary_problem_has_one_centre_row_without_time():
    problem = problem_from_mapping(
        {
            "dimension": 2,
            "domain": {"type": "ball", "radius": 1},
            "equation": "lap_u = 0",
            "conditions": {"boundary": "0"},
            "evaluation": {"points": 16},
        }
    )
    exact = types.SimpleNamespace(exact=lambda x, t: 1.0 + x[:, 0])
    line = {"u_pred": np.zeros(3), "u_exact": np.ones(3)}
    out = whole_domain_errors(
        problem,
        exact,
        lambda x, t, desc: (1.0 + x[:, 0] + C * x[:, 1] ** 2,) * 2,
        np.full(16, 2.0),
        line,
        np.float64,
        FLAT,
    )
    assert out["centre"] == [{"x": "centre", "u_pred": 1.0, "u_exact": 1.0, "abs_error": 0.0, "scaled_error": 0.0}]
    assert "at_points" not in out and out["line_max_abs_error"] == 1.0 and out["radius_uniform"]["points"] == 16


# ----- evaluation.at in a problem file -----

BASE = {
    "dimension": 3,
    "domain": {"type": "box", "low": 0, "high": 1},
    "equation": "lap_u = 0",
    "conditions": {"boundary": "0"},
}
TIMED = BASE | {
    "time": {"start": 1, "end": 2},
    "equation": "u_t - lap_u = 0",
    "conditions": {"initial": "0", "boundary": "0"},
}


def test_evaluation_at_is_parsed():
    at = problem_from_mapping(TIMED | {"evaluation": {"at": {"points": [0.5, [0, 0.25, 1]]}}}).evaluation["at"]
    np.testing.assert_array_equal(at["x"], [[0.5, 0.5, 0.5], [0, 0.25, 1]])  # one number: every component
    assert at["t"].tolist() == [1.0]  # default: the start time
    at = problem_from_mapping(TIMED | {"evaluation": {"at": {"points": [0], "times": [2, 1.5]}}}).evaluation["at"]
    assert at["t"].tolist() == [2.0, 1.5]
    assert problem_from_mapping(BASE | {"evaluation": {"at": {"points": [1]}}}).evaluation["at"]["t"] is None
    assert problem_from_mapping(BASE).evaluation["at"] is None


@pytest.mark.parametrize(
    "base, at, field, phrase",
    [
        (BASE, {"points": []}, "evaluation.at.points", "give a list of points (each 3 numbers, or one number"),
        (BASE, {"times": [0]}, "evaluation.at.points", "missing or empty"),
        (
            BASE,
            {"points": [[0, 1]]},
            "evaluation.at.points[0]",
            "has 2 entries but dimension is 3; give 3 numbers or one",
        ),
        (BASE, {"points": [0.5, "centre"]}, "evaluation.at.points[1]", "expected a number or a list of 3 numbers"),
        (BASE, {"points": [[0.5, 0.5, 1.5]]}, "evaluation.at.points[0]", "[0.5, 0.5, 1.5] lies outside the domain"),
        (
            BASE | {"domain": {"type": "annulus", "inner": 0.5, "outer": 1}},
            {"points": [0, [0, 0.75, 0]]},
            "evaluation.at.points[0]",
            "lies outside the domain (annulus",
        ),
        (BASE, {"points": [0], "times": [0]}, "evaluation.at.times", "the problem has no time: drop times"),
        (TIMED, {"points": [0], "times": [1, 3]}, "evaluation.at.times[1]", "3 is outside the time interval [1, 2]"),
        (TIMED, {"points": [0], "times": 1}, "evaluation.at.times", "expected a list of times in [1, 2], got 1"),
        (TIMED, {"points": [0] * 5001, "times": [1, 2]}, "evaluation.at", "10002 evaluations; give at most 10000"),
        (BASE, {"point": [0]}, "evaluation.at.point", "did you mean 'points'"),
        (BASE, [0, 1], "evaluation.at", "expected a mapping"),
    ],
)
def test_bad_evaluation_at_names_field_value_and_fix(base, at, field, phrase):
    with pytest.raises(ProblemError) as err:
        problem_from_mapping(base | {"evaluation": {"at": at}})
    assert err.value.field == field and phrase in str(err.value), str(err.value)
