"""Training stages (``train.stages``): config checks, the switch at a stage's step count, a stage's
state started from the parameters it gets, and the time budget checked at validation checks."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from pdesolve.config import resolve
from pdesolve.errors import ConfigError
from pdesolve.run._build import build_run_solver

_rng = np.random.default_rng(5)
A = jnp.asarray(_rng.standard_normal((30, 6)))
B = jnp.asarray(_rng.standard_normal(30))
EXACT = np.linalg.lstsq(np.asarray(A), np.asarray(B), rcond=None)[0]


def loss(params, batch, key):
    return jnp.mean((A @ params["w"] - batch) ** 2)


def staged(stages, steps):
    return build_run_solver(resolve({"train": {"steps": steps, "stages": stages}}))


def trajectory(solver, steps):
    """Per step: the stage index and the parameters after it (one jitted scan)."""
    params = {"w": jnp.zeros(6)}

    def step(carry, key):
        params, state, stats = solver.step(loss, *carry, B, key)
        return (params, state), (stats["train_stage"], params["w"])

    keys = jax.random.split(jax.random.PRNGKey(0), steps)
    return jax.jit(lambda c: jax.lax.scan(step, c, keys)[1])((params, solver.init(loss, params)))


def test_stages_fill_in_their_solvers_defaults_and_name_bad_entries():
    stages = resolve({"train": {"stages": [{"name": "adam", "steps": 5}, {"name": "lbfgs"}]}}).train.stages
    assert stages[0]["learning_rate"] == 1e-3 and stages[1]["memory_size"] == 10 and stages[1]["steps"] is None
    bad = [
        ([{"name": "adam"}, {"name": "lbfgs"}], r"train.stages\[0\].*needs steps or time_budget"),
        ([{"name": "adam", "steps": 5}, {"name": "lbfgs", "steps": 3}], r"train.stages\[1\].*last stage"),
        ([{"name": "adma", "steps": 5}, {"name": "lbfgs"}], r"train.stages\[0\].name.*did you mean 'adam'"),
        ([{"name": "adam", "steps": 0}, {"name": "lbfgs"}], r"train.stages\[0\].steps.*>= 1"),
        ([{"name": "adam", "steps": 5, "mu": 1}, {"name": "lbfgs"}], r"train.stages\[0\].mu"),
        ([{"steps": 5}], r"train.stages\[0\].*solver section with its name"),
    ]
    for value, message in bad:
        with pytest.raises(ConfigError, match=message):
            resolve({"train": {"stages": value}})
    with pytest.raises(ConfigError, match=r"train\.stages.*take 50 steps"):
        staged([{"name": "adam", "steps": 50}, {"name": "lbfgs"}], 50)
    with pytest.raises(ConfigError, match=r"train\.on_divergence"):
        build_run_solver(
            resolve(
                {"train": {"on_divergence": "rollback", "stages": [{"name": "adam", "steps": 5}, {"name": "lbfgs"}]}}
            )
        )


def test_stages_switch_at_their_step_counts_and_each_runs_its_own_solver():
    solver = staged(
        [{"name": "adam", "learning_rate": 1e-2, "steps": 7}, {"name": "sign_rge", "steps": 3}, {"name": "lbfgs"}], 90
    )
    stage, w = trajectory(solver, 90)
    np.testing.assert_array_equal(np.asarray(stage), [0] * 7 + [1] * 3 + [2] * 80)
    # the first 7 steps are Adam's own steps from the same start (an independent run of Adam alone)
    adam = build_run_solver(resolve({"solver": {"name": "adam", "learning_rate": 1e-2}, "train": {"steps": 7}}))
    _, adam_w = trajectory(_Labelled(adam), 7)
    np.testing.assert_array_equal(np.asarray(w[:7]), np.asarray(adam_w))
    # L-BFGS, started from where signRGE left the parameters, reaches the least-squares answer
    assert np.linalg.norm(np.asarray(w[-1]) - EXACT) / np.linalg.norm(EXACT) < 1e-8


def test_a_stage_ends_when_its_time_budget_is_spent_at_a_check():
    solver = staged([{"name": "adam", "steps": 1000, "time_budget": 5.0}, {"name": "lbfgs"}], 2000)
    params = {"w": jnp.zeros(6)}
    state = solver.observe_time(solver.init(loss, params), 1.0)  # the stage's clock starts at 1 s
    assert int(solver.observe_time(state, 5.5).stage_steps) == 0  # 4.5 s spent: goes on
    state = solver.observe_time(state, 6.5)  # 5.5 s spent: the next step starts stage 1
    _, state, stats = solver.step(loss, params, state, B, jax.random.PRNGKey(0))
    assert int(stats["train_stage"]) == 1 and int(state.stage_steps) == 1


class _Labelled:
    """A single solver's steps with a ``train_stage`` stat of 0 (to compare with a staged run)."""

    def __init__(self, solver):
        self.solver = solver

    def init(self, loss, params):
        return self.solver.init(loss, params)

    def step(self, loss, params, state, batch, key):
        params, state, stats = self.solver.step(loss, params, state, batch, key)
        return params, state, {**stats, "train_stage": jnp.asarray(0)}
