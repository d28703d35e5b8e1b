"""The Gauss-Newton Jacobian of a PINN's residual vector from activity perturbations (BP-free).

For ``u = base + factor * N`` with an MLP ``N``, a weight of a dense layer after the first enters
``N`` at a node only through its pre-activation ``z_l[i] = sum_k W_l[i, k] a_{l-1}[k] + b_l[i]``:

    dN/dW_l[i, k] = delta_l[i] a_{l-1}[k],   dN/db_l[i] = delta_l[i],   delta_l = dN/dz_l,

and ``delta_l[i]`` is a forward difference of the network from layer l on with ``z_l[i]`` moved
by a fixed step h (one partial forward pass per hidden unit and node, against P full passes for the
plain forward-difference Jacobian; the read-out's delta is 1). Its truncation error (h / 2) d^2N/dz^2
varies smoothly from node to node, so a stencil's second differences (weights ~1 / step^2)
do not amplify it; its round-off eps |N| / h they do, which is why h is eps^(1/3) (the central
difference's step) and not the forward difference's usual eps^(1/2): as accurate as a central
difference (``tests/test_gauss_newton.py``) at half the passes.
A dense first layer is handled the same way with the node coordinates as its inputs; at a stencil
(``stencil_values``: nodes z + s e_j) the network runs through the stencil-aware first layer and
the first layer's sums use
``sum_j a_j (z + s_j e_j) = (sum_j a_j) z + sum_j a_j s_j e_j``, so the node coordinates are never
formed (``_grouped_first``). A first layer on the symmetry features (``ProjectedInput``) is a
dense layer on each node's features, which are then its inputs. A tensor-train first layer has no
per-unit weights on the coordinates: it keeps its stencil-aware form (``at_nodes``), and its
columns are forward-mode tangents of that layer chained with ``delta_1``. A tensor-train layer
after the first has its cores' columns from its recorded deltas and inputs (``_layerwise_tt``).
Everything after the network (the ansatz, the stencil or Stein combination, the PDE's
nonlinearity, the soft-condition misfits) is linearised once (``jax.linearize``). That map combines
node values row by row (each node feeds one residual row
n -> row(n), with a weight w_n), so the dense layers' columns are sums over each row's nodes,

    dr_row/dW_l[i, k] = sum_{n: row(n) = row} w_n delta_l[i](n) a_{l-1}[k](n),

with w and row(n) read off two transposed applications of the map (``_node_weights``): two passes
instead of one application of the map per parameter. The base and factor are prepared once per
step (``FiniteDifferenceEngine.prepare``), the activity differences run in chunks of nodes, the sums
are batched products where each row's nodes are one consecutive group, and the first layer's sums
come from the stencil's points. Measurements: benchmarks/results/layerwise_jacobian/.

No derivative of the network is taken: the network is only queried (forward passes at perturbed
pre-activations), as in the forward-difference Jacobian; the only transposed map is the linear
combination after it.
"""

import functools
from typing import NamedTuple

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
from jax.flatten_util import ravel_pytree
from jaxtyping import Array, Float, Int

from ..models import MLP, DenseLinear, ProjectedInput, TTLinear
from ..models._mlp import ACTIVATIONS, stencil_hidden
from ..operators import stencil_points
from ._jacobian import columns, default_difference_step
from ._layerwise_tt import tt_layer_columns


def supports(network) -> bool:
    """Whether the activity-perturbation Jacobian applies: an MLP of dense and tensor-train layers
    (the first may read symmetry features, ``ProjectedInput``)."""
    return (
        isinstance(network, MLP)
        and isinstance(network.layers[0], (DenseLinear, TTLinear, ProjectedInput))
        and all(isinstance(layer, (DenseLinear, TTLinear)) for layer in network.layers[1:])
    )


def _exact_step(z: Float[Array, "..."], step: float) -> Float[Array, "..."]:
    """``step`` rounded so that ``z + h`` is exact (the difference divides by the true step). A step
    that grew with |z| would put a kink into the truncation error, which a stencil amplifies."""
    return (z + step) - z


#: Nodes per chunk of ``activity_differences``: its perturbed passes hold (nodes, units, next
#: width) arrays; in chunks they stay in cache (benchmarks/results/layerwise_jacobian/).
NODE_CHUNK = 2048


