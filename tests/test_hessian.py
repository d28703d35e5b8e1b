"""Hessian contractions u_xx[i, j] (issue 37): matrix parameters, their compilation to directional
second derivatives, and every engine's value against the full autodiff Hessian (jax.hessian)."""

from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from pdesolve.errors import ProblemError
from pdesolve.operators import AutodiffEngine, FiniteDifferenceEngine, SparseGridSteinEngine
from pdesolve.problem import compile_problem, directions_in, load_problem, problem_from_mapping

D = 6


def _mapping(equation, exact="x[1]**2 * x[2] + x[3] * x[4] * x[5] + x[2]**3", d=D, **parameters):
    return {
        "dimension": d,
        "parameters": parameters,
        "domain": {"type": "box", "low": 0.5, "high": 1.5},
        "equation": equation,
        "source": "from_exact",
        "exact": exact,
        "conditions": {"boundary": "0"},
    }


def _exact(x):
    """A smooth non-polynomial field of one point x (d,) with every Hessian entry nonzero."""
    return jnp.sin(x @ jnp.linspace(0.3, 1.1, x.shape[0])) * jnp.exp(0.2 * jnp.sum(x**2)) + x[0] * x[1] ** 2


EXACT = "sin(Sum(x[i] * (0.3 + 0.8 * (i - 1) / (d - 1)), (i, 1, d))) * exp(0.2 * sqnorm(x)) + x[1] * x[2]**2"
POINTS = jnp.asarray(np.random.default_rng(3).uniform(0.5, 1.5, (7, D)))


def _hessians(x):
    return jax.vmap(jax.hessian(_exact))(x)  # (n, d, d)


def _compiled(equation, **parameters):
    return compile_problem(problem_from_mapping(_mapping(equation, exact=EXACT, **parameters)))


def _contraction(compiled, engine, key=None):
    """The (only) contraction's value by ``engine`` on the exact solution at POINTS."""
    (hessian,) = directions_in(compiled.needs)
    return engine(compiled.exact, POINTS, jnp.zeros(len(POINTS)), frozenset({hessian}), key)[hessian.name]


S = np.random.default_rng(5).standard_normal((D, 2))
SIGMA = np.random.default_rng(6).uniform(0.1, 0.4, D)


def test_gram_contraction_with_x_dependent_directions_is_two_directional_derivatives():
    compiled = _compiled(
        "Sum(A[i, j] * s[i] * s[j] * x[i] * x[j] * u_xx[i, j], (i, 1, d), (j, 1, d)) = f",
        S={"matrix": S.tolist()},
        A={"gram": "S"},
        s=SIGMA.tolist(),
    )
    (hessian,) = directions_in(compiled.needs)
    assert hessian.rank == 2 and hessian.scale is not None
    scaled = SIGMA[None, :] * POINTS
    expected = jnp.einsum("ij,ni,nj,nij->n", S @ S.T, scaled, scaled, _hessians(POINTS))
    np.testing.assert_allclose(_contraction(compiled, AutodiffEngine()), expected, rtol=1e-12)
    np.testing.assert_allclose(_contraction(compiled, FiniteDifferenceEngine()), expected, rtol=1e-5)
    assert FiniteDifferenceEngine().evals_per_point(compiled.needs, D) == 2 * 2 + 1


def test_dense_matrix_coefficient_is_eigendecomposed_and_indefinite_weights_are_kept():
    a = np.random.default_rng(8).standard_normal((D, D))
    compiled = _compiled("Sum(A[i, j] * u_xx[i, j], (i, 1, d), (j, 1, d)) + u_xx[2, 5] = f", A={"matrix": a.tolist()})
    hessians = {h.text: h for h in directions_in(compiled.needs)}
    dense = next(h for text, h in hessians.items() if "A" in text)
    assert dense.rank == D and np.any(dense.weights < 0)  # sym(A) is indefinite
    ops = AutodiffEngine()(compiled.exact, POINTS, jnp.zeros(len(POINTS)), compiled.needs)
    fd = FiniteDifferenceEngine()(compiled.exact, POINTS, jnp.zeros(len(POINTS)), compiled.needs)
    h = _hessians(POINTS)
    np.testing.assert_allclose(ops[dense.name], jnp.einsum("ij,nij->n", a, h), rtol=1e-12)
    np.testing.assert_allclose(ops[hessians["u_xx[2, 5]"].name], h[:, 1, 4], rtol=1e-12)
    np.testing.assert_allclose(fd[hessians["u_xx[2, 5]"].name], h[:, 1, 4], rtol=1e-5)
    # the manufactured source goes through the same contraction: the residual of the exact is zero
    f = compiled.source(POINTS, jnp.zeros(len(POINTS)))
    np.testing.assert_allclose(f, jnp.einsum("ij,nij->n", a, h) + h[:, 1, 4], rtol=1e-12)


