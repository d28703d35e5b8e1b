"""The validation set of a training run: its error metrics at each log."""

import math

import jax.numpy as jnp
import numpy as np
from jaxtyping import PyTree

from ..metrics import error_metrics
from ..problem import CompiledProblem
from ..sampling import PointSampler

#: Validation metrics when they are not computed (no log here, or no exact solution).
UNKNOWN = {"rel_l2": math.nan, "mse": math.nan}


class Validation:
    """A fixed uniform validation set (``train.validation_points``) and its exact values, if known;
    ``predict`` is a ``make_predictor`` of the trained solution."""

    def __init__(self, compiled: CompiledProblem, predict, points: int, dtype):
        problem = compiled.problem
        sampler = PointSampler(problem.domain, problem.time, "uniform", seed=problem.evaluation["seed"] + 1)
        self.x, self.t = (np.asarray(a, dtype) for a in sampler.interior(points))  # (n, d), (n,)
        self.u = (
            None if compiled.exact is None else np.asarray(compiled.exact(jnp.asarray(self.x), jnp.asarray(self.t)))
        )
        self.predict = predict

    @property
    def known(self) -> bool:
        """Whether the exact solution is known (else the metrics are NaN)."""
        return self.u is not None

    def metrics(self, params: PyTree) -> dict[str, float]:
        """``rel_l2`` and ``mse`` of the network ``params`` on the validation set (NaN if unknown)."""
        return UNKNOWN if self.u is None else error_metrics(self.predict(params, self.x, self.t)[0], self.u)
