"""The Gauss-Newton Jacobian of a PINN's residual vector from activity perturbations (BP-free).

For ``u = base + factor * N`` with an MLP ``N``, a weight of a dense layer after the first enters
``N`` at a node only through its pre-activation ``z_l[i] = sum_k W_l[i, k] a_{l-1}[k] + b_l[i]``:

    dN/dW_l[i, k] = delta_l[i] a_{l-1}[k],   dN/db_l[i] = delta_l[i],   delta_l = dN/dz_l,

and ``delta_l[i]`` is one forward difference of the network from layer l on with ``z_l[i]``
perturbed (sum of the hidden widths perturbed partial forward passes per node, against P full
passes for the plain forward-difference Jacobian; the read-out's delta is 1). The first layer
(dense or tensor-train) feeds ``z_1`` at a node as ``W z + b`` (or the stencil-aware
``W z + b + s W[:, j]``); its columns are forward-mode tangents of that layer chained with
``delta_1``. Everything after the network (the ansatz, the stencil or Stein combination, the
PDE's nonlinearity, the soft-condition misfits) is linearised once (``jax.linearize``): a residual
row depends on the network only through its values at the row's nodes.

No reverse-mode pass and no derivative of the network is taken: the network is only queried
(forward passes at perturbed pre-activations), as in the forward-difference Jacobian.
"""

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
from jax.flatten_util import ravel_pytree
from jaxtyping import Array, Float, Int

from ..models import MLP, DenseLinear
from ..models._mlp import ACTIVATIONS
from ._jacobian import columns


def supports(network) -> bool:
    """Whether the activity-perturbation Jacobian applies: an MLP with dense layers after the first."""
    return isinstance(network, MLP) and all(isinstance(layer, DenseLinear) for layer in network.layers[1:])


def _relative_step(z: Float[Array, "..."], step: float) -> Float[Array, "..."]:
    """``step * max(1, |z|)`` rounded so that ``z + h`` is exact (the difference uses the true step)."""
    return (z + step * jnp.maximum(1.0, jnp.abs(z))) - z


def activity_differences(network: MLP, hidden: Float[Array, "n w1"], step: float):
    """Forward pass from the first pre-activation, and its sensitivities by forward differences.

    Returns ``values`` (n,), ``deltas`` (n, w1 + ... + w_{L-1} + 1): dN/dz_l for every layer
    output in order (the read-out's is 1), and ``inputs`` (n, sum over layers l >= 2 of w_{l-1} + 1):
    each dense layer's input with a trailing 1 (the bias's input).
    """
    act = ACTIVATIONS[network.activation]
    layers = network.layers[1:]

    def tail(start: int, z: Float[Array, "m w"]) -> Float[Array, " m"]:
        for layer in layers[start:]:
            z = layer(act(z))
        return z[:, 0]

    pre, inputs, z = [hidden], [], hidden
    for layer in layers:
        a = act(z)
        inputs += [a, jnp.ones_like(a[:, :1])]
        z = layer(a)
        pre.append(z)
    values = z[:, 0]
    deltas = []
    for start, z in enumerate(pre[:-1]):
        n, w = z.shape
        h = _relative_step(z, step)
        shift = jnp.eye(w, dtype=z.dtype)[None] * h[:, None, :]  # (n, unit, w): one unit moved per row
        plus = tail(start, (z[:, None, :] + shift).reshape(n * w, w)).reshape(n, w)
        minus = tail(start, (z[:, None, :] - shift).reshape(n * w, w)).reshape(n, w)
        deltas.append((plus - minus) / (2 * h))
    deltas.append(jnp.ones_like(values[:, None]))
    return values, jnp.concatenate(deltas, axis=1), jnp.concatenate(inputs, axis=1)


def _codes(layer: DenseLinear, weight: np.ndarray, bias: np.ndarray) -> np.ndarray:
    """``weight`` (out, in) and ``bias`` (out,) integer codes in the ravel order of ``layer``."""
    coded = eqx.tree_at(lambda l: (l.weight, l.bias), layer, (weight, bias))
    return np.concatenate([np.ravel(leaf) for leaf in jax.tree.leaves(coded)])


