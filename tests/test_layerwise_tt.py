"""The layerwise (activity-perturbation) Gauss-Newton Jacobian of tensor-train layers anywhere in the MLP."""

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import pytest
from jax.flatten_util import ravel_pytree

import pdesolve
from pdesolve.models import MLP, AbstractLinear, DenseLinear, TTLinear
from pdesolve.solvers import jacobian


@pytest.mark.parametrize("bias", [True, False])
def test_tt_layer_columns_are_the_exact_forward_mode_tangents(bias):
    """``tt_layer_columns`` against ``jax.jacfwd`` of ``rows = segment_sum(w * delta . layer(a))``
    over the layer's parameters: padded factors (in 11 -> 2 x 2 x 3, out 6), unequal ranks, rows of
    unequal size, chunks of nodes smaller than the batch. Exact up to round-off."""
    from pdesolve.solvers import _layerwise_tt

    keys = jax.random.split(jax.random.PRNGKey(0), 5)
    layer = TTLinear(11, 6, key=keys[0], rank=[2, 3], n_cores=3, use_bias=bias, dtype=jnp.float64)
    assert math_prod(layer.in_factors) == 12  # one padded input
    n, m = 37, 5
    a = jax.random.normal(keys[1], (n, 11), jnp.float64)
    delta = jax.random.normal(keys[2], (n, 6), jnp.float64)
    w = jax.random.normal(keys[3], (n,), jnp.float64)
    rows = jax.random.randint(keys[4], (n,), 0, m)
    params, static = eqx.partition(layer, eqx.is_inexact_array)
    theta, unravel = ravel_pytree(params)

    def rows_of(th):
        return jax.ops.segment_sum(w * jnp.sum(delta * eqx.combine(unravel(th), static)(a), axis=1), rows, m)

    exact = jax.jacfwd(rows_of)(theta)
    old = _layerwise_tt.CHUNK_ELEMENTS
    try:
        _layerwise_tt.CHUNK_ELEMENTS = 2 * 3 * 3 * 12 * 8  # 8 nodes per chunk: 5 chunks, the last padded
        got = _layerwise_tt.tt_layer_columns(layer, a, delta, w, rows, m)
    finally:
        _layerwise_tt.CHUNK_ELEMENTS = old
    np.testing.assert_allclose(got, exact, rtol=0, atol=1e-13 * float(jnp.max(jnp.abs(exact))))


def math_prod(values) -> int:
    return int(np.prod(values))


TT_MLP_CASES = {  # TT layers in every position, including the read-out; a dense first layer before TT ones
    "all-tt": (
        "problems/nt_heat2d_box.yaml",
        {"model": {"type": "tt_mlp", "widths": [8, 8], "rank": [2, 2, 1], "dense_layers": [], "path": "dense"}},
    ),
    "dense-first": (
        "problems/nt_hjb10_ball.yaml",
        {
            "overrides": {"dimension": 4},
            "model": {
                "type": "tt_mlp",
                "widths": [12, 8],
                "rank": [3, 1],
                "n_cores": 2,
                "dense_layers": [0],
                "path": "dense",
            },
        },
    ),
}


def _as_dense(network: MLP) -> MLP:
    """The same network with every TT layer rebuilt as a dense one (``W = to_dense()``)."""

    def dense(layer):
        if not isinstance(layer, TTLinear):
            return layer
        shell = DenseLinear(layer.in_size, layer.out_size, key=jax.random.PRNGKey(0), dtype=layer.cores[0].dtype)
        return eqx.tree_at(lambda m: (m.weight, m.bias), shell, (layer.to_dense(), layer.bias))

    return MLP([dense(layer) for layer in network.layers], network.activation)


