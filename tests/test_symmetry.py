"""Symmetry features: the directions a problem's data single out (``problem._symmetry``), the
first layer that reads them (``models.ProjectedInput``), and ``model.inputs``."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from pdesolve.errors import ConfigError
from pdesolve.models import ProjectedInput
from pdesolve.problem import NotSymmetric, Subspace, compile_problem, find_subspace, problem_from_mapping

jax.config.update("jax_enable_x64", True)

D = 12
W = "Sum(w[i] * x[i], (i, 1, d)) / sqrt(Sum(w[i]**2, (i, 1, d)))"  # w.x for a unit w


def heat(initial: str, equation: str = "u_t = lap_u", domain: dict | None = None, **extra) -> dict:
    """A heat-type problem on R^D (or ``domain``) with a random unit direction ``w``."""
    return {
        "name": "symmetry_case",
        "dimension": D,
        "parameters": {"w": {"normal": {"seed": 3}}, "a": {"normal": {"seed": 4}}},
        "time": {"start": 0, "end": 1},
        "domain": domain or {"type": "whole_space", "sampling": {"normal": {"mean": 0.5, "std": 2}}},
        "equation": equation,
        "conditions": {"initial": initial},
        **extra,
    }


def subspace_of(mapping: dict) -> Subspace:
    problem = problem_from_mapping(mapping)
    return find_subspace(problem, compile_problem(problem))


def span_distance(basis: np.ndarray, vectors: np.ndarray) -> float:
    """Largest distance of a unit vector of span(vectors) from span(basis) (0: the spans agree)."""
    q, _ = np.linalg.qr(vectors)
    return float(np.linalg.norm(q - basis @ (basis.T @ q), 2))


def test_one_direction_and_the_radius():
    """cos(w.x) plus a radial bump about the mean: one direction, w, about the sampling mean."""
    mapping = heat(f"cos({W}) + exp(-Sum((x[i] - 1/2)**2, (i, 1, d)) / d)")
    found = subspace_of(mapping)
    w = np.asarray(problem_from_mapping(mapping).parameters["w"])
    assert found.directions == 1
    assert span_distance(found.basis, w[:, None]) < 1e-6
    np.testing.assert_array_equal(found.centre, np.full(D, 0.5))
    assert (found.scale, found.radial_divisor) == (2.0, D * 4.0)


def test_two_directions_from_condition_and_coefficient():
    """A direction in the initial condition and one in an x-dependent coefficient of the equation
    (the residual's own x-dependence): both found, and nothing else."""
    a = "Sum(a[i] * x[i], (i, 1, d))"
    mapping = heat(f"sin({W})", equation=f"u_t = lap_u + cos({a}) * u", domain={"type": "ball", "radius": 1})
    found = subspace_of(mapping)
    params = problem_from_mapping(mapping).parameters
    assert found.directions == 2
    assert span_distance(found.basis, np.column_stack([params["w"], params["a"]])) < 1e-6


@pytest.mark.parametrize(
    ("mapping", "reason"),
    [
        (heat("Sum(sin(x[i]), (i, 1, d))"), "more than"),  # every coordinate a direction of its own
        (heat(f"cos({W})", equation="u_t = lap_u + u_x[1]"), "reflection"),  # a drift along e_1
        (heat(f"cos({W})", equation="u_t = u_xx[1] + u_xx[2]"), "reads u_xx"),
        (heat(f"cos({W})", domain={"type": "box", "low": 0, "high": 1}), "box"),
    ],
    ids=["many-directions", "drift", "hessian-diagonal", "box"],
)
def test_what_breaks_the_symmetry_is_named(mapping, reason):
    with pytest.raises(NotSymmetric, match=reason):
        subspace_of(mapping)


def projected_layer(time: bool = True) -> ProjectedInput:
    rng = np.random.default_rng(0)
    basis, _ = np.linalg.qr(rng.standard_normal((D, 2)))
    subspace = Subspace(basis, rng.standard_normal(D), 1.5, 7.0)
    return ProjectedInput(subspace, D + int(time), 5, key=jax.random.PRNGKey(1), dtype=jnp.float64)


def test_features_are_the_projections_the_radius_and_time():
    layer = projected_layer()
    z = np.random.default_rng(2).standard_normal((4, D + 1))
    x = z[:, :D] - layer.centre.array
    expected = np.column_stack([x @ layer.basis.array / 1.5, np.sum(x**2, axis=1) / 7.0, z[:, D]])
    np.testing.assert_allclose(layer.features(jnp.asarray(z)), expected, rtol=1e-13)


def test_stencil_nodes_without_forming_them():
    """``at_nodes`` (the radial feature moved per node) against the layer at the formed nodes,
    coordinates and time among the moved inputs."""
    layer = projected_layer()
    rng = np.random.default_rng(3)
    z = rng.standard_normal((3, D + 1))
    coords = np.array([[0, 5, D], [D, 2, 2], [11, 0, 7]])
    shifts = rng.standard_normal((3, 3))
    nodes = np.repeat(z[:, None, :], 3, axis=1)
    np.put_along_axis(nodes, coords[..., None], np.take_along_axis(z, coords, 1)[..., None] + shifts[..., None], 2)
    formed = layer(jnp.asarray(nodes.reshape(9, -1))).reshape(3, 3, -1)
    np.testing.assert_allclose(layer.at_nodes(jnp.asarray(z), coords, jnp.asarray(shifts)), formed, rtol=1e-12)


def test_the_subspace_is_static_data_not_a_parameter():
    import equinox as eqx

    layer = projected_layer(time=False)
    params = eqx.filter(layer, eqx.is_inexact_array)
    assert sum(leaf.size for leaf in jax.tree.leaves(params)) == layer.n_params == 5 * 3 + 5
    assert projected_layer(time=False).basis == layer.basis  # equal contents compare equal (no recompilation)


def test_inputs_subspace_refused_where_the_problem_has_none():
    import pdesolve

    mapping = heat("Sum(sin(x[i]), (i, 1, d))")
    with pytest.raises(ConfigError, match=r"model\.inputs.*more than .* directions.*use coordinates"):
        pdesolve.solve(problem_from_mapping(mapping), {"model": {"inputs": "subspace"}, "train": {"steps": 1}})


def test_a_symmetric_problem_trains_on_the_features():
    """``model.inputs: subspace`` on a problem that has the symmetry: the first layer reads 1 + 1 + 1
    features, and the same few Gauss-Newton steps (BP-free) end below the coordinates' network
    and well below the best constant network."""
    import pdesolve

    mapping = heat(f"cos({W})", exact=f"exp(-t) * cos({W})", evaluation={"points": 500})
    runs = {
        inputs: pdesolve.solve(
            problem_from_mapping(mapping), {"model": {"inputs": inputs}, "train": {"steps": 15, "batch_size": 100}}
        )
        for inputs in ("subspace", "coordinates")
    }
    first = runs["subspace"].model.network.layers[0]
    assert isinstance(first, ProjectedInput) and first.weight.shape[1] == 3
    report = runs["subspace"].report
    assert report["rel_l2"] < runs["coordinates"].report["rel_l2"]
    assert report["rel_l2"] < 0.3 * report["baselines"]["best_constant_rel_l2"]


def test_a_piece_without_a_derivative_where_it_is_not_taken_is_differenced():
    """sqrt(1 - (w.x)^2 / 4) where |w.x| < 2, else 0: autodiff gives NaN at the points where the
    square root's piece is not taken (zero times its NaN derivative) though the values are finite;
    central differences stand in there, and w is found."""
    mapping = heat(f"Piecewise((sqrt(1 - ({W})**2 / 4), ({W})**2 < 4), (0, True))")
    found = subspace_of(mapping)
    w = np.asarray(problem_from_mapping(mapping).parameters["w"])
    assert found.directions == 1
    assert span_distance(found.basis, w[:, None]) < 1e-6


def test_data_not_finite_somewhere_keep_the_coordinates():
    """A condition that overflows at some sample points is no symmetry evidence (and no crash)."""
    with pytest.raises(NotSymmetric, match="not finite"):
        subspace_of(heat(f"exp(exp(exp({W})))"))


def test_auto_skips_a_search_over_its_budget():
    """At d = 4096 a manufactured source's gradients read d directions of d coordinates per point:
    the automatic search is over its budget, so auto keeps the coordinates and says why (check stays
    fast), without evaluating anything. The same problem with its source in closed form is searched."""
    from pdesolve.config import MODEL_KINDS
    from pdesolve.problem import AUTO_SEARCH_BUDGET, search_cost
    from pdesolve.run._network import network_subspace

    exact = f"exp(-2 * t) * cos({W})"
    closed = {**heat(f"cos({W})", equation="u_t = lap_u + f", exact=exact), "dimension": 4096}
    closed |= {"source": f"-exp(-2 * t) * cos({W})", "evaluation": {"points": 100}}  # u_t - lap_u
    problem = problem_from_mapping({**closed, "source": "from_exact"})
    compiled = compile_problem(problem)
    assert search_cost(problem, compiled) > AUTO_SEARCH_BUDGET
    model = MODEL_KINDS["mlp"](widths=[8, 8], activation="tanh", init="lecun", inputs="auto")
    subspace, said = network_subspace(model, problem, compiled)
    assert subspace is None and "model.inputs: subspace runs it" in said
    problem = problem_from_mapping(closed)
    assert search_cost(problem, compile_problem(problem)) < AUTO_SEARCH_BUDGET
