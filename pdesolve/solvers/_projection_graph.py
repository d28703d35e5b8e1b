"""A dense MLP on a batch as a constraint graph, solved by iterative projections (divide and concur).

Variables: each layer's input rows h (with a constant 1 appended for the bias), its weights
``[W | b]``, its pre-activations a and (hidden layers) activations. Constraints ("divide" set A):
for every sample m and unit j the bilinear ``[h_m, 1] . [W_j, b_j] = a_mj`` on its own copies of
h_m and of the weight row; ``act(a) = h`` on copies of a and h; the PINN output constraints (one
hyperplane per collocation point over its stencil nodes' outputs). The "concur" set B says all
copies of a variable agree (projection: their average; the network inputs and the constant 1
are fixed). Algorithms, from a forward pass:

- ``alternating``: ``x <- P_B P_A x``;
- ``douglas_rachford``: ``x <- (1 - lam) x + lam R_B R_A x`` with ``R = 2 P - I`` (lam = 0.5: the
  classic averaged form); the estimate is ``P_B P_A x``;
- ``cyclic``: projections onto the constraint families one at a time (outputs, then layers from
  the last back to the first), each followed by the consensus: ``x <- P_B P_F ... P_B P_1 x``,
  for graphs where a two-set (bipartite) split is not wanted.
"""

import equinox as eqx
import jax
import jax.numpy as jnp
from jaxtyping import Array, Float

from ..models import ACTIVATIONS, MLP, DenseLinear
from . import _graph_projections as proj

ALGORITHMS = ("douglas_rachford", "alternating", "cyclic")


class GraphVariables(eqx.Module):
    """The divide copies, per layer l (M samples, out_l units, in_l + 1 inputs with the 1)."""

    inputs: tuple[Float[Array, "m out in1"], ...]  # copies of [h_{l-1}, 1], one per unit
    weights: tuple[Float[Array, "m out in1"], ...]  # copies of [W_l | b_l], one per sample
    dots: tuple[Float[Array, "m out"], ...]  # the dot constraints' copies of a_l
    pre: tuple[Float[Array, "m out"], ...]  # the activations' copies of a_l (hidden layers)
    post: tuple[Float[Array, "m out"], ...]  # the activations' copies of h_l (hidden layers)
    outputs: Float[Array, " m"]  # the output constraints' copy of N


def _stacked(layer: DenseLinear) -> Float[Array, "out in1"]:
    return jnp.concatenate([layer.weight, layer.bias[:, None]], axis=1)


def forward_variables(network: MLP, z: Float[Array, "m in"]) -> GraphVariables:
    """Every copy set to the value of a forward pass (a point of B, and of A but the outputs)."""
    act = ACTIVATIONS[network.activation]
    m = z.shape[0]
    inputs, weights, dots, pre, post = [], [], [], [], []
    h = z
    for i, layer in enumerate(network.layers):
        assert isinstance(layer, DenseLinear)  # the projection solver takes dense networks only (checked at build)
        wb = _stacked(layer)
        h1 = jnp.concatenate([h, jnp.ones((m, 1), h.dtype)], axis=1)
        inputs.append(jnp.broadcast_to(h1[:, None, :], (m, *wb.shape)))
        weights.append(jnp.broadcast_to(wb[None], (m, *wb.shape)))
        a = h1 @ wb.T
        dots.append(a)
        if i < len(network.layers) - 1:
            h = act(a)
            pre.append(a)
            post.append(h)
    return GraphVariables(tuple(inputs), tuple(weights), tuple(dots), tuple(pre), tuple(post), dots[-1][:, 0])


def consensus(v: GraphVariables, z: Float[Array, "m in"]) -> GraphVariables:
    """P_B: every variable's copies replaced by their average; inputs and the 1 fixed."""
    n_layers = len(v.weights)
    m = z.shape[0]
    ones = jnp.ones((m, 1), z.dtype)
    weights = tuple(jnp.broadcast_to(jnp.mean(w, axis=0, keepdims=True), w.shape) for w in v.weights)
    dots, pre, outputs, post = list(v.dots), list(v.pre), v.outputs, list(v.post)
    for i in range(n_layers):
        if i < n_layers - 1:
            a = 0.5 * (v.dots[i] + v.pre[i])
            dots[i], pre[i] = a, a
        else:
            a = 0.5 * (v.dots[i][:, 0] + v.outputs)
            dots[i], outputs = a[:, None], a
    inputs = []
    for i in range(n_layers):
        if i == 0:
            h = z
        else:  # the next layer's per-unit copies and the activation's copy
            copies = v.inputs[i][..., :-1]
            h = (jnp.sum(copies, axis=1) + v.post[i - 1]) / (copies.shape[1] + 1)
            post[i - 1] = h
        h1 = jnp.concatenate([h, ones], axis=1)
        inputs.append(jnp.broadcast_to(h1[:, None, :], v.inputs[i].shape))
    return GraphVariables(tuple(inputs), weights, tuple(dots), tuple(pre), tuple(post), outputs)


