"""The one build of a run's untrained pieces, shared by ``solve``, ``open_run``, ``pdesolve check``
and the benchmarks: problem, network, ansatz, operator engine, solver, sampler."""

import dataclasses

import jax
import jax.numpy as jnp
from jaxtyping import PyTree

from ..config import RunConfig, SolverConfig, TrainConfig, stage_solvers
from ..errors import ConfigError
from ..limits import first_layer_params, fit_solver_chunk
from ..loss import PinnLoss
from ..models import Network, Solution, build_solution
from ..operators import AbstractOperatorEngine
from ..problem import CompiledProblem, Problem, compile_problem, training_domain
from ..resources import check_network
from ..sampling import LAW_FRACTIONS, PointSampler
from ..solvers import AbstractSolver, StagedSolver, solver_spec
from ._batches import BatchMaker
from ._engine import build_engine
from ._network import build_network, network_subspace
from ._precision import run_dtype


@dataclasses.dataclass
class Assembled:
    """A run's pieces before training: the compiled problem, its seeded network (and what it reads), the ansatz around
    it (``solution``) with the condition kinds left to the loss (``soft_kinds``), the operator
    engine, the solver, the training-point sampler and the dtype, all from ``config``."""

    config: RunConfig
    compiled: CompiledProblem
    network: Network
    inputs: str  # what the network's first layer reads (``network_subspace``)
    solution: Solution
    soft_kinds: tuple[str, ...]
    engine: AbstractOperatorEngine
    solver: AbstractSolver
    sampler: PointSampler
    dtype: object

    def loss(self, static: PyTree) -> PinnLoss:
        """The PINN loss of parameters combined with ``static``, the solution's non-parameter part."""
        return PinnLoss(self.compiled, self.engine, static, self.soft_kinds, self.config.train.condition_weight)

    def batch_maker(
        self, sharding: jax.sharding.NamedSharding | None = None, loss: PinnLoss | None = None
    ) -> BatchMaker:
        """The training batches drawn by ``sampler`` (rows split over devices by ``sharding``;
        interior points chosen by the residuals of ``loss`` when ``train.adaptive_candidates`` > 1)."""
        return BatchMaker(self.compiled, self.sampler, self.soft_kinds, self.config.train, self.dtype, sharding, loss)


def build_solver(solver: SolverConfig, steps: int) -> AbstractSolver:
    """The solver of the validated ``solver`` section; ``steps`` sizes its schedule."""
    return solver_spec(solver.name).build(solver.settings, steps)


def build_run_solver(config: RunConfig) -> AbstractSolver:
    """The run's solver: the ``solver`` section's, or the ``train.stages`` in order (``StagedSolver``)."""
    train = config.train
    if not train.stages:
        return build_solver(config.solver, train.steps)
    if train.on_divergence == "rollback":
        raise ConfigError(
            "train.on_divergence",
            "rollback rebuilds the solver section's solver, not the "
            "train.stages; set train.on_divergence stop, or train one stage at a time",
        )
    stages = stage_solvers(train.stages, train.steps)
    left = train.steps - sum(n or 0 for _, n, _ in stages[:-1])  # the last stage's schedule length
    solvers = tuple(build_solver(solver, n or left) for solver, n, _ in stages)
    return StagedSolver(solvers, tuple(n for _, n, _ in stages), tuple(b for _, _, b in stages))


def radius_fraction(train: TrainConfig) -> float:
    """The fraction of interior training points drawn from the radius-uniform law."""
    return LAW_FRACTIONS.get(train.interior_law, train.radius_weight)  # mixture: its weight


#: Solvers that evaluate the PDE residual themselves, without the loss that applies the unknowns.
NO_UNKNOWNS = ("projection",)


def with_unknowns(solution: Solution, problem: Problem, solver: str, dtype) -> Solution:
    """``solution`` carrying the unknowns' unconstrained starts (an inverse problem), learned with the network."""
    if not problem.unknowns:
        return solution
    if solver in NO_UNKNOWNS:
        raise ConfigError(
            "solver.name",
            f"{solver} projects the PDE residual without the unknowns "
            f"({', '.join(problem.unknowns)}); use gauss_newton (the default) or another solver",
        )
    raw = {name: jnp.asarray(u.raw_init(), dtype) for name, u in problem.unknowns.items()}
    return dataclasses.replace(solution, unknowns=raw)


def build(problem: Problem, config: RunConfig) -> Assembled:
    """Builds the run's pieces from a validated ``config``; call it under ``precision(config)``.
    The returned ``config`` has an unset ``solver.chunk_size`` fitted to memory
    (``limits.fit_solver_chunk``): it is what the run folder records."""
    dtype = run_dtype(config)
    compiled = compile_problem(problem)
    key = jax.random.PRNGKey(config.seed)
    check_network(config, problem.dimension + int(problem.has_time))  # before its parameters are allocated
    subspace, inputs = network_subspace(config.model, problem, compiled)
    network = build_network(
        config.model, problem.dimension + int(problem.has_time), key=key, dtype=dtype, subspace=subspace
    )
    solution, soft_kinds = build_solution(compiled, network, config.ansatz)
    solution = with_unknowns(solution, problem, config.solver.name, dtype)
    engine = build_engine(config.operators, dim=problem.dimension, has_time=problem.has_time)
    engine = engine if subspace is None else engine.on_symmetry(subspace)
    per_point = engine.evals_per_point(compiled.needs, problem.dimension)
    config = fit_solver_chunk(config, per_point, network.n_params, first_layer_params(network))
    solver = build_run_solver(config)
    sampler = PointSampler(
        training_domain(problem),
        problem.time,
        config.train.sampler,
        seed=config.seed,
        radius_fraction=radius_fraction(config.train),
    )
    return Assembled(config, compiled, network, inputs, solution, tuple(soft_kinds), engine, solver, sampler, dtype)
