"""The untrained pieces of a run, built the same way by ``solve`` and by ``open_run``."""

import dataclasses

import jax
import jax.numpy as jnp

from .config import RunConfig
from .models import Solution, build_network, build_solution
from .operators import AbstractOperatorEngine, build_engine
from .problem import CompiledProblem, Problem, compile_problem


@dataclasses.dataclass
class Assembled:
    """A compiled problem, its seeded network, the ansatz around it and the operator engine."""

    compiled: CompiledProblem
    network: object
    solution: Solution
    soft_kinds: tuple[str, ...]
    engine: AbstractOperatorEngine
    dtype: object


def assemble(problem: Problem, config: RunConfig) -> Assembled:
    """Builds the run's pieces from a validated ``config`` (call it under the run's precision)."""
    dtype = jnp.float64 if config.precision == "float64" else jnp.float32
    compiled = compile_problem(problem)
    key = jax.random.PRNGKey(config.seed)
    network = build_network(config.model, problem.dimension + int(problem.has_time), key=key, dtype=dtype)
    solution, soft_kinds = build_solution(compiled, network, config.ansatz)
    engine = build_engine(config.operators, dim=problem.dimension, has_time=problem.has_time)
    return Assembled(compiled, network, solution, tuple(soft_kinds), engine, dtype)