class OutputConstraints(eqx.Module):
    """Hyperplanes ``coefficients[g] . N[group g] + offset[g] = 0`` over consecutive groups of
    ``size`` samples (one group per collocation point), for each block of the batch."""

    coefficients: tuple[Float[Array, "n k"], ...]
    offsets: tuple[Float[Array, " n"], ...]

    def project(self, outputs: Float[Array, " m"]) -> Float[Array, " m"]:
        parts, start = [], 0
        for c, e in zip(self.coefficients, self.offsets):
            size = c.size
            part = outputs[start : start + size].reshape(c.shape)
            parts.append(proj.hyperplane(part, c, -e).reshape(-1))
            start += size
        return jnp.concatenate(parts)


def _project_family(
    v: GraphVariables, family: str, layer: int, activation: str, targets: OutputConstraints
) -> GraphVariables:
    """P onto one family of constraints (the others' copies unchanged)."""
    if family == "outputs":
        return eqx.tree_at(lambda g: g.outputs, v, targets.project(v.outputs))
    if family == "dot":
        x, w, a = proj.dot(v.inputs[layer], v.weights[layer], v.dots[layer])
        return eqx.tree_at(lambda g: (g.inputs[layer], g.weights[layer], g.dots[layer]), v, (x, w, a))
    pre, post = proj.ACTIVATION_PROJECTIONS[activation](v.pre[layer], v.post[layer])
    return eqx.tree_at(lambda g: (g.pre[layer], g.post[layer]), v, (pre, post))


def _families(n_layers: int) -> list[tuple[str, int]]:
    """Outputs, then each layer's dot products and the activation before them, last layer first."""
    order = [("outputs", -1)]
    for i in reversed(range(n_layers)):
        order.append(("dot", i))
        if i > 0:
            order.append(("act", i - 1))
    return order


def project_all(v: GraphVariables, activation: str, targets: OutputConstraints) -> GraphVariables:
    """P_A: every constraint on its own copies (the families are independent)."""
    for family, layer in _families(len(v.weights)):
        v = _project_family(v, family, layer, activation, targets)
    return v


def solve_graph(
    network: MLP,
    z: Float[Array, "m in"],
    targets: OutputConstraints,
    algorithm: str,
    iterations: int,
    relaxation: float,
) -> MLP:
    """Runs ``iterations`` of ``algorithm`` from a forward pass; returns the network with the
    consensus weights (only parameters are kept between batches)."""
    if network.activation not in proj.ACTIVATION_PROJECTIONS:
        raise ValueError(f"no graph projection for the activation {network.activation!r}")
    act = network.activation
    combine = lambda f, *trees: jax.tree.map(f, *trees)  # noqa: E731

    def douglas_rachford(_, x):
        pa = project_all(x, act, targets)
        ra = combine(lambda p, q: 2 * p - q, pa, x)
        rb = combine(lambda p, q: 2 * p - q, consensus(ra, z), ra)
        return combine(lambda p, q: (1 - relaxation) * p + relaxation * q, x, rb)

    def alternating(_, x):
        return consensus(project_all(x, act, targets), z)

    def cyclic(_, x):
        for family, layer in _families(len(x.weights)):
            x = consensus(_project_family(x, family, layer, act, targets), z)
        return x

    body = {"douglas_rachford": douglas_rachford, "alternating": alternating, "cyclic": cyclic}[algorithm]
    x = jax.lax.fori_loop(0, iterations, body, forward_variables(network, z))
    if algorithm == "douglas_rachford":
        x = consensus(project_all(x, act, targets), z)
    layers = []
    for layer, copies in zip(network.layers, x.weights):
        wb = copies[0]
        layers.append(eqx.tree_at(lambda lay: (lay.weight, lay.bias), layer, (wb[:, :-1], wb[:, -1])))
    return eqx.tree_at(lambda net: net.layers, network, tuple(layers))
