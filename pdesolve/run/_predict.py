"""Predictions of a trained solution at many points, in chunks that bound their memory."""

import equinox as eqx
import jax
import numpy as np

from ..config import RunConfig
from ..errors import ConfigError
from ..operators import AbstractOperatorEngine
from ..problem import Problem
from ._precision import precision, run_dtype

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
        parts = [both(params, x[i : i + chunk], t[i : i + chunk]) for i in range(0, len(x), chunk)]
        return tuple(np.concatenate([np.asarray(p[k]) for p in parts]) for k in range(2))

    return predict


def predict_at(
    model, engine: AbstractOperatorEngine, problem: Problem, config: RunConfig, x, t=None, *, raw: bool = False
) -> np.ndarray:
    """The trained ``model`` (a ``Solution``) at points x (n, d) (or (d,) for one point) and times t
    (n,) or a scalar: what ``u_pred`` holds (the smoothed model of a Stein run), or with ``raw`` the
    network itself (``u_raw``). Returns (n,) in the run's precision.

    ``t`` is required for a time-dependent problem and ignored for a stationary one."""
    x = np.atleast_2d(np.asarray(x))
    if x.ndim != 2 or x.shape[1] != problem.dimension:
        raise ConfigError(
            "predict",
            f"x has shape {x.shape}; give (n, {problem.dimension}) points, or one point "
            f"of {problem.dimension} components (the problem's dimension)",
        )
    if t is None and problem.time is not None:
        start, end = problem.time
        raise ConfigError(
            "predict",
            f"t is missing: {problem.name} is time dependent on [{start:g}, {end:g}]; "
            "give t as a number or one time per point, e.g. predict(x, t=0.5)",
        )
    t = np.zeros(len(x)) if not problem.has_time else np.broadcast_to(np.asarray(t), (len(x),))
    with precision(config):
        dtype = run_dtype(config)
        params, static = eqx.partition(model, eqx.is_inexact_array)
        smoothed, network = make_predictor(engine, static, problem.dimension)(
            params, np.asarray(x, dtype), np.asarray(t, dtype)
        )
    return network if raw else smoothed
