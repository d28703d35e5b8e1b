"""Predictions of a trained solution at many points, in chunks that bound their memory."""

import equinox as eqx
import jax
import numpy as np

from ..operators import AbstractOperatorEngine

#: Network rows (points x stencil nodes) evaluated per prediction call: bounds its memory.
PREDICTION_ROWS = 2**18


def prediction_chunk(engine: AbstractOperatorEngine, dim: int) -> int:
    """Points per prediction call: ``PREDICTION_ROWS`` over the network evaluations of one point."""
    return max(1, PREDICTION_ROWS // engine.evals_per_point(frozenset({"u"}), dim))


def make_predictor(engine: AbstractOperatorEngine, static, dim: int):
    """``predict(params, x (n, d), t (n,)) -> (smoothed or raw u (n,), raw network u (n,))`` as numpy
    arrays, in chunks of ``prediction_chunk`` points."""
    chunk = prediction_chunk(engine, dim)

    @jax.jit  # not eqx.filter_jit: see _step.make_guarded_step
    def both(params, x, t):
        u = eqx.combine(params, static)
        return engine.solution(u)(x, t), u(x, t)

    def predict(params, x, t):
        parts = [both(params, x[i:i + chunk], t[i:i + chunk]) for i in range(0, len(x), chunk)]
        return tuple(np.concatenate([np.asarray(p[k]) for p in parts]) for k in range(2))

    return predict
