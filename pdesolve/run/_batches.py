"""The training batches: collocation points, their source values and the soft conditions' data."""

import jax
import jax.numpy as jnp
import numpy as np
from jax.sharding import NamedSharding

from ..config import TrainConfig
from ..problem import CompiledProblem
from ..sampling import PointSampler


class BatchMaker:
    """Draws the training batches and evaluates the source and soft-condition data on them: a new
    batch every ``train.resample_every`` steps, the same one in between.

    A batch is ``{"x": (n, d), "t": (n,), "f": (n,), "conditions": {kind: (x (m, d), t (m,), g (m,))}}``
    with n = ``train.batch_size`` and m = ``train.boundary_batch_size``, in ``dtype``; with ``sharding``
    its rows are split over devices.
    """

    def __init__(self, compiled: CompiledProblem, sampler: PointSampler, soft_kinds, train: TrainConfig, dtype,
                 sharding: NamedSharding | None = None):
        self.compiled, self.sampler, self.soft_kinds = compiled, sampler, soft_kinds
        self.n, self.n_cond = train.batch_size, train.boundary_batch_size
        self.every = train.resample_every
        self.dtype = dtype
        if sharding is None:
            self.put = lambda a: jnp.asarray(a, dtype)
        else:  # every process draws the same batch and places the rows its devices hold
            self.put = lambda a: jax.make_array_from_callback(
                a.shape, sharding, lambda index: np.asarray(a[index], dtype))
        zero = lambda x, t: jnp.zeros_like(t)  # noqa: E731
        self.source = jax.jit(compiled.source or zero)
        self.conditions = {k: jax.jit(compiled.conditions[k]) for k in soft_kinds}
        self.current: dict | None = None
        self.origin: dict | None = None  # the sampler's state before ``current`` was drawn

    def __call__(self, step: int) -> dict:
        """The batch of step ``step`` (counted from 0)."""
        if self.current is None or step % self.every == 0:
            self.origin = self.sampler.state()
            self.current = self._draw()
        return self.current

    def restore(self, sampler_state: dict, origin: dict | None, step: int) -> None:
        """Returns to the stream position ``sampler_state`` reached after ``step`` steps; a batch in use
        at that point (drawn from ``origin``) is drawn again, so that the next steps reuse it."""
        self.current = None
        if self.every > 1 and step % self.every != 0 and origin is not None:
            self.sampler.restore(origin)
            self.origin, self.current = origin, self._draw()
        self.sampler.restore(sampler_state)

    def _draw(self) -> dict:
        problem = self.compiled.problem
        x, t = (self.put(a) for a in self.sampler.interior(self.n))
        batch = {"x": x, "t": t, "f": self.source(x, t), "conditions": {}}
        for kind in self.soft_kinds:
            if kind in ("boundary", "neumann", "robin"):
                xc, tc = self.sampler.boundary(self.n_cond)
            else:
                xc, tc = self.sampler.at_time(self.n_cond, problem.time[0 if kind == "initial" else 1])
            xc, tc = self.put(xc), self.put(tc)
            batch["conditions"][kind] = (xc, tc, self.conditions[kind](xc, tc))
        return batch
