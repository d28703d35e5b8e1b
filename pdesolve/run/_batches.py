"""The training batches: collocation points, their source values and the soft conditions' data.

With ``train.adaptive_candidates`` k > 1 the interior points are chosen by residual-adaptive
resampling (RAD, Wu et al. 2023): k n candidates are drawn from the interior law and n of them kept
without replacement, with probability proportional to |r| / mean |r| + 1, r the PDE residual of the
current network; the constant keeps every region in play.
"""

import jax
import jax.numpy as jnp
import numpy as np
from jax.sharding import NamedSharding

from ..config import TrainConfig
from ..loss import PinnLoss
from ..problem import CompiledProblem
from ..sampling import PointSampler


class BatchMaker:
    """Draws the training batches and evaluates the source and soft-condition data on them: a new
    batch every ``train.resample_every`` steps, the same one in between.

    A batch is ``{"x": (n, d), "t": (n,), "f": (n,), "conditions": {kind: (x (m, d), t (m,), g (m,))}}``
    with n = ``train.batch_size`` and m = ``train.boundary_batch_size``, and ``"data": (x, t, u)`` (all
    the problem's observations) when it has them, in ``dtype``; with ``sharding``
    its rows are split over devices.
    """

    def __init__(
        self,
        compiled: CompiledProblem,
        sampler: PointSampler,
        soft_kinds,
        train: TrainConfig,
        dtype,
        sharding: NamedSharding | None = None,
        loss: PinnLoss | None = None,
    ):
        self.compiled, self.sampler, self.soft_kinds = compiled, sampler, soft_kinds
        self.candidates = train.adaptive_candidates if loss is not None else 1
        if loss is not None and self.candidates > 1:
            self.score = jax.jit(lambda params, x, t, f, key: jnp.abs(loss.pde_residual(params, x, t, f, key)))
        self.n, self.n_cond = train.batch_size, train.boundary_batch_size
        self.every = train.resample_every
        self.dtype = dtype
        if sharding is None:
            self.put = lambda a: jnp.asarray(a, dtype)
        else:  # every process draws the same batch and places the rows its devices hold
            self.put = lambda a: jax.make_array_from_callback(
                a.shape, sharding, lambda index: np.asarray(a[index], dtype)
            )
        zero = lambda x, t: jnp.zeros_like(t)  # noqa: E731
        self.source = jax.jit(compiled.source or zero)
        self.conditions = {k: jax.jit(compiled.conditions[k]) for k in soft_kinds}
        data = compiled.problem.data  # observations: every one in every batch
        self.data = None if data is None else tuple(self.put(data[k]) for k in ("x", "t", "u"))
        self.current: dict | None = None
        self.origin: dict | None = None  # the sampler's state before ``current`` was drawn

    def __call__(self, step: int, params=None) -> dict:
        """The batch of step ``step`` (counted from 0); ``params``: the network's, which adaptive
        resampling scores candidates with."""
        if self.current is None or step % self.every == 0:
            self.origin = self.sampler.state()
            self.current = self._draw(step, params)
        return self.current

    def restore(self, sampler_state: dict, origin: dict | None, step: int) -> None:
        """Returns to the stream position ``sampler_state`` reached after ``step`` steps; a batch in use
        at that point (drawn from ``origin``, with the adaptive choice recorded there) is drawn again,
        so that the next steps reuse it."""
        self.current = None
        if self.every > 1 and step % self.every != 0 and origin is not None:
            self.sampler.restore(origin)
            self.origin, self.current = origin, self._draw(step, chosen=origin.get("chosen"))
        self.sampler.restore(sampler_state)

    def _interior(self, step: int, params, chosen: list[int] | None) -> tuple[np.ndarray, np.ndarray]:
        """The interior points x (n, d), t (n,): drawn from the law, or chosen among candidates."""
        x, t = self.sampler.interior(self.n * self.candidates)
        if self.candidates == 1:
            return x, t
        if chosen is None:
            chosen = self._choose(step, params, x, t)
            assert self.origin is not None  # __call__ and restore set it before drawing
            self.origin = {**self.origin, "chosen": chosen}
        return x[chosen], t[chosen]

    def _choose(self, step: int, params, x: np.ndarray, t: np.ndarray) -> list[int]:
        """Indices of n of the candidates x (k n, d), t (k n,), drawn without replacement (Gumbel
        top-n) with weights |r| / mean |r| + 1; seeded by the sampler's seed and ``step``. Returned in
        the candidates' order, so that the batch's laws stay interleaved and a solver's held-out
        tail is not the least-scored points."""
        key = jax.random.fold_in(jax.random.PRNGKey(self.sampler.seed), step)
        scores = []
        for i in range(0, len(x), self.n):  # chunks of one batch: the memory of a loss evaluation
            xs, ts = self.put(x[i : i + self.n]), self.put(t[i : i + self.n])
            scores.append(np.asarray(self.score(params, xs, ts, self.source(xs, ts), jax.random.fold_in(key, i))))
        score = np.concatenate(scores).astype(np.float64)
        weights = score / max(float(np.mean(score)), np.finfo(np.float64).tiny) + 1.0
        weights = np.where(np.isfinite(weights), weights, 1.0)
        gumbel = np.random.default_rng([self.sampler.seed, step]).gumbel(size=len(weights))
        return np.sort(np.argsort(-(np.log(weights) + gumbel))[: self.n]).tolist()

    def _draw(self, step: int = 0, params=None, chosen: list[int] | None = None) -> dict:
        problem = self.compiled.problem
        x, t = (self.put(a) for a in self._interior(step, params, chosen))
        batch = {"x": x, "t": t, "f": self.source(x, t), "conditions": {}}
        for kind in self.soft_kinds:
            if kind in ("boundary", "neumann", "robin"):
                points, times = self.sampler.boundary(self.n_cond)
            else:
                assert problem.time is not None  # initial or terminal conditions exist only with time
                points, times = self.sampler.at_time(self.n_cond, problem.time[0 if kind == "initial" else 1])
            xc, tc = self.put(points), self.put(times)
            batch["conditions"][kind] = (xc, tc, self.conditions[kind](xc, tc))
        if self.data is not None:
            batch["data"] = self.data
        return batch
