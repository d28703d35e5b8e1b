"""The training loop: sampling, solver steps, validation logging, progress bar, stopping rules."""

import dataclasses
import math
import time
import warnings

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
from jax.sharding import Mesh, NamedSharding, PartitionSpec
from tqdm.auto import tqdm

from .errors import ConfigError
from .metrics import error_metrics
from .models import Solution
from .operators import AbstractOperatorEngine
from .problem import CompiledProblem
from .sampling import PointSampler
from .solvers import AbstractSolver

HISTORY_FIELDS = ("step", "loss", "rel_l2", "mse", "wall_time", "loss_evals", "network_evals")


@dataclasses.dataclass
class TrainResult:
    """What training produced: the trained solution, the logged history and why it stopped."""

    solution: Solution
    history: dict[str, np.ndarray]  # HISTORY_FIELDS -> (n_logs,)
    wall_time_s: float
    steps_done: int
    stop_reason: str


def make_loss(compiled: CompiledProblem, engine: AbstractOperatorEngine, static, soft_kinds, weight: float):
    """``loss(params, batch, key)``: mean squared residual plus weighted soft-condition terms.

    ``batch`` is ``{"x": (n, d), "t": (n,), "f": (n,), "conditions": {kind: (x, t, g)}}``.
    """
    needs = compiled.needs

    def loss(params, batch, key):
        u = eqx.combine(params, static)
        ops = engine(u, batch["x"], batch["t"], needs, key)
        residual = compiled.residual(ops, batch["x"], batch["t"], batch["f"])
        total = jnp.mean(residual**2)
        if soft_kinds:
            field = engine.solution(u)
            for x, t, g in batch["conditions"].values():
                total = total + weight * jnp.mean((field(x, t) - g) ** 2)
        return total

    return loss


def make_predictor(engine: AbstractOperatorEngine, static, chunk: int = 4096):
    """``predict(params, x, t) -> (smoothed or raw u (n,), raw network u (n,))`` in chunks."""

    @eqx.filter_jit
    def both(params, x, t):
        u = eqx.combine(params, static)
        return engine.solution(u)(x, t), u(x, t)

    def predict(params, x, t):
        parts = [both(params, x[i:i + chunk], t[i:i + chunk]) for i in range(0, len(x), chunk)]
        return tuple(np.concatenate([np.asarray(p[k]) for p in parts]) for k in range(2))

    return predict


def point_sharding(train_config: dict) -> tuple[NamedSharding, NamedSharding] | None:
    """Shardings over a 1-d mesh of local devices: (points split, replicated), or None for one."""
    available = jax.local_devices()
    count = train_config["devices"] or len(available)
    if count < 1 or count > len(available):
        raise ConfigError("train.devices", f"{count} requested but {len(available)} local devices exist")
    if count == 1:
        return None
    for key in ("batch_size", "boundary_batch_size"):
        if train_config[key] % count:
            raise ConfigError(f"train.{key}", f"{train_config[key]} does not split over {count} devices; "
                              f"use a multiple of {count}")
    mesh = Mesh(np.array(available[:count]), ("points",))
    return NamedSharding(mesh, PartitionSpec("points")), NamedSharding(mesh, PartitionSpec())


class _BatchMaker:
    """Draws a training batch and evaluates the source and soft-condition data on it."""

    def __init__(self, compiled: CompiledProblem, sampler: PointSampler, soft_kinds, train_config, dtype,
                 sharding: NamedSharding | None = None):
        self.compiled, self.sampler, self.soft_kinds = compiled, sampler, soft_kinds
        self.n, self.n_cond = train_config["batch_size"], train_config["boundary_batch_size"]
        self.dtype = dtype
        self.put = (lambda a: jax.device_put(jnp.asarray(a, dtype), sharding)) if sharding else (
            lambda a: jnp.asarray(a, dtype))
        zero = lambda x, t: jnp.zeros_like(t)  # noqa: E731
        self.source = jax.jit(compiled.source or zero)
        self.conditions = {k: jax.jit(compiled.conditions[k]) for k in soft_kinds}

    def __call__(self) -> dict:
        problem = self.compiled.problem
        x, t = (self.put(a) for a in self.sampler.interior(self.n))
        batch = {"x": x, "t": t, "f": self.source(x, t), "conditions": {}}
        for kind in self.soft_kinds:
            if kind == "boundary":
                xc, tc = self.sampler.boundary(self.n_cond)
            else:
                xc, tc = self.sampler.at_time(self.n_cond, problem.time[0 if kind == "initial" else 1])
            xc, tc = self.put(xc), self.put(tc)
            batch["conditions"][kind] = (xc, tc, self.conditions[kind](xc, tc))
        return batch


