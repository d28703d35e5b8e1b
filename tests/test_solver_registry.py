"""A new solver is one file plus one registry line: this file alone declares a toy solver and its spec,
registers it, and runs it through config validation, the memory check, a rollback and ``pdesolve.solve``."""

import equinox as eqx
import jax
import jax.numpy as jnp
import pytest
from jax.flatten_util import ravel_pytree

import pdesolve
from pdesolve.config import resolve, resolve_config, solver_fields
from pdesolve.fields import NUMBER, Field
from pdesolve.limits import perturbations
from pdesolve.run._guard import rescaled_solver
from pdesolve.solvers import (
    AbstractSolver,
    AbstractSolverSpec,
    register_solver,
    solver_spec,
    solver_specs,
    unregister_solver,
)

POISSON = "problems/poisson2d.yaml"


class LineSearchDescent(AbstractSolver):
    """Steepest descent (unit gradient, or its sign) taking the best of ``trials`` halvings of the step
    length ``step_size``, all evaluated in one vectorised call; no step when none lowers the loss."""

    step_size: float
    trials: int = eqx.field(static=True)
    update: str = eqx.field(static=True)

    def init(self, loss, params):
        return jnp.asarray(0)

    def step(self, loss, params, state, batch, key):
        theta, unravel = ravel_pytree(params)
        flat = lambda th: loss(unravel(th), batch, key)  # noqa: E731
        value, grad = jax.value_and_grad(flat)(theta)
        direction = jnp.sign(grad) if self.update == "sign" else grad / jnp.linalg.norm(grad)
        sizes = self.step_size * 0.5 ** jnp.arange(self.trials)
        values = jax.vmap(lambda s: flat(theta - s * direction))(sizes)
        best = jnp.argmin(values)
        theta = jnp.where(values[best] < value, theta - sizes[best] * direction, theta)
        return unravel(theta), state + 1, {"loss": value, "loss_evals": jnp.asarray(1 + self.trials)}

    @property
    def name(self) -> str:
        return "toy"

    @property
    def uses_backprop(self) -> bool:
        return True


class ToySpec(AbstractSolverSpec):
    name = "toy"
    fields = {
        "step_size": Field(NUMBER, 0.5, positive=True),
        "trials": Field((int,), 8, bounds=(1, None, ">= 1")),
        "update": Field((str,), "gradient", ("gradient", "sign")),
    }
    learning_rates = ("step_size",)  # no "learning_rate" in its name: the spec says what a rollback scales

    def build(self, settings, steps):
        return LineSearchDescent(settings.step_size, settings.trials, settings.update)

    def perturbations(self, settings, n_params):
        return settings.trials


@pytest.fixture
def toy():
    spec = register_solver(ToySpec())
    yield spec
    unregister_solver("toy")


def test_the_toy_solver_trains_end_to_end(toy):
    config = {
        "precision": "float64",
        "model": {"type": "mlp", "widths": [16, 16], "activation": "tanh"},
        "operators": {"method": "ad"},
        "solver": {"name": "toy", "trials": 6},
        "train": {"steps": 80, "batch_size": 64, "log_every": 20, "progress": False},
    }
    run = pdesolve.solve(POISSON, config)
    assert run.config["solver"] == {"name": "toy", "step_size": 0.5, "trials": 6, "update": "gradient"}
    assert run.report["solver"] == "toy" and run.report["backprop"] is True and run.report["steps"] == 80
    errors = run.history["rel_l2"].values  # measured (CPU, seed 0): 0.178 at step 20, 0.042 at step 80
    assert errors[-1] < 0.15 and errors[-1] < errors[0], errors  # the untrained network's: 1.12
    assert set(run.history["loss_evals"].values[1:] - run.history["loss_evals"].values[:-1]) == {20 * 7}


def test_the_toy_solvers_keys_are_validated(toy):
    schema = {key: (field.types, field.default) for key, field in solver_fields()["toy"].items()}
    assert schema == {"step_size": (NUMBER, 0.5), "trials": ((int,), 8), "update": ((str,), "gradient")}
    for update, field, phrase in [
        ({"name": "toy", "step_sise": 0.1}, "solver.step_sise", "unknown key (did you mean 'step_size'?)"),
        ({"name": "toy", "learning_rate": 0.1}, "solver.learning_rate", "allowed: step_size, trials, update"),
        ({"name": "toy", "update": "sing"}, "solver.update", "did you mean 'sign'"),
        ({"name": "toy", "step_size": 0}, "solver.step_size", "must be > 0, got 0"),
        ({"name": "toy", "trials": 0}, "solver.trials", "must be >= 1, got 0"),
        ({"name": "toy", "trials": 2.5}, "solver.trials", "expected int, got 2.5"),
        ({"name": "tyo"}, "solver.name", "did you mean 'toy'"),
    ]:
        with pytest.raises(pdesolve.ConfigError) as err:
            resolve_config({"solver": update})
        assert err.value.field == field and phrase in str(err.value), (update, str(err.value))


def test_the_toy_cost_model_drives_the_memory_check(toy):
    assert perturbations(resolve({"solver": {"name": "toy", "trials": 3}}).solver, 1000) == 3
    config = {
        "model": {"type": "mlp", "widths": [16, 16]},
        "operators": {"method": "ad"},
        "solver": {"name": "toy", "trials": 10**12},
        "train": {"steps": 1, "progress": False},
    }
    with pytest.raises(pdesolve.ConfigError) as err:
        pdesolve.solve(POISSON, config)
    assert err.value.field == "train.check_memory"


def test_a_rollback_scales_the_keys_the_spec_names(toy):
    config = resolve({"solver": {"name": "toy", "step_size": 0.8}}).solver
    assert rescaled_solver(config, 10, 0.25).step_size == pytest.approx(0.2)
    assert rescaled_solver(resolve({"solver": {"name": "gauss_newton"}}).solver, 10, 0.25) is None
    hybrid = resolve({"solver": {"name": "hybrid", "coarse_learning_rate": 0.1}}).solver.settings
    rescaled = solver_spec("hybrid").rescaled(hybrid, 0.5)
    assert rescaled.coarse_learning_rate == pytest.approx(0.05) and rescaled.fine_learning_rate == pytest.approx(5e-4)


def test_the_registry_holds_one_solver_per_name(toy):
    with pytest.raises(ValueError, match="already registered"):
        register_solver(ToySpec())
    unregister_solver("toy")
    assert "toy" not in solver_specs()
    with pytest.raises(pdesolve.ConfigError, match="unknown name 'toy'"):
        resolve_config({"solver": {"name": "toy"}})
    register_solver(ToySpec())  # for the fixture's teardown