def test_hutchinson_directions_are_unbiased_and_their_cost_does_not_grow_with_d():
    compiled = _compiled(
        "Sum(A[i, j] * u_xx[i, j], (i, 1, d), (j, 1, d)) = f",
        S={"matrix": {"normal": {"seed": 2, "columns": 4}}},
        A={"gram": "S"},
    )
    engine = FiniteDifferenceEngine(coordinates=2)  # 2 random directions per set, rank 4
    exact = _contraction(compiled, AutodiffEngine())
    draws = jax.vmap(lambda k: _contraction(compiled, engine, k))(jax.random.split(jax.random.key(0), 2000))
    error = np.abs(np.mean(draws, axis=0) - exact)
    assert np.all(error < 4 * np.std(draws, axis=0) / np.sqrt(len(draws)))
    assert np.all(np.std(draws, axis=0) > 0)  # random, not the exact contraction
    (hessian,) = directions_in(compiled.needs)
    assert engine.evals_per_point(frozenset({hessian}), D) == 2 * (2 * 2 + 1)  # two sets for the residual


def test_stein_engines_read_the_contraction_off_their_nodes():
    compiled = compile_problem(
        problem_from_mapping(
            _mapping(
                "Sum(A[i, j] * x[i] * x[j] * u_xx[i, j], (i, 1, d), (j, 1, d)) = f",
                S={"matrix": S.tolist()},
                A={"gram": "S"},
            )
        )
    )  # cubic exact: level-3 rule exact for its 2nd derivatives
    exact = _contraction(compiled, AutodiffEngine())
    sg = SparseGridSteinEngine(sigma=0.1, level=3, smooth="solution")
    np.testing.assert_allclose(_contraction(compiled, sg), exact, rtol=1e-9)


class _Toy:
    """An ansatz u = g + phi N with a cubic network (the level-3 rule is exact for its smoothing)."""

    has_time = False

    def network(self, z):
        return z[:, 0] ** 3 + z[:, 1] * z[:, 2] ** 2 - z[:, 3]

    def base(self, x, t):
        return jnp.sin(x[:, 0] + 2 * x[:, 1])

    def factor(self, x, t):
        return 1.0 - jnp.sum(x**2, axis=1) / 10


def test_stein_on_an_ansatz_smooths_the_network_only():
    compiled = _compiled(
        "Sum(A[i, j] * x[i] * x[j] * u_xx[i, j], (i, 1, d), (j, 1, d)) = f", S={"matrix": S.tolist()}, A={"gram": "S"}
    )
    (hessian,) = directions_in(compiled.needs)
    toy = _Toy()
    sg = SparseGridSteinEngine(sigma=0.1, level=3)
    from pdesolve.operators._base import Ansatz

    assert isinstance(toy, Ansatz)

    def smoothed(x, t):  # N_s, same rule
        return sg(lambda xs, ts: toy.network(xs), x, t, frozenset({"u"}))["u"]

    def reference(x, t):
        return toy.base(x, t) + toy.factor(x, t) * smoothed(x, t)

    t = jnp.zeros(len(POINTS))
    expected = AutodiffEngine()(reference, POINTS, t, frozenset({hessian}))[hessian.name]
    np.testing.assert_allclose(sg(toy, POINTS, t, frozenset({hessian}))[hessian.name], expected, rtol=1e-9)


