"""Builds the solver named by the ``solver`` config section."""

import optax

from ._base import AbstractSolver
from ._estimators import CoordinateGradientEstimator, ForwardGradientEstimator, RandomGradientEstimator
from ._first_order import FirstOrder
from ._gauss_newton import GaussNewton
from ._projection import ProjectionSolver
from ._schedule import learning_rate_schedule
from ._zeroth_order import EstimatedGradientSolver, HybridSolver


def build_optimizer(config: dict, steps: int, learning_rate: float | None = None) -> optax.GradientTransformation:
    """The optax chain that turns a gradient estimate into an update (adam, sgd, sign, momentum)."""
    if learning_rate is not None:
        config = {**config, "learning_rate": learning_rate}
    lr = learning_rate_schedule(config, steps)
    kind = config.get("optimizer", "adam")
    if kind == "adam":
        return optax.adam(lr, b1=config["b1"], b2=config["b2"])
    if kind == "sgd":
        return optax.sgd(lr, momentum=config["momentum"] or None)
    if kind == "sign":
        return optax.sign_sgd(lr)
    if kind == "momentum":  # EMA of the estimate, as the reference's CGE + momentum
        return optax.chain(optax.ema(config["momentum"], debias=False), optax.scale_by_learning_rate(lr))
    raise ValueError(f"solver.optimizer: unknown optimizer {kind!r}")


def _rge(config: dict) -> RandomGradientEstimator:
    return RandomGradientEstimator(config["samples"], config["mu"], config["directions"], config["antithetic"],
                                   config["chunk_size"])


def build_solver(solver_config: dict, steps: int) -> AbstractSolver:
    """``solver_config`` is the validated ``solver`` section; ``steps`` sizes the schedule."""
    name, config = solver_config["name"], solver_config
    if name == "adam":
        return FirstOrder(build_optimizer({**config, "optimizer": "adam"}, steps))
    if name in ("rge", "sign_rge"):
        return EstimatedGradientSolver(_rge(config), build_optimizer(config, steps), name)
    if name == "cge":
        estimator = CoordinateGradientEstimator(config["mu"], config["central"], config["block_size"], config["chunk_size"])
        return EstimatedGradientSolver(estimator, build_optimizer(config, steps), name)
    if name == "forward_gradient":
        estimator = ForwardGradientEstimator(config["tangents"], config["combine"])
        return EstimatedGradientSolver(estimator, build_optimizer(config, steps), name)
    if name == "hybrid":
        constant = {"schedule": "constant", "end_factor": 1.0, "momentum": config["momentum"], "b1": 0.9, "b2": 0.999}
        coarse = EstimatedGradientSolver(
            RandomGradientEstimator(config["coarse_samples"], config["coarse_mu"], config["coarse_directions"],
                                    True, config["chunk_size"]),
            build_optimizer({**constant, "optimizer": "sign", "learning_rate": config["coarse_learning_rate"]}, steps),
            "sign_rge")
        fine = EstimatedGradientSolver(
            CoordinateGradientEstimator(config["fine_mu"], False, config["fine_block_size"], config["chunk_size"]),
            build_optimizer({**constant, "optimizer": "momentum", "learning_rate": config["fine_learning_rate"]}, steps),
            "cge")
        return HybridSolver(coarse, fine, config["patience"])
    if name == "projection":
        return ProjectionSolver(config["algorithm"], config["inner_iterations"], config["relaxation"], config["hidden"],
                                config["output_layer"], config["ridge"], _rge(config), build_optimizer(config, steps))
    if name == "gauss_newton":
        return GaussNewton(config["jacobian"], config["initial_damping"], config["min_damping"], config["scaling"],
                           config["max_trials"], config["difference_step"], config["chunk_size"])
    raise ValueError(f"solver.name: unknown solver {name!r}")