@pytest.mark.parametrize(
    "case", [pytest.param(case, marks=pytest.mark.slow) if case == "all-tt" else case for case in sorted(TT_MLP_CASES)]
)
def test_layerwise_jacobian_of_a_tt_mlp_matches_forward_mode(case):
    """The layerwise Jacobian of a TT-MLP (1) against the forward-mode Jacobian of the residual map,
    within the error of the deltas' forward differences (the bound of the dense cases in
    ``tests/test_gauss_newton.py``), and (2) to round-off against the layerwise Jacobian of the same
    network with dense layers chained with ``d W / d cores`` (``jax.jacfwd``): with ``path: dense``
    both networks run the same forward passes, so the deltas agree bit for bit and (2) checks the TT
    columns and their placement alone."""
    from test_gauss_newton import _residual_setup

    from pdesolve.solvers._layerwise import layerwise_jacobian

    problem, config = TT_MLP_CASES[case]
    loss, params, batch = _residual_setup(problem, dict(config))
    solution = eqx.combine(params, loss.static)
    assert any(isinstance(layer, TTLinear) for layer in solution.network.layers[1:])
    key = jax.random.PRNGKey(4)
    theta, unravel = ravel_pytree(params)
    fn = lambda th: loss.residuals(unravel(th), batch, key)  # noqa: E731
    exact, _ = jacobian("jvp", fn, theta, fn(theta))
    residuals_of = lambda u: loss.residuals_of(u, batch, key)  # noqa: E731
    r, jac, cost = layerwise_jacobian(residuals_of, solution, 6e-6, 16)
    np.testing.assert_allclose(r, fn(theta), rtol=0, atol=1e-10 * float(jnp.max(jnp.abs(r))))
    np.testing.assert_allclose(jac, exact, rtol=0, atol=1e-4 * float(jnp.max(jnp.abs(exact))))
    assert cost == sum(layer.out_size for layer in solution.network.layers[:-1])

    def dense_theta(th):
        dense = eqx.tree_at(lambda s: s.network, eqx.combine(unravel(th), loss.static), replace_fn=_as_dense)
        return ravel_pytree(eqx.filter(dense, eqx.is_inexact_array))[0]

    dense_solution = eqx.tree_at(lambda s: s.network, solution, replace_fn=_as_dense)
    _, dense_jac, _ = layerwise_jacobian(residuals_of, dense_solution, 6e-6, 16)
    chained = dense_jac @ jax.jacfwd(dense_theta)(theta)
    # round-off: node values summed in another order, then the stencil's 1 / step^2 (~1e6) weights
    np.testing.assert_allclose(jac, chained, rtol=0, atol=1e-9 * float(jnp.max(jnp.abs(chained))))


class _Scaled(AbstractLinear):
    """A layer type the layerwise Jacobian does not know (neither dense nor tensor train)."""

    inner: DenseLinear
    in_size: int = eqx.field(static=True)
    out_size: int = eqx.field(static=True)

    def __call__(self, z):
        return 2.0 * self.inner(z)

    def columns(self, index):
        return 2.0 * self.inner.columns(index)


def test_layerwise_refuses_an_unknown_layer_type():
    """``supports`` is False for an MLP with a layer that is neither dense nor TT, and the solver says so."""
    from pdesolve.loss import PinnLoss
    from pdesolve.solvers._gn_jacobian import JacobianSource
    from pdesolve.solvers._layerwise import supports

    keys = jax.random.split(jax.random.PRNGKey(0), 3)
    dense = [DenseLinear(2, 4, key=keys[0]), DenseLinear(4, 4, key=keys[1]), DenseLinear(4, 1, key=keys[2])]
    assert supports(MLP(dense, "tanh"))
    odd = MLP([dense[0], _Scaled(dense[1], 4, 4), dense[2]], "tanh")
    assert not supports(odd)

    solution = type("Solution", (eqx.Module,), {"__annotations__": {"network": MLP}})(network=odd)
    params, static = eqx.partition(solution, eqx.is_inexact_array)

    class Loss(PinnLoss):  # a PINN loss whose network is the odd MLP; nothing is evaluated
        def __init__(self):
            self.static = static

    with pytest.raises(pdesolve.ConfigError, match=r"layerwise.*dense and tensor-train"):
        JacobianSource("layerwise", None, None).check(Loss(), params)
