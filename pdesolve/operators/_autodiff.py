"""Autodiff (reference) operator engine: forward-mode jvps, no full Hessian."""

import jax
import jax.numpy as jnp
from jaxtyping import Array, Float, PRNGKeyArray

from ._base import AbstractOperatorEngine, BatchedField


class AutodiffEngine(AbstractOperatorEngine):
    """Exact operators by forward-mode autodiff.

    The points are independent, so one jvp of the batched field with a tangent that is the
    same unit vector at every point gives that directional derivative at all points at once.
    Second derivatives are jvp-of-jvp along each coordinate (d passes, vmapped), so only the
    Hessian diagonal is ever formed.
    """

    @property
    def name(self) -> str:
        return "ad"

    def evals_per_point(self, needs: frozenset[str], dim: int) -> int:
        count = 1
        if needs & {"u_x"}:
            count += dim
        if needs & {"u_xx", "lap_u"}:
            count += 2 * dim
        count += int("u_t" in needs) + 2 * int("u_tt" in needs)
        return count

    def __call__(
        self,
        u: BatchedField,
        x: Float[Array, "n d"],
        t: Float[Array, " n"],
        needs: frozenset[str],
        key: PRNGKeyArray | None = None,
    ) -> dict[str, Array]:
        out: dict[str, Array] = {}
        dim = x.shape[1]
        if "u" in needs:
            out["u"] = u(x, t)

        def along_x(direction: Float[Array, " d"]):
            tangent = jnp.broadcast_to(direction, x.shape)
            return lambda xx: jax.jvp(lambda y: u(y, t), (xx,), (tangent,))[1]

        def first_and_second(direction):
            first = along_x(direction)
            return first(x), jax.jvp(first, (x,), (jnp.broadcast_to(direction, x.shape),))[1]

        eye = jnp.eye(dim, dtype=x.dtype)
        if needs & {"u_xx", "lap_u"}:
            grads, diag = jax.vmap(first_and_second, out_axes=1)(eye)  # (n, d) each
            if "u_x" in needs:
                out["u_x"] = grads
            if "u_xx" in needs:
                out["u_xx"] = diag
            if "lap_u" in needs:
                out["lap_u"] = jnp.sum(diag, axis=1)
        elif "u_x" in needs:
            out["u_x"] = jax.vmap(lambda e: along_x(e)(x), out_axes=1)(eye)

        if needs & {"u_t", "u_tt"}:
            ones = jnp.ones_like(t)
            d_t = lambda tt: jax.jvp(lambda s: u(x, s), (tt,), (ones,))[1]
            if "u_tt" in needs:
                out["u_t"], out["u_tt"] = jax.jvp(d_t, (t,), (ones,))
            else:
                out["u_t"] = d_t(t)
            if "u_t" not in needs:
                del out["u_t"]
        return out


