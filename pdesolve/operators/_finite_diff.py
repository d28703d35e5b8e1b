"""Central finite differences on the 2d+1 (+ time) stencil."""


import equinox as eqx
import jax.numpy as jnp
import numpy as np
from jaxtyping import Array, Float, PRNGKeyArray

from ._base import AbstractOperatorEngine, BatchedField
from ._chunking import map_over_points


def _stencil_parts(needs: frozenset[str]) -> tuple[bool, bool, bool]:
    """Which stencil parts ``needs`` uses: (centre, space pairs, time pair)."""
    centre = bool(needs & {"u", "u_xx", "lap_u", "u_tt"})
    space = bool(needs & {"u_x", "u_xx", "lap_u"})
    time = bool(needs & {"u_t", "u_tt"})
    return centre, space, time


class FiniteDifferenceEngine(AbstractOperatorEngine):
    """Second-order central differences with step ``step`` in every space coordinate and in t.

    Stencil: the point, ``x +- h e_i`` (2d) and ``t +- h`` (2), all evaluated in one call:
    ``u_x = (u+ - u-) / 2h``, ``u_xx = (u+ + u- - 2u) / h^2``, ``lap_u = sum_i u_xx``.
    """

    step: float = eqx.field(static=True)
    chunk_size: int | None = eqx.field(static=True, default=None)

    def __check_init__(self):
        if not self.step > 0:
            raise ValueError(f"the finite-difference step must be > 0, got {self.step}")

    @property
    def name(self) -> str:
        return "fd"

    def evals_per_point(self, needs: frozenset[str], dim: int) -> int:
        centre, space, time = _stencil_parts(needs)
        return int(centre) + 2 * dim * int(space) + 2 * int(time)

    def __call__(
        self,
        u: BatchedField,
        x: Float[Array, "n d"],
        t: Float[Array, " n"],
        needs: frozenset[str],
        key: PRNGKeyArray | None = None,
    ) -> dict[str, Array]:
        return map_over_points(lambda xc, tc: self._evaluate(u, xc, tc, needs), x, t, self.chunk_size)

    def _evaluate(self, u, x, t, needs):
        n, d = x.shape
        h = self.step
        centre, space, time = _stencil_parts(needs)
        # Offsets (k, d) in x and (k,) in t, built in numpy: [centre], +h e_i, -h e_i, t +- h.
        eye = np.eye(d)
        dx = [np.zeros((int(centre), d))] + ([h * eye, -h * eye] if space else [])
        dt = [np.zeros(int(centre) + 2 * d * int(space))]
        if time:
            dx.append(np.zeros((2, d)))
            dt.append(np.array([h, -h]))
        dx, dt = np.concatenate(dx), np.concatenate(dt)
        k = len(dx)
        z = (x[:, None, :] + jnp.asarray(dx, x.dtype)).reshape(n * k, d)
        tz = (t[:, None] + jnp.asarray(dt, t.dtype)).reshape(n * k)
        values = u(z, tz).reshape(n, k)

        f0 = values[:, 0] if centre else None
        out: dict[str, Array] = {}
        if "u" in needs:
            out["u"] = f0
        if space:
            plus = values[:, int(centre) : int(centre) + d]
            minus = values[:, int(centre) + d : int(centre) + 2 * d]
            if "u_x" in needs:
                out["u_x"] = (plus - minus) / (2 * h)
            if needs & {"u_xx", "lap_u"}:
                diag = (plus + minus - 2 * f0[:, None]) / h**2
                if "u_xx" in needs:
                    out["u_xx"] = diag
                if "lap_u" in needs:
                    out["lap_u"] = jnp.sum(diag, axis=1)
        if time:
            t_plus, t_minus = values[:, -2], values[:, -1]
            if "u_t" in needs:
                out["u_t"] = (t_plus - t_minus) / (2 * h)
            if "u_tt" in needs:
                out["u_tt"] = (t_plus + t_minus - 2 * f0) / h**2
        return out
