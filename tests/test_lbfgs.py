"""L-BFGS (optax, zoom line search) against a closed-form least-squares answer and against Adam."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from pdesolve.config import resolve
from pdesolve.run import build_solver

_rng = np.random.default_rng(3)
_U, _V = np.linalg.qr(_rng.standard_normal((40, 8)))[0], np.linalg.qr(_rng.standard_normal((8, 8)))[0]
A = jnp.asarray(_U @ np.diag(np.logspace(0, 2, 8)) @ _V.T)  # singular values 1 .. 100, rotated axes
B = jnp.asarray(_rng.standard_normal(40))
EXACT = np.linalg.lstsq(np.asarray(A), np.asarray(B), rcond=None)[0]  # the closed-form minimiser


def loss(params, batch, key):
    return jnp.mean((A @ params["w"] - batch) ** 2)


def run(solver_section: dict, steps: int, batches=None) -> np.ndarray:
    solver = build_solver(resolve({"solver": solver_section}).solver, steps)
    params = {"w": jnp.zeros(8)}
    batches = jnp.stack([B] * steps if batches is None else batches)

    def step(carry, inputs):
        params, state = solver.step(loss, *carry, *inputs)[:2]
        return (params, state), None

    keys = jax.random.split(jax.random.PRNGKey(0), steps)
    params, _ = jax.jit(lambda c: jax.lax.scan(step, c, (batches, keys))[0])((params, solver.init(loss, params)))
    return np.asarray(params["w"])


def test_lbfgs_reaches_the_least_squares_solution_in_fewer_steps_than_adam():
    error = lambda w: np.linalg.norm(w - EXACT) / np.linalg.norm(EXACT)  # noqa: E731
    assert error(run({"name": "lbfgs"}, 80)) < 1e-10  # converged to the closed form
    for rate in (1e-1, 1e-2):  # ten times the steps, still far from it
        assert error(run({"name": "adam", "learning_rate": rate, "schedule": "constant"}, 800)) > 1e-2


def test_lbfgs_restarts_its_value_on_a_new_batch():
    # the last batch decides the answer: the stored value of the old batch must not be reused
    other = B + 1.0
    batches = [B] * 10 + [other] * 80
    w = run({"name": "lbfgs"}, 90, batches)
    exact = np.linalg.lstsq(np.asarray(A), np.asarray(other), rcond=None)[0]
    assert np.linalg.norm(w - exact) / np.linalg.norm(exact) < 1e-5  # the new batch's answer
    assert np.linalg.norm(EXACT - exact) / np.linalg.norm(exact) > 0.1  # far from the old one's


def test_lbfgs_keys_are_checked():
    from pdesolve.errors import ConfigError

    with pytest.raises(ConfigError, match=r"solver\.memory_size"):
        resolve({"solver": {"name": "lbfgs", "memory_size": 0}})