@pytest.mark.parametrize(
    "equation, message",
    [
        ("Sum(A[i, j] * x[i] * u_xx[i, j], (i, 1, d), (j, 1, d)) = f", "not symmetric in form"),
        ("Sum(A[i, j] * exp(x[i] * x[j]) * u_xx[i, j], (i, 1, d), (j, 1, d)) = f", "depends on i, j and on x"),
        ("Sum(u_xx[i, 1], (i, 1, d)) = f", "summed over exactly its two indices"),
        ("Sum(A[i, j] * u_xx[i, j], (i, 1, 3), (j, 1, d)) = f", "over 1..d"),
        ("A[1] = f", "is a matrix: it takes two indices"),
    ],
)
def test_unsupported_hessian_forms_name_the_equation(equation, message):
    with pytest.raises(ProblemError, match=message) as err:
        compile_problem(problem_from_mapping(_mapping(equation, A={"matrix": np.eye(D).tolist()})))
    assert err.value.field == "equation"


@pytest.mark.parametrize(
    "raw, message",
    [
        ({"matrix": [[1, 2]] * (D - 1)}, "expected 6 rows"),
        ({"matrix": [[1, 2]] * (D - 1) + [[1]]}, "rows of different lengths"),
        ({"gram": "nope"}, "names a d x k matrix parameter"),
        ({"matrix": {"normal": {"seed": 1, "columns": 0}}}, "must be > 0"),
        ({"matrix": [[0, 0]] * D, "rows": "unit"}, "a zero row"),
    ],
)
def test_bad_matrix_parameters_name_the_field(raw, message):
    with pytest.raises(ProblemError, match=message) as err:
        problem_from_mapping(_mapping("lap_u = f", A=raw))
    assert err.value.field.startswith("parameters.A")


@pytest.mark.parametrize("name", ["basket100_ball", "nt_kolmogorov_corr20_whole"])
def test_shipped_correlated_problems_have_exact_solutions(name):
    from pdesolve.problem import verify_exact

    compiled = compile_problem(load_problem(Path(__file__).parent.parent / "problems" / f"{name}.yaml"))
    misfits = verify_exact(compiled, n=60)
    assert misfits and all(m.small for m in misfits), misfits


@pytest.mark.parametrize("exact, flagged", [("exp(-t) * sin(x[1])", False), ("exp(-0.9 * t) * sin(x[1])", True)])
def test_check_flags_a_wrong_exact_solution(exact, flagged):
    from pdesolve.problem import verify_exact

    mapping = {
        "dimension": 3,
        "time": {"start": 0, "end": 1},
        "domain": {"type": "ball"},
        "equation": "u_t - lap_u = 0",
        "conditions": {"initial": "sin(x[1])", "boundary": exact},
        "exact": exact,
    }
    (equation, *conditions) = verify_exact(compile_problem(problem_from_mapping(mapping)), n=60)
    assert equation.what == "equation" and equation.small != flagged
    assert all(m.small for m in conditions)
    if flagged:  # u_t - lap_u = 0.1 exp(-0.9 t) sin(x_1): the largest residual is where |sin x_1| is largest
        assert equation.absolute > 1e-2 and abs(np.sin(equation.x[0])) > 0.5


@pytest.mark.parametrize("truth, flagged", [(0.5, False), (0.7, True)])
def test_check_judges_an_inverse_problem_at_its_stated_truth(tmp_path, truth, flagged):
    """With unknowns, the equation is checked at their ``exact`` values (heat_inverse10's kappa is
    0.5), not at their ``init``."""
    import shutil

    import yaml

    from pdesolve.problem import load_problem, verify_exact

    shipped = Path(__file__).parents[1] / "problems"
    mapping = yaml.safe_load((shipped / "heat_inverse10.yaml").read_text())
    mapping["unknowns"]["kappa"]["exact"] = truth
    (tmp_path / "data").mkdir()
    shutil.copy(shipped / mapping["data"]["file"], tmp_path / mapping["data"]["file"])
    (tmp_path / "p.yaml").write_text(yaml.safe_dump(mapping))
    (equation, *_) = verify_exact(compile_problem(load_problem(tmp_path / "p.yaml")), n=60)
    assert equation.what == "equation" and equation.small != flagged
