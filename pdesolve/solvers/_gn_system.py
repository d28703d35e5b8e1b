"""The damped Gauss-Newton system of one step, ``(G + lam I) y = -g`` for ``G = A^T A``, ``g = A^T r``.

A is the batch's Jacobian J after the column scaling ``J -> J S^-1`` (S = I, or Marquardt's
|J e_j|, which makes the damping ``lam D`` with D = diag(J^T J)). ``Assembly`` builds the system
from the whole batch's Jacobian (kernel form ``A A^T`` when m < P, the same step by Woodbury) or
sums the normal equations of chunks of the batch (normal form: one chunk's Jacobian in memory at a
time, plus P x P).
"""

from collections.abc import Callable

import equinox as eqx
import jax
import jax.numpy as jnp
import jax.scipy.linalg as jsl
from jaxtyping import Array, Float

from ..errors import ConfigError

SCALINGS = ("identity", "marquardt")


class DampedSystem(eqx.Module):
    """Solves ``(G + lam I) y = -g`` for ``G = A^T A``, ``g = A^T r`` of an (m, P) matrix A and residual r.

    ``build`` keeps A and works in the smaller of the two forms (kernel m x m when m < P);
    ``from_normal`` takes G, g and |r|^2 summed over chunks of rows (normal form, A not kept).
    """

    gram: Float[Array, "k k"]  # A^T A (k = P) or A A^T (k = m)
    gradient: Float[Array, " p"]  # A^T r
    loss: Float[Array, ""]  # |r|^2
    matrix: Float[Array, "m p"] | None
    residual: Float[Array, " m"] | None
    kernel: bool = eqx.field(static=True)

    @classmethod
    def build(cls, matrix, residual):
        m, p = matrix.shape
        kernel = m < p
        gram = matrix @ matrix.T if kernel else matrix.T @ matrix
        return cls(gram, matrix.T @ residual, jnp.sum(residual**2), matrix, residual, kernel)

    @classmethod
    def from_normal(cls, gram, gradient, loss):
        return cls(gram, gradient, loss, None, None, False)

    @property
    def mean_diagonal(self) -> Float[Array, ""]:
        """trace(A^T A) / P: the size of the curvature, for relative damping."""
        return jnp.trace(self.gram) / self.gradient.shape[0]

    def factor(self, lam: Float[Array, ""]):
        """The Cholesky factor of the damped Gram matrix (reused for several right-hand sides)."""
        return jsl.cho_factor(self.gram + lam * jnp.eye(self.gram.shape[0], dtype=self.gram.dtype))

    @property
    def kept(self) -> tuple[Float[Array, "m p"], Float[Array, " m"]]:
        """A and r, which ``build`` keeps and the normal form (``from_normal``) does not."""
        if self.matrix is None or self.residual is None:
            raise ValueError("the normal form keeps no matrix A; build the system with DampedSystem.build")
        return self.matrix, self.residual

    def step(self, factor) -> Float[Array, " p"]:
        """``-(G + lam I)^-1 g`` with ``factor = self.factor(lam)``."""
        if self.kernel:
            matrix, residual = self.kept
            return -matrix.T @ jsl.cho_solve(factor, residual)
        return jsl.cho_solve(factor, -self.gradient)

    def apply(self, factor, residual: Float[Array, " m"]) -> Float[Array, " p"]:
        """``-(A^T A + lam I)^-1 A^T residual`` for another residual (needs A: ``build``)."""
        matrix, _ = self.kept
        if self.kernel:
            return -matrix.T @ jsl.cho_solve(factor, residual)
        return jsl.cho_solve(factor, -matrix.T @ residual)

    def solve(self, lam: Float[Array, ""]) -> Float[Array, " p"]:
        return self.step(self.factor(lam))

    def predicted_reduction(self, y: Float[Array, " p"]) -> Float[Array, ""]:
        """``|r|^2 - |r + A y|^2`` of the linearised residual."""
        if self.matrix is not None and self.residual is not None:  # kept together (build)
            return self.loss - jnp.sum((self.residual + self.matrix @ y) ** 2)
        return -(2 * self.gradient @ y + y @ (self.gram @ y))


#: A chunk's ``(r, J, cost)``: its residual vector, its Jacobian and the residual-evaluation
#: equivalents the Jacobian cost.
ChunkJacobian = Callable[[dict], tuple[Array, Array, Array | int]]


class Assembly(eqx.Module):
    """How a step's system is built: the column ``scaling`` (``identity`` | ``marquardt``) and the
    number of chunks ``accumulate`` whose normal equations are summed (1: the whole batch's A kept)."""

    scaling: str = eqx.field(static=True)
    accumulate: int = eqx.field(static=True)

    def __check_init__(self):
        if self.scaling not in SCALINGS:
            raise ValueError(f"solver.scaling: unknown {self.scaling!r}; choose one of {', '.join(SCALINGS)}")
        if self.accumulate < 1:
            raise ConfigError("solver.accumulate", f"got {self.accumulate}; use 1 (off) or more chunks")

    def column_scale(self, squared_norms: Float[Array, " p"]) -> Float[Array, " p"]:
        """The column scaling S of ``J S^-1``: Marquardt's |J e_j| (1 for a zero column), or ones."""
        if self.scaling == "marquardt":
            return jnp.where(squared_norms > 0, jnp.sqrt(squared_norms), 1.0)
        return jnp.ones_like(squared_norms)

    def whole(self, residual: Float[Array, " m"], jac: Float[Array, "m p"]) -> tuple[DampedSystem, Array]:
        """``(system, S)`` from the whole batch's residual and Jacobian (A = J S^-1 kept)."""
        scale = self.column_scale(jnp.sum(jac**2, axis=0))
        return DampedSystem.build(jac / scale[None, :], residual), scale

    def summed(self, chunk_jacobian: ChunkJacobian, theta: Float[Array, " p"], chunks: dict):
        """The normal equations summed over the batch's ``accumulate`` chunks, one chunk's Jacobian
        in memory at a time, scaled like the whole batch's (``(sum_i J_i^T J_i, sum_i J_i^T r_i,
        sum_i |r_i|^2) / accumulate``: each chunk's residual is scaled by its own point count), with
        the column scaling; returns ``(system, S, residual-evaluation equivalents)``."""

        def add(totals, chunk):
            r, jac, evals = chunk_jacobian(chunk)
            gram, gradient, squares = totals
            return (gram + jac.T @ jac, gradient + jac.T @ r, squares + r @ r), jnp.asarray(evals)

        p = theta.shape[0]
        zeros = (jnp.zeros((p, p), theta.dtype), jnp.zeros(p, theta.dtype), jnp.zeros((), theta.dtype))
        (gram, gradient, squares), evals = jax.lax.scan(add, zeros, chunks)
        k = self.accumulate
        gram, gradient, squares = gram / k, gradient / k, squares / k
        scale = self.column_scale(jnp.diagonal(gram))
        system = DampedSystem.from_normal(gram / jnp.outer(scale, scale), gradient / scale, squares)
        return system, scale, jnp.sum(evals)