def _rest_codes(network: MLP) -> tuple[Int[np.ndarray, " q"], Int[np.ndarray, " q"]]:
    """For each parameter of the layers after the first, in ravel order: its column of ``deltas``
    (its layer's output unit) and of ``inputs`` (its input unit, or the trailing 1 of a bias)."""
    delta_offset, input_offset = network.layers[0].out_size, 0
    delta_codes, input_codes = [], []
    for layer in network.layers[1:]:
        units = delta_offset + np.arange(layer.out_size)
        shape = (layer.out_size, layer.in_size)
        delta_codes.append(_codes(layer, np.broadcast_to(units[:, None], shape), units))
        input_codes.append(_codes(layer, np.broadcast_to(input_offset + np.arange(layer.in_size), shape),
                                  np.full(layer.out_size, input_offset + layer.in_size)))
        delta_offset += layer.out_size
        input_offset += layer.in_size + 1
    return np.concatenate(delta_codes), np.concatenate(input_codes)


class _Probed(eqx.Module):
    """The network as the residual sees it while the Jacobian is built: values from
    ``activity_differences`` (recorded per call), a first-order dependence on the first
    pre-activation through ``delta_1`` only, and an additive probe per call."""

    network: MLP
    step: float = eqx.field(static=True)
    probes: tuple | None
    record: list = eqx.field(static=True)

    def __call__(self, z):
        return self.from_hidden(self.first_layer(z))

    def first_layer(self, z):
        return self.network.first_layer(z)

    def input_columns(self, index):
        return self.network.input_columns(index)

    def from_hidden(self, hidden: Float[Array, "n w1"]) -> Float[Array, " n"]:
        fixed = jax.lax.stop_gradient(hidden)
        values, deltas, inputs = jax.tree.map(jax.lax.stop_gradient,
                                              activity_differences(self.network, fixed, self.step))
        w1 = hidden.shape[1]
        out = values + jnp.sum(deltas[:, :w1] * (hidden - fixed), axis=1)  # value exact, slope delta_1
        if self.probes is not None:
            out = out + self.probes[len(self.record)]
        self.record.append((deltas, inputs))
        return out


def layerwise_jacobian(residuals_of, solution, step: float, chunk_size: int | None):
    """``(r, J, cost)`` of ``residuals_of(solution) -> (m,)`` over the parameters of
    ``solution.network`` (columns in ``ravel_pytree`` order of the solution's inexact arrays).

    ``cost``: network passes per node, in units of one residual evaluation (1 for the values, plus
    one partial pass per hidden unit for the deltas).
    """
    network = solution.network
    first, unravel_first = ravel_pytree(network.layers[0])
    delta_codes, input_codes = (jnp.asarray(codes) for codes in _rest_codes(network))

    def residuals(theta_first, probes):
        record: list = []
        layered = eqx.tree_at(lambda net: net.layers[0], network, unravel_first(theta_first))
        probed = _Probed(layered, step, probes, record)
        return residuals_of(eqx.tree_at(lambda s: s.network, solution, probed)), tuple(record)

    calls = jax.eval_shape(lambda th: residuals(th, None)[1], first)
    probes = tuple(jnp.zeros(deltas.shape[:1], first.dtype) for deltas, _ in calls)
    r, linear, recorded = jax.linearize(residuals, first, probes, has_aux=True)
    zero_first, zero_probes = jnp.zeros_like(first), jax.tree.map(jnp.zeros_like, probes)

    def first_column(j):
        return linear(jax.nn.one_hot(j, first.shape[0], dtype=first.dtype), zero_probes)

    def rest_column(c):
        return linear(zero_first, tuple(d[:, delta_codes[c]] * a[:, input_codes[c]] for d, a in recorded))

    jac = jnp.concatenate([columns(first_column, first.shape[0], chunk_size),
                           columns(rest_column, len(delta_codes), chunk_size)], axis=1)
    hidden_units = sum(layer.out_size for layer in network.layers[:-1])
    return r, jac[:, _ravel_positions(solution)], 1 + hidden_units


def _ravel_positions(solution) -> Int[np.ndarray, " p"]:
    """Indices that reorder [first-layer columns, later columns] into the ``ravel_pytree`` order of
    the solution's parameters."""
    params = eqx.filter(solution, eqx.is_inexact_array)
    zeros = jax.tree.map(lambda a: np.zeros(a.shape, bool), params)
    mask_tree = eqx.tree_at(lambda s: s.network.layers[0], zeros,
                            jax.tree.map(lambda a: np.ones(a.shape, bool), zeros.network.layers[0]))
    mask = np.concatenate([np.ravel(a) for a in jax.tree.leaves(mask_tree)])
    return np.argsort(np.argsort(~mask, kind="stable"))
