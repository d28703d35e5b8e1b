"""An operator engine, a model type and a domain are each one definition plus one registration call:
this file declares a toy of each, registers it, and runs it through config validation, the builders
and ``pdesolve.solve``; without the registration the same configs and problem are refused."""

import dataclasses

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import pytest
from jaxtyping import Array

import pdesolve
from pdesolve.config import resolve, resolve_config
from pdesolve.fields import NUMBER, Field
from pdesolve.models import AbstractModelSpec, register_model, unregister_model
from pdesolve.operators import (
    AbstractEngineSpec,
    AbstractOperatorEngine,
    engine_field,
    register_engine,
    unregister_engine,
)
from pdesolve.problem import Box, problem_from_mapping, register_domain, unregister_domain
from pdesolve.run import build_engine, build_network

STEP = Field(NUMBER, 1e-3, positive=True)


class CoordinateDifferences(AbstractOperatorEngine):
    """u, grad u, Hessian diagonal and Laplacian by central differences along each coordinate (no time)."""

    step: float = engine_field(STEP)

    @property
    def name(self) -> str:
        return "toy_fd"

    @property
    def differentiates_network(self) -> bool:
        return False

    def evals_per_point(self, needs, dim):
        return 2 * dim + 1

    def __call__(self, u, x, t, needs, key=None):
        shifts = self.step * jnp.eye(x.shape[1], dtype=x.dtype)
        plus, minus = (jax.vmap(lambda e, s=sign: u(x + s * e[None, :], t))(shifts).T for sign in (1, -1))  # (n, d)
        centre = u(x, t)
        u_xx = (plus + minus - 2 * centre[:, None]) / self.step**2
        out = {"u": centre, "u_x": (plus - minus) / (2 * self.step), "u_xx": u_xx, "lap_u": u_xx.sum(axis=1)}
        return {name: out[name] for name in needs}


class CoordinateDifferencesSpec(AbstractEngineSpec):
    method = "toy_fd"
    fields = {"step": STEP}

    def build(self, settings, *, dim, has_time):
        return CoordinateDifferences(step=settings.step)


class Features(eqx.Module):
    """``z (n, k) -> readout . tanh(weight z + bias)``: one hidden layer."""

    weight: Array
    bias: Array
    readout: Array

    def __call__(self, z):
        return jnp.tanh(z @ self.weight.T + self.bias[None, :]) @ self.readout

    @property
    def n_params(self) -> int:
        return self.weight.size + self.bias.size + self.readout.size

    @property
    def dense_n_params(self) -> int:
        return self.n_params


class FeaturesSpec(AbstractModelSpec):
    type_name = "features"
    fields = {"widths": Field((list,), [8]), "scale": Field(NUMBER, 1.0, positive=True)}

    def build(self, settings, in_size, *, key, dtype):
        width, (k1, k2) = settings.widths[0], jax.random.split(key)
        weight = settings.scale * jax.random.normal(k1, (width, in_size), dtype)
        return Features(weight, jnp.zeros(width, dtype), jax.random.normal(k2, (width,), dtype) / np.sqrt(width))


@dataclasses.dataclass(frozen=True)
class Cube(Box):
    """The cube of side ``high - low`` (the same in every coordinate)."""

    def describe(self):
        return f"cube of side {self.high[0] - self.low[0]:g} in {self.dim}-d"


def parse_cube(reader, spec, dim):
    side = reader.number("domain.side", spec.get("side", 1.0), positive=True)
    middle = reader.number("domain.middle", spec.get("middle", 0.0))
    return Cube(dim, np.full(dim, middle - side / 2), np.full(dim, middle + side / 2))


@pytest.fixture
def toys():
    register_engine(CoordinateDifferencesSpec())
    register_model(FeaturesSpec())
    register_domain("cube", {"side", "middle"}, parse_cube)
    yield
    unregister_engine("toy_fd")
    unregister_model("features")
    unregister_domain("cube")


