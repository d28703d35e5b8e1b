"""The interior laws of every domain (volume, radius-uniform, their mixture) against their closed
forms, and residual-adaptive resampling's choice."""

from pathlib import Path

import numpy as np
import pytest
from scipy import stats

from pdesolve.problem import Annulus, Ball, Box, WholeSpace, load_problem
from pdesolve.run import BatchMaker, build, resolve_run
from pdesolve.sampling import PointSampler, spread_evenly

POISSON = Path(__file__).resolve().parent / "data/poisson2d_ad.yaml"

D = 6
DOMAINS = {
    "ball": Ball(D, np.full(D, 0.3), 2.0),
    "annulus": Annulus(D, np.zeros(D), 0.5, 1.5),
    "box": Box(D, np.zeros(D), np.array([1.0, 1.0, 2.0, 2.0, 3.0, 0.5])),
    "whole_space": WholeSpace(D, np.full(D, 1.0), np.full(D, 2.0)),
}
N = 4000


@pytest.mark.parametrize("name", DOMAINS)
@pytest.mark.parametrize("kind", ["uniform", "sobol"])
def test_the_radius_uniform_law_has_a_uniform_normalised_radius(name, kind):
    domain = DOMAINS[name]
    x, _ = PointSampler.for_law(domain, None, kind, 1, "radius_uniform").interior(N)
    radius = domain.radius(x) / domain.radius_max
    assert stats.kstest(radius, "uniform").pvalue > 1e-3
    assert radius.max() <= 1.0 + 1e-12


def test_volume_radii_follow_their_closed_forms():
    """Ball: P(r/R <= s) = s^d. Annulus: (r^d - a^d) / (R^d - a^d). Box: the sup-norm radius of
    independent uniform coordinates, P(max |y_i| <= s) = s^d. Whole space: chi with d degrees."""
    cdfs = {
        "ball": lambda s: s**D,
        "annulus": lambda s: ((0.5 + s) ** D - 0.5**D) / (1.5**D - 0.5**D),
        "box": lambda s: s**D,
        "whole_space": lambda s: stats.chi(D).cdf(s * np.sqrt(D)),
    }
    for name, cdf in cdfs.items():
        domain = DOMAINS[name]
        x, _ = PointSampler.for_law(domain, None, "uniform", 2, "volume").interior(N)
        assert stats.kstest(domain.radius(x), cdf).pvalue > 1e-3, name


def test_radius_uniform_directions_are_uniform():
    """Ball: the direction's mean is 0 and its second moment I / d; box: every one of the 2d faces
    of the scaled cube holds 1 / (2d) of the projected points."""
    ball = DOMAINS["ball"]
    x, _ = PointSampler.for_law(ball, None, "uniform", 3, "radius_uniform").interior(N)
    theta = (x - ball.center) / np.linalg.norm(x - ball.center, axis=1, keepdims=True)
    np.testing.assert_allclose(theta.mean(axis=0), 0.0, atol=4 / np.sqrt(N))
    np.testing.assert_allclose(theta.T @ theta / N, np.eye(D) / D, atol=4 / np.sqrt(N))
    box = DOMAINS["box"]
    x, _ = PointSampler.for_law(box, None, "uniform", 4, "radius_uniform").interior(N)
    y = (x - box.centre) / ((box.high - box.low) / 2)
    face = np.argmax(np.abs(y), axis=1) * 2 + (y[np.arange(N), np.argmax(np.abs(y), axis=1)] > 0)
    counts = np.bincount(face, minlength=2 * D)
    assert stats.chisquare(counts).pvalue > 1e-3


def test_the_centre_is_where_the_radius_is_zero_and_inside():
    for name, domain in DOMAINS.items():
        if name == "annulus":  # mid-shell on the diagonal
            assert domain.radius(domain.centre[None])[0] == pytest.approx(0.5)
        else:
            assert domain.radius(domain.centre[None])[0] == pytest.approx(0.0, abs=1e-15)


def test_a_mixture_draws_its_weight_from_the_radius_uniform_law():
    ball = DOMAINS["ball"]
    x, _ = PointSampler(ball, None, "uniform", 5, radius_fraction=0.25).interior(N)
    inner = ball.radius(x) < 0.5  # volume law: 2^-6 of the points; radius-uniform: half of them
    expected = 0.25 * 0.5 + 0.75 * 0.5**D
    assert abs(inner.mean() - expected) < 4 * np.sqrt(expected * (1 - expected) / N)


@pytest.mark.parametrize("fraction", [0.0, 0.1, 0.25, 0.5, 1.0])
def test_the_laws_are_interleaved_so_any_tail_of_a_batch_holds_both(fraction):
    """A solver's held-out tail (the last points of the batch) must see the mixture, not one law."""
    mask = spread_evenly(1000, fraction)
    assert mask.sum() == int(np.floor(fraction * 1000))
    for tail in (1, 7, 200, 999):
        assert abs(mask[-tail:].sum() - fraction * tail) <= 1


def test_an_unknown_law_is_refused():
    with pytest.raises(ValueError, match="radius_uniform"):
        DOMAINS["ball"].interior(np.zeros((2, D + 1)), "shell")