def train(
    compiled: CompiledProblem,
    solution: Solution,
    engine: AbstractOperatorEngine,
    solver: AbstractSolver,
    config: dict,
    soft_kinds: tuple[str, ...] = (),
) -> TrainResult:
    """Trains ``solution`` on ``compiled`` with ``solver``; ``config`` is the resolved run config."""
    problem, train_config = compiled.problem, config["train"]
    dtype = jnp.float64 if config["precision"] == "float64" else jnp.float32
    params, static = eqx.partition(solution, eqx.is_inexact_array)
    sharding = point_sharding(train_config)
    if sharding is not None:  # points split over devices, parameters replicated
        params = jax.device_put(params, sharding[1])
    loss = make_loss(compiled, engine, static, soft_kinds, train_config["condition_weight"])
    state = solver.init(loss, params)
    step = eqx.filter_jit(lambda p, s, b, k: solver.step(loss, p, s, b, k))
    predict = make_predictor(engine, static)

    sampler = PointSampler(problem.domain, problem.time, train_config["sampler"], seed=config["seed"])
    make_batch = _BatchMaker(compiled, sampler, soft_kinds, train_config, dtype, sharding and sharding[0])
    validation = PointSampler(problem.domain, problem.time, "uniform", seed=problem.evaluation["seed"] + 1)
    x_val, t_val = (np.asarray(a, dtype) for a in validation.interior(train_config["validation_points"]))
    u_val = None if compiled.exact is None else np.asarray(compiled.exact(jnp.asarray(x_val), jnp.asarray(t_val)))

    evals_per_point = engine.evals_per_point(compiled.needs, problem.dimension)
    net_evals_per_loss = train_config["batch_size"] * evals_per_point
    if soft_kinds:
        net_evals_per_loss += len(soft_kinds) * train_config["boundary_batch_size"] * engine.evals_per_point(frozenset({"u"}), problem.dimension)

    history = {name: [] for name in HISTORY_FIELDS}
    key = jax.random.PRNGKey(config["seed"])
    steps, log_every, target = train_config["steps"], train_config["log_every"], train_config["target_rel_l2"]
    loss_evals = 0
    stop_reason = "step budget reached"
    start = time.perf_counter()
    bar = tqdm(total=steps, disable=not train_config["progress"], desc=problem.name, unit="step", leave=False)
    done = 0
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*balance properties of Sobol.*")
        for i in range(steps):
            key, subkey = jax.random.split(key)
            params, state, stats = step(params, state, make_batch(), subkey)
            loss_evals += int(stats["loss_evals"])
            done = i + 1
            bar.update(1)
            if done % log_every and done != steps:
                continue
            value = float(stats["loss"])
            metrics = {"rel_l2": math.nan, "mse": math.nan}
            if u_val is not None:
                metrics = error_metrics(predict(params, x_val, t_val)[0], u_val)
            history["step"].append(done)
            history["loss"].append(value)
            history["rel_l2"].append(metrics["rel_l2"])
            history["mse"].append(metrics["mse"])
            history["wall_time"].append(time.perf_counter() - start)
            history["loss_evals"].append(loss_evals)
            history["network_evals"].append(loss_evals * net_evals_per_loss)
            for name in stats.keys() - {"loss", "loss_evals"}:  # solver-specific, e.g. the hybrid stage
                history.setdefault(name, []).append(float(stats[name]))
            state = solver.observe(state, metrics["rel_l2"] if u_val is not None else value)
            bar.set_postfix(loss=f"{value:.3e}", rel_l2=f"{metrics['rel_l2']:.3e}")
            if not math.isfinite(value):
                stop_reason = f"loss became {value} at step {done}; lower solver.learning_rate"
                break
            if target is not None and metrics["rel_l2"] <= target:
                stop_reason = f"target rel_l2 {target:g} reached"
                break
    bar.close()
    wall = time.perf_counter() - start
    return TrainResult(eqx.combine(params, static), {k: np.asarray(v) for k, v in history.items()},
                       wall, done, stop_reason)