CONFIG = {
    "precision": "float64",
    "model": {"type": "features", "widths": [12], "scale": 2.0},
    "operators": {"method": "toy_fd", "step": 1e-3},
    "solver": {"name": "adam", "learning_rate": 1e-2},
    "train": {"steps": 3, "batch_size": 32, "log_every": 3, "progress": False, "checkpoint_every": 0},
}
PROBLEM = {
    "name": "poisson_cube",
    "dimension": 2,
    "domain": {"type": "cube", "side": 1, "middle": 0.5},
    "equation": "lap_u = f",
    "source": "-2 * pi**2 * sin(pi * x[1]) * sin(pi * x[2])",
    "conditions": {"boundary": "0"},
    "exact": "sin(pi * x[1]) * sin(pi * x[2])",
    "evaluation": {"points": 256, "sampling": "sobol", "seed": 1},
}


def test_the_toy_engine_is_built_from_its_section(toys):
    engine = build_engine(resolve({"operators": {"method": "toy_fd"}}).operators, dim=2, has_time=False)
    assert isinstance(engine, CoordinateDifferences) and engine.step == 1e-3  # the Field's default
    x = jax.random.uniform(jax.random.key(0), (5, 2), jnp.float64)
    quadratic = lambda x, t: x[:, 0] ** 2 + 3 * x[:, 1] ** 2 + x[:, 0] * x[:, 1]  # noqa: E731
    ops = engine(quadratic, x, jnp.zeros(5), frozenset({"u_x", "lap_u"}))
    # central differences are exact for a quadratic (up to rounding): grad (2 x1 + x2, 6 x2 + x1), Laplacian 8
    np.testing.assert_allclose(ops["u_x"], np.stack([2 * x[:, 0] + x[:, 1], 6 * x[:, 1] + x[:, 0]], 1), atol=1e-9)
    np.testing.assert_allclose(ops["lap_u"], 8.0, atol=1e-6)


def test_the_toy_model_is_built_from_its_section(toys):
    model = resolve({"model": {"type": "features", "widths": [4]}}).model
    assert model.to_dict() == {"type": "features", "widths": [4], "scale": 1.0}
    network = build_network(model, 3, key=jax.random.key(1), dtype=jnp.float64)
    assert isinstance(network, Features) and network.n_params == 4 * 3 + 4 + 4
    z = jnp.ones((2, 3))
    expected = np.tanh(np.asarray(network.weight).sum(axis=1)) @ np.asarray(network.readout)
    np.testing.assert_allclose(network(z), [expected, expected], rtol=1e-12)


def test_the_toy_domain_is_parsed_from_its_section(toys):
    problem = problem_from_mapping(PROBLEM)
    assert isinstance(problem.domain, Cube) and problem.domain.describe() == "cube of side 1 in 2-d"
    np.testing.assert_array_equal(problem.domain.low, [0.0, 0.0])
    with pytest.raises(pdesolve.ProblemError, match=r"domain\.side"):
        problem_from_mapping({**PROBLEM, "domain": {"type": "cube", "side": -1}})


def test_a_solve_runs_with_the_three_toys(toys):
    run = pdesolve.solve(problem_from_mapping(PROBLEM), CONFIG)
    assert run.report["operators"] == "toy_fd" and run.report["model"] == "features" and run.report["steps"] == 3
    assert run.config["model"] == {"type": "features", "widths": [12], "scale": 2.0}
    assert np.all(np.isfinite(run.history["rel_l2"].values))


def test_without_registration_each_toy_is_refused():
    with pytest.raises(pdesolve.ConfigError) as err:
        resolve_config({"operators": {"method": "toy_fd"}})
    assert err.value.field == "operators.method"
    with pytest.raises(pdesolve.ConfigError) as err:
        resolve_config({"model": {"type": "features"}})
    assert err.value.field == "model.type"
    with pytest.raises(pdesolve.ProblemError, match="unknown domain 'cube'"):
        problem_from_mapping(PROBLEM)