def node_chunk(network: MLP) -> int:
    """``NODE_CHUNK``, fewer for wider layers: the perturbed passes' (nodes, units, next width)
    arrays stay at most the size they have for 64 x 64 hidden layers."""
    widest = max(layer.in_size * layer.out_size for layer in network.layers[1:])
    return min(NODE_CHUNK, max(1, NODE_CHUNK * 64 * 64 // widest))


def activity_differences(network: MLP, hidden: Float[Array, "n w1"], step: float) -> tuple[Array, Array, Array]:
    """``_activity_differences`` in chunks of ``node_chunk`` nodes (the last padded with zeros)."""
    n, chunk = hidden.shape[0], node_chunk(network)
    if n <= chunk:
        return _activity_differences(network, hidden, step)
    chunks = -(-n // chunk)
    padded = jnp.pad(hidden, ((0, chunks * chunk - n), (0, 0))).reshape(chunks, chunk, -1)
    out = jax.lax.map(lambda part: _activity_differences(network, part, step), padded)
    return jax.tree.map(lambda a: a.reshape(chunks * chunk, *a.shape[2:])[:n], out)


def _activity_differences(network: MLP, hidden: Float[Array, "n w1"], step: float) -> tuple[Array, Array, Array]:
    """Forward pass from the first pre-activation, and its sensitivities by forward differences.

    Returns ``values`` (n,), ``deltas`` (n, w1 + ... + w_{L-1} + 1): dN/dz_l for every layer
    output in order (the read-out's is 1), and ``inputs`` (n, sum over layers l >= 2 of w_{l-1} + 1):
    each dense layer's input with a trailing 1 (the bias's input).

    Moving ``z_l[i]`` alone changes one activation, so the next pre-activation moves by
    ``W_{l+1}[:, i] (act(z_l[i] + h) - act(z_l[i]))``: the perturbed pass starts there (O(w) per
    unit for the last hidden layer instead of a pass through it).
    """
    act = ACTIVATIONS[network.activation]
    layers = network.layers[1:]

    def tail(start: int, z: Float[Array, "m w"]) -> Float[Array, " m"]:
        for layer in layers[start:]:
            z = layer(act(z))
        return z[:, 0]

    pre, acts, z = [hidden], [], hidden
    for layer in layers:
        acts.append(act(z))
        z = layer(acts[-1])
        pre.append(z)
    values, deltas = z[:, 0], []
    for start, (z, a) in enumerate(zip(pre[:-1], acts)):
        n, w = z.shape
        h = _exact_step(z, step)
        column = _input_columns(layers[start])[None]  # (1, unit, next): the next pre-activation per unit of a
        change = act(z + h) - a
        following = pre[start + 1][:, None, :] + change[:, :, None] * column  # (n, unit, next)
        moved = tail(start + 1, following.reshape(n * w, -1)).reshape(n, w)
        deltas.append((moved - values[:, None]) / h)
    deltas.append(jnp.ones_like(values[:, None]))
    return values, jnp.concatenate(deltas, axis=1), jnp.concatenate([_with_bias_input(a) for a in acts], axis=1)


def _input_columns(layer) -> Float[Array, "in out"]:
    """``W.T`` of a dense or tensor-train layer: its output's change per unit of each input."""
    return layer.weight.T if isinstance(layer, DenseLinear) else layer.to_dense().T


def _codes(layer: DenseLinear | ProjectedInput, weight: np.ndarray, bias: np.ndarray) -> np.ndarray:
    """``weight`` (out, in) and ``bias`` (out,) integer codes in the ravel order of ``layer``."""
    coded = eqx.tree_at(lambda m: (m.weight, m.bias), layer, (weight, bias))
    return np.concatenate([np.ravel(leaf) for leaf in jax.tree.leaves(coded)])


def _layer_blocks(network: MLP, start: int) -> list[tuple[int, int, int, int]]:
    """``(delta offset, units, input offset, inputs + 1)`` of each dense layer from ``start`` on: where
    its units sit among the recorded deltas and its inputs (with the bias's 1) among the recorded inputs."""
    blocks, delta_offset, input_offset = [], sum(layer.out_size for layer in network.layers[:start]), 0
    for layer in network.layers[start:]:
        blocks.append((delta_offset, layer.out_size, input_offset, layer.in_size + 1))
        delta_offset += layer.out_size
        input_offset += layer.in_size + 1
    return blocks


def _table_positions(network: MLP, start: int) -> Int[np.ndarray, " q"]:
    """For each parameter of ``network.layers[start:]``, in ravel order, its column in the table of
    ``_weighted_sums`` (layer by layer, unit-major, the bias as each unit's last input)."""
    positions, offset = [], 0
    for layer in network.layers[start:]:
        if isinstance(layer, TTLinear):  # ``tt_layer_columns`` are in ravel order already
            positions.append(offset + np.arange(layer.n_params))
            offset += layer.n_params
            continue
        assert isinstance(layer, (DenseLinear, ProjectedInput))  # dense-like or tensor-train (``supports``)
        k = layer.weight.shape[1] + 1
        grid = offset + np.arange(layer.out_size)[:, None] * k + np.arange(k)[None, :]
        positions.append(_codes(layer, grid[:, :-1], grid[:, -1]))
        offset += layer.out_size * k
    return np.concatenate(positions)


def _node_weights(linear_in_probes, probes: tuple, m: int, dtype):
    """Per network call: each node's weight in the linearised residual vector and the row it feeds.

    After the network the residual is a per-row combination of node values (stencil weights, the
    ansatz factor, the PDE's pointwise linearisation), so every node feeds one row n -> row(n) with
    weight w_n, and the transpose of that linear map gives ``L^T 1 = w`` and ``L^T [0, 1, ..., m-1] =
    w * row``. The transpose runs through that combination only, never through the network. An
    engine whose node fed two rows would break this silently: ``tests/test_gauss_newton.py``
    checks the layerwise Jacobian of FD (all or random coordinates), sparse-grid Stein and soft
    Neumann conditions against the forward-mode one.
    """
    transpose = jax.linear_transpose(linear_in_probes, probes)
    (weights,) = transpose(jnp.ones(m, dtype))
    (indexed,) = transpose(jnp.arange(m, dtype=dtype))
    rows = []
    for w, wi in zip(weights, indexed):
        used = w != 0
        rows.append(jnp.clip(jnp.round(jnp.where(used, wi / jnp.where(used, w, 1.0), 0.0)), 0, m - 1).astype(int))
    return weights, rows


class FirstInputs(NamedTuple):
    """A network call's first-layer inputs: the node coordinates ``points`` (N, in) themselves
    (``coords`` None), or a stencil over n points, nodes ``points[p] + shifts[p, j] e_coords[p, j]``."""

    points: Float[Array, "n in"]
    coords: Int[Array, "n k"] | None = None
    shifts: Float[Array, "n k"] | None = None

    def at_nodes(self) -> Float[Array, "N in"]:
        if self.coords is None or self.shifts is None:  # given together
            return self.points
        return stencil_points(self.points, self.coords, self.shifts)


def _weighted_sums(
    recorded: tuple, weights: tuple, rows: tuple, network: MLP, start: int, m: int
) -> Float[Array, "m q"]:
    """The table ``T[row, (unit, k)] = sum over calls and nodes n of that row of w_n delta_n[unit]
    input_n[k]``: dr/dW[unit, k] (k the bias's 1 for dr/db[unit]) for the layers from ``start`` on,
    layer by layer, unit-major."""
    return functools.reduce(
        jnp.add, (_call_sums(call, w, row, network, start, m) for call, w, row in zip(recorded, weights, rows))
    )


def _call_sums(call: tuple, w, row, network: MLP, start: int, m: int) -> Float[Array, "m q"]:
    """One network call's part of ``_weighted_sums``. Where the call's N nodes come in m equal
    consecutive groups, one per row (a stencil over the batch's points with the conditions built
    in: row(n) = n // (N / m)), the sums are batched matrix products (faster than segment sums),
    and a stencil's first layer sums its points' inputs once per point
    (``_grouped_first``); otherwise, or when the rows read off the map differ, segment sums."""
    deltas, later, first = call
    units = network.layers[0].out_size
    blocks = [
        (delta_offset, count, later[:, offset : offset + k])
        for delta_offset, count, offset, k in _layer_blocks(network, 1)
    ]
    tt_tables = {
        i: tt_layer_columns(layer, inputs[:, :-1], deltas[:, d0 : d0 + count], w, row, m)  # any rows
        for i, (layer, (d0, count, inputs)) in enumerate(zip(network.layers[1:], blocks))
        if isinstance(layer, TTLinear)
    }

    def scaled(delta_offset, count):
        return w[:, None] * deltas[:, delta_offset : delta_offset + count]

    def later_tables(table):  # dense layers by ``table(scaled deltas, inputs)``, TT layers by their columns
        return [
            tt_tables[i] if i in tt_tables else table(scaled(d0, count), inputs)
            for i, (d0, count, inputs) in enumerate(blocks)
        ]

    def by_segments(_):
        tables = [] if start else [_segment_table(scaled(0, units), _with_bias_input(first.at_nodes()), row, m)]
        tables += later_tables(lambda values, inputs: _segment_table(values, inputs, row, m))
        return jnp.concatenate(tables, axis=1)

    n = row.shape[0]
    if n % m:
        return by_segments(None)
    group = n // m

    def by_groups(_):
        tables = [] if start else [_grouped_first(scaled(0, units), first, group, m)]
        tables += later_tables(lambda values, inputs: _grouped_table(values, inputs, group, m))
        return jnp.concatenate(tables, axis=1)

    grouped = jnp.all((row == jnp.arange(n) // group) | (w == 0))
    return jax.lax.cond(grouped, by_groups, by_segments, None)


def _segment_table(scaled: Float[Array, "N u"], inputs: Float[Array, "N k"], row, m: int) -> Float[Array, "m uk"]:
    """``T[row, (unit, k)] = sum over the row's nodes of scaled[n, unit] inputs[n, k]``, unit by unit."""
    sums = jax.lax.map(lambda u: jax.ops.segment_sum(scaled[:, u, None] * inputs, row, m), jnp.arange(scaled.shape[1]))
    return sums.transpose(1, 0, 2).reshape(m, -1)


def _grouped_table(
    scaled: Float[Array, "N u"], inputs: Float[Array, "N k"], group: int, m: int
) -> Float[Array, "m uk"]:
    """``_segment_table`` for rows of ``group`` consecutive nodes: one batched matrix product."""
    return jnp.einsum("rgu,rgk->ruk", scaled.reshape(m, group, -1), inputs.reshape(m, group, -1)).reshape(m, -1)


def _grouped_first(scaled: Float[Array, "N u"], first: FirstInputs, group: int, m: int) -> Float[Array, "m uk"]:
    """The first layer's ``_grouped_table`` (inputs with the bias's 1). For a stencil whose points
    are the rows (k = group nodes each), ``sum_j a_j (z + s_j e_c_j) = (sum_j a_j) z + sum_j a_j s_j
    e_c_j``: one outer product per point and one scatter per node, O(n k w) instead of O(n k w in)
    (the node coordinates are never formed)."""
    if first.coords is None or first.shifts is None or first.coords.shape != (m, group):
        return _grouped_table(scaled, _with_bias_input(first.at_nodes()), group, m)
    per_node = scaled.reshape(m, group, -1)
    table = jnp.sum(per_node, axis=1)[:, :, None] * _with_bias_input(first.points)[:, None, :]  # (m, u, in + 1)
    moved = jnp.zeros_like(table).at[jnp.arange(m)[:, None], :, first.coords].add(per_node * first.shifts[..., None])
    return (table + moved).reshape(m, -1)


def _with_bias_input(z: Float[Array, "n k"]) -> Float[Array, "n k+1"]:
    """A layer's inputs with a trailing column of ones (the input of its bias)."""
    return jnp.concatenate([z, jnp.ones_like(z[:, :1])], axis=1)


class _Probed(eqx.Module):
    """The network as the residual sees it while a dense-first-layer Jacobian is built: called at
    node coordinates, or at a stencil through ``stencil_values`` (the stencil-aware first layer),
    it records ``(deltas, later inputs, FirstInputs)`` per call and adds that call's probe (whose
    tangents carry the Jacobian columns)."""

    network: MLP
    step: float = eqx.field(static=True)
    probes: tuple | None
    record: list = eqx.field(static=True)

    def __call__(self, z: Float[Array, "n in"]) -> Float[Array, " n"]:
        z = jax.lax.stop_gradient(z)
        hidden = self.network.first_layer(z)
        return self._output(*activity_differences(self.network, hidden, self.step), self._inputs(z))

    def stencil_values(self, z: Float[Array, "n in"], coords: Int[Array, "n k"], shifts: Float[Array, "n k"]):
        """The network at the nodes ``z + shifts e_coords`` (n, k), as ``MLP.stencil_values``."""
        z, shifts = jax.lax.stop_gradient(z), jax.lax.stop_gradient(shifts)
        hidden = stencil_hidden(self.network, z, coords, shifts)
        first = self.network.layers[0]
        inputs = (
            self._inputs(stencil_points(z, coords, shifts))
            if isinstance(first, ProjectedInput)
            else FirstInputs(z, coords, shifts)
        )
        values = self._output(*activity_differences(self.network, hidden, self.step), inputs)
        return values.reshape(coords.shape)

    def _inputs(self, z: Float[Array, "N in"]) -> FirstInputs:
        """The first layer's inputs at the nodes ``z``: the coordinates, or the symmetry features."""
        first = self.network.layers[0]
        return FirstInputs(first.features(z) if isinstance(first, ProjectedInput) else z)

    def _output(self, values, deltas, inputs, first: FirstInputs | None) -> Float[Array, " n"]:
        if self.probes is not None:
            values = values + self.probes[len(self.record)]
        self.record.append((deltas, inputs, first))
        return values


class _ProbedHidden(_Probed):
    """The same for a first layer with no per-unit weights (tensor train): it keeps the
    stencil-aware first layer, whose parameters' columns are forward-mode tangents chained with
    ``delta_1`` (the value is exact, its slope in the first pre-activation is ``delta_1``)."""

    def __call__(self, z):
        return self._from_hidden(self.network.first_layer(z))

    def stencil_values(self, z, coords, shifts):
        return self._from_hidden(stencil_hidden(self.network, z, coords, shifts)).reshape(coords.shape)

    def _from_hidden(self, hidden: Float[Array, "n w1"]) -> Float[Array, " n"]:
        fixed = jax.lax.stop_gradient(hidden)
        values, deltas, inputs = jax.lax.stop_gradient(activity_differences(self.network, fixed, self.step))
        values = values + jnp.sum(deltas[:, : hidden.shape[1]] * (hidden - fixed), axis=1)
        return self._output(values, deltas, inputs, None)


def layerwise_jacobian(residuals_of, solution, step: float | None, chunk_size: int | None):
    """``(r, J, cost)`` of ``residuals_of(solution) -> (m,)`` over the parameters of
    ``solution.network`` (columns in ``ravel_pytree`` order of the solution's inexact arrays).

    ``step``: the fixed pre-activation step of the deltas' forward differences (None: eps^(1/3) of
    the network's precision, the central difference's step, because a stencil amplifies their round-off).

    The dense layers' columns are ``_weighted_sums`` of the recorded deltas and inputs with each
    node's weight in the linearised residual (``_node_weights``); a tensor-train first layer's
    columns are the linear map applied to unit tangents, ``chunk_size`` at a time.
    ``cost``: the Jacobian's network passes per node beyond the residual's own, in units of one
    residual evaluation (one partial pass per hidden unit for the deltas, counted as whole).
    """
    network = solution.network
    dense_first = isinstance(network.layers[0], (DenseLinear, ProjectedInput))
    start = 0 if dense_first else 1
    dtype = jax.tree.leaves(network)[0].dtype
    step = default_difference_step("central_difference", dtype) if step is None else step
    first, unravel_first = ravel_pytree(jnp.zeros(0, dtype) if dense_first else network.layers[0])

    def residuals(theta_first, probes):
        record: list = []
        if dense_first:
            probed = _Probed(network, step, probes, record)
        else:
            layered = eqx.tree_at(lambda net: net.layers[0], network, unravel_first(theta_first))
            probed = _ProbedHidden(layered, step, probes, record)
        return residuals_of(eqx.tree_at(lambda s: s.network, solution, probed)), tuple(record)

    calls = jax.eval_shape(lambda th: residuals(th, None)[1], first)
    probes = tuple(jnp.zeros(deltas.shape[:1], dtype) for deltas, _, _ in calls)
    r, linear, recorded = jax.linearize(residuals, first, probes, has_aux=True)
    zero_first = jnp.zeros_like(first)
    weights, rows = _node_weights(lambda p: linear(zero_first, p), probes, r.shape[0], dtype)
    table = _weighted_sums(recorded, weights, rows, network, start, r.shape[0])
    later = table[:, _table_positions(network, start)]
    if dense_first:
        return r, later, _hidden_units(network)
    zero_probes = jax.tree.map(jnp.zeros_like, probes)

    def first_column(j):
        return linear(jax.nn.one_hot(j, first.shape[0], dtype=dtype), zero_probes)

    jac = jnp.concatenate([columns(first_column, first.shape[0], chunk_size), later], axis=1)
    return r, jac[:, _ravel_positions(solution)], _hidden_units(network)  # [first | later] -> ravel order


def _hidden_units(network: MLP) -> int:
    return sum(layer.out_size for layer in network.layers[:-1])


def _ravel_positions(solution) -> Int[np.ndarray, " p"]:
    """Indices that reorder [first-layer columns, later columns] into the ``ravel_pytree`` order of
    the solution's parameters."""
    params = eqx.filter(solution, eqx.is_inexact_array)
    zeros = jax.tree.map(lambda a: np.zeros(a.shape, bool), params)
    mask_tree = eqx.tree_at(
        lambda s: s.network.layers[0], zeros, jax.tree.map(lambda a: np.ones(a.shape, bool), zeros.network.layers[0])
    )
    mask = np.concatenate([np.ravel(a) for a in jax.tree.leaves(mask_tree)])
    return np.argsort(np.argsort(~mask, kind="stable"))