def _adaptive_maker(scores, candidates=4, n=64):
    """A BatchMaker whose residual is ``scores(x)`` (n,): scoring without a network."""
    problem = load_problem(POISSON)
    config = resolve_run(problem, {"train": {"batch_size": n, "adaptive_candidates": candidates}})
    pieces = build(problem, config)
    sampler = PointSampler(problem.domain, problem.time, "uniform", seed=3)
    maker = BatchMaker(pieces.compiled, sampler, pieces.soft_kinds, config.train, pieces.dtype, loss=pieces.loss(None))
    maker.score = lambda params, x, t, f, key: scores(np.asarray(x))
    return maker


def test_adaptive_resampling_prefers_large_residuals_and_repeats_itself():
    """Candidates with residual 0 left of x1 = 0.5 and 10 right of it: weights 1 and 3 (|r| / mean + 1),
    so the kept points lean right; the same seed and step give the same choice."""
    step = lambda x: np.where(x[:, 0] > 0.5, 10.0, 0.0)  # noqa: E731
    first = np.asarray(_adaptive_maker(step)(0)["x"])
    right = np.mean(first[:, 0] > 0.5)
    assert right > 0.6
    np.testing.assert_array_equal(first, np.asarray(_adaptive_maker(step)(0)["x"]))
    flat = np.asarray(_adaptive_maker(lambda x: np.ones(len(x)), n=512)(0)["x"])
    assert abs(np.mean(flat[:, 0] > 0.5) - 0.5) < 4 * np.sqrt(0.25 / 512)


def _whole_space_problem(equation: str, std: float = 2.0, time: dict | None = None):
    from pdesolve.problem import problem_from_mapping

    return problem_from_mapping(
        {
            "name": "reach_case",
            "dimension": 50,
            "time": time or {"start": 0, "end": 2},
            "domain": {"type": "whole_space", "sampling": {"normal": {"mean": 0, "std": std}}},
            "equation": equation,
            "conditions": {"initial": "cos(x[1])", **({"initial_velocity": "0"} if "u_tt" in equation else {})},
        }
    )


@pytest.mark.parametrize(
    ("equation", "reach"),
    [
        ("u_t = lap_u / 2", 2 * 0.5 * 2 / 4),  # 2 a (T - t0) / std^2
        ("2 * u_t - 3 * lap_u = 0", 2 * 1.5 * 2 / 4),
        ("u_t + lap_u - grad_u_sq = 0", 2 * 1.0 * 2 / 4),  # backward: the coefficient's size counts
        ("u_tt = lap_u", 0.0),  # a wave travels at a finite speed, not by diffusion
        ("u_t = (1 + x[1]**2) * lap_u", 0.0),  # a variable coefficient: no single reach
    ],
)
def test_diffusion_reach_is_two_a_times_the_horizon(equation, reach):
    from pdesolve.problem import diffusion_reach

    assert diffusion_reach(_whole_space_problem(equation)) == pytest.approx(reach, rel=1e-12)


def test_the_training_domain_widens_the_radius_law_by_the_reach():
    """The training domain's radius-uniform law reaches sqrt(q^2 + reach), q the chi quantile of
    the normal law's normalised radius; the problem's own domain (errors) is unchanged."""
    from pdesolve.problem import training_domain
    from pdesolve.problem._domain import RADIUS_QUANTILE

    problem = _whole_space_problem("u_t = lap_u / 2")
    q2 = stats.chi2.ppf(RADIUS_QUANTILE, 50) / 50
    trained = training_domain(problem)
    assert trained.radius_max == pytest.approx(np.sqrt(q2 + 0.5), rel=1e-12)
    assert problem.domain.radius_max == pytest.approx(np.sqrt(q2), rel=1e-12)
    radius = trained.radius(trained.radius_uniform(np.random.default_rng(0).random((4000, 51))))
    assert radius.max() <= trained.radius_max and radius.max() > 0.99 * trained.radius_max


@pytest.mark.parametrize(
    ("law", "widened"),
    [("radius_uniform", ", widened"), ("mixture", ", its radius-uniform part widened"), ("volume", None)],
)
def test_check_says_how_far_the_reach_widens_the_training_law(tmp_path, capsys, law, widened):
    """``pdesolve check``'s training line names the diffusion reach and the radius it carries the
    radius-uniform points to, against the normal law's; the volume law is not widened."""
    import yaml

    from pdesolve import cli
    from pdesolve.problem._domain import RADIUS_QUANTILE

    path = tmp_path / "reach_case.yaml"
    path.write_text(yaml.safe_dump(_whole_space_problem("u_t = lap_u / 2").raw))
    assert cli.main(["check", str(path), "--set", f"train.interior_law={law}"]) == 0
    line = next(line for line in capsys.readouterr().out.splitlines() if line.startswith("training"))
    if widened is None:
        assert "reach" not in line
        return
    own = np.sqrt(stats.chi2.ppf(RADIUS_QUANTILE, 50) / 50)
    wide = np.sqrt(own**2 + 0.5)  # 2 a (T - t0) / std^2 = 2 (1/2) 2 / 4
    assert f"{widened} by the diffusion reach 2 a (T - t0) / std^2 = 0.5 " in line
    assert f"up to {wide:.3g}, {wide / own:.3g}x the normal law's {own:.3g}" in line
