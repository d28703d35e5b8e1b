"""A first layer on a problem's symmetry features instead of its coordinates (``model.inputs: subspace``).

For a solution u(x, t) = U(Q^T (x - c), |x - c|^2, t) (``problem._symmetry``) the first
pre-activation is ``W [Q^T (x - c) / s, |x - c|^2 / D, t] + b``: k + 1 (+ 1) inputs per unit
instead of d (+ 1). Q, c, s and D are fixed by the problem, not trained.
"""

import equinox as eqx
import jax
import jax.numpy as jnp
from jaxtyping import Array, Float, Int, PRNGKeyArray

from ..frozen import Frozen
from ..problem import Subspace
from ._layers import AbstractLinear, uniform_bound


class ProjectedInput(AbstractLinear):
    """``(n, d [+ 1]) -> (n, out)``: ``W features(z) + b`` with features (n, k + 1 [+ 1]):
    the projections ``Q^T (x - c) / s``, the radial ``|x - c|^2 / D`` and, with time, t."""

    weight: Float[Array, "out features"]
    bias: Float[Array, " out"]
    basis: Frozen = eqx.field(static=True)  # Q (d, k)
    centre: Frozen = eqx.field(static=True)  # c (d,)
    scale: float = eqx.field(static=True)
    radial_divisor: float = eqx.field(static=True)
    in_size: int = eqx.field(static=True)
    out_size: int = eqx.field(static=True)

    def __init__(
        self, subspace: Subspace, in_size: int, out_size: int, *, key: PRNGKeyArray, init: str = "lecun", dtype
    ):
        features = subspace.directions + 1 + in_size - subspace.basis.shape[0]
        wkey, bkey = jax.random.split(key)
        bound = uniform_bound(features, init)
        self.weight = jax.random.uniform(wkey, (out_size, features), dtype, -bound, bound)
        self.bias = jax.random.uniform(bkey, (out_size,), dtype, -bound, bound)
        self.basis = Frozen(subspace.basis)
        self.centre = Frozen(subspace.centre)
        self.scale = subspace.scale
        self.radial_divisor = subspace.radial_divisor
        self.in_size = in_size
        self.out_size = out_size

    @property
    def dim(self) -> int:
        return self.basis.array.shape[0]

    def features(self, z: Float[Array, "n in"]) -> Float[Array, "n features"]:
        """``[Q^T (x - c) / s, |x - c|^2 / D, t]`` of the rows z = (x, t) or x."""
        x = z[:, : self.dim] - jnp.asarray(self.centre.array, z.dtype)[None, :]
        projected = x @ jnp.asarray(self.basis.array, z.dtype) / self.scale
        radial = jnp.sum(x * x, axis=1, keepdims=True) / self.radial_divisor
        return jnp.concatenate([projected, radial, z[:, self.dim :]], axis=1)

    def __call__(self, z: Float[Array, "n in"]) -> Float[Array, "n out"]:
        out = self.features(z) @ self.weight.T
        return out + jnp.broadcast_to(self.bias, out.shape)

    def columns(self, index: Array) -> Float[Array, "*index out"]:
        """The change per unit step along input ``index`` of the linear features (projections and
        time); the radial feature's change depends on the point, which ``at_nodes`` adds."""
        k = self.basis.array.shape[1]
        per_input = jnp.concatenate(
            [
                jnp.asarray(self.basis.array, self.weight.dtype) @ self.weight[:, :k].T / self.scale,
                self.weight[:, k + 1 :].T,
            ]
        )  # (in, out): a coordinate moves its projections, time moves the time input
        return per_input[index]

    def at_nodes(
        self, z: Float[Array, "n in"], coords: Int[Array, "n k"], shifts: Float[Array, "n k"]
    ) -> Float[Array, "n k out"]:
        """The layer at ``z + shifts e_coords``: the linear features move by ``columns``, the radial
        by ``(2 s (x_j - c_j) + s^2) / D`` for a coordinate j (time leaves it)."""
        linear = self(z)[:, None, :] + shifts[..., None] * self.columns(coords)
        spatial = coords < self.dim
        offset = (
            jnp.take_along_axis(z, coords, axis=1)
            - jnp.asarray(self.centre.array, z.dtype)[jnp.minimum(coords, self.dim - 1)]
        )
        radial = jnp.where(spatial, (2.0 * shifts * offset + shifts**2) / self.radial_divisor, 0.0)
        return linear + radial[..., None] * self.weight[None, None, :, self.basis.array.shape[1]]
