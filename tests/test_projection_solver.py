"""The projection solver: exact affine residual constraints, the least-squares read-out against an
independent fit, constraint-graph algorithms reducing infeasibility, config and binding errors."""

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import pytest
from jax.flatten_util import ravel_pytree

from pdesolve.config import MlpConfig, resolve
from pdesolve.errors import ConfigError
from pdesolve.loss import PinnLoss
from pdesolve.models import MLP, DenseLinear, build_solution
from pdesolve.operators import AutodiffEngine, FiniteDifferenceEngine, SparseGridSteinEngine
from pdesolve.problem import compile_problem, load_problem
from pdesolve.run import build_network, build_solver
from pdesolve.solvers import SolverContext
from pdesolve.solvers._projection_graph import ALGORITHMS, OutputConstraints, solve_graph
from pdesolve.solvers._projection_pinn import linearised_block


def _setup(problem_file="problems/poisson2d.yaml", solver=None, method="sg"):
    problem = load_problem(problem_file)
    compiled = compile_problem(problem)
    config = resolve(
        problem.config,
        {
            "precision": "float64",
            "model": {"widths": [8, 8]},
            "operators": {"method": method},
            "solver": solver or {"name": "projection", "hidden": "fixed"},
        },
    )
    net = build_network(
        config.model, problem.dimension + int(problem.has_time), key=jax.random.PRNGKey(0), dtype=jnp.float64
    )
    solution, soft = build_solution(compiled, net, "auto")
    engine = (
        SparseGridSteinEngine(sigma=0.2, level=3, smooth_time=problem.has_time) if method == "sg" else AutodiffEngine()
    )
    rng = np.random.default_rng(0)
    x = jnp.asarray(rng.uniform(0, 1, (6, problem.dimension)))
    t = jnp.asarray(rng.uniform(0, 1, 6)) if problem.has_time else jnp.zeros(6)
    f = compiled.source(x, t) if compiled.source else jnp.zeros(6)
    batch = {"x": x, "t": t, "f": f, "conditions": {}}
    return compiled, config, solution, engine, batch, soft


def _with_solver(config, **settings):
    """``config``'s solver section with ``settings`` changed (validated)."""
    return resolve(config.to_dict(), {"solver": settings}).solver


def _residual(compiled, engine, solution, batch):
    ops = engine(solution, batch["x"], batch["t"], compiled.needs)
    return compiled.residual(ops, batch["x"], batch["t"], batch["f"])


@pytest.mark.parametrize(
    "problem_file",
    [
        "problems/poisson2d.yaml",
        pytest.param("problems/heat_sin10.yaml", marks=pytest.mark.slow),  # ~40 s: the 10-d SG stencil
    ],
)
def test_residual_is_affine_in_the_network_outputs_at_the_stencil_nodes(problem_file):
    compiled, _, solution, engine, batch, _ = _setup(problem_file)

    def residual(field, x, t, f):
        return compiled.residual(engine(field, x, t, compiled.needs), x, t, f)

    block = linearised_block(residual, solution, batch["x"], batch["t"], batch["f"])
    np.testing.assert_allclose(block.residual, _residual(compiled, engine, solution, batch), rtol=1e-10, atol=1e-10)
    # Any other network: c . N + e is its residual exactly (the PDE is linear in u).
    other = eqx.tree_at(
        lambda s: s.network,
        solution,
        build_network(
            MlpConfig(widths=[5], activation="sin", init="lecun"),
            solution.network.layers[0].in_size,
            key=jax.random.PRNGKey(3),
            dtype=jnp.float64,
        ),
    )
    n, k, z = block.inputs.shape
    outputs = other.network(block.inputs.reshape(n * k, z)).reshape(n, k)
    np.testing.assert_allclose(
        jnp.sum(block.coefficients * outputs, axis=1) + block.offset,
        _residual(compiled, engine, other, batch),
        rtol=1e-9,
        atol=1e-9,
    )


STENCILS = {
    "fd-random": lambda: FiniteDifferenceEngine(step=1e-3, coordinates=1),  # two draws of 1 of 2 coordinates
    "sg-network": lambda: SparseGridSteinEngine(sigma=0.2, level=3, smooth="network"),
    "sg-solution": lambda: SparseGridSteinEngine(sigma=0.2, level=3, smooth="solution"),
}


@pytest.mark.parametrize(
    "stencil", [pytest.param(s, marks=pytest.mark.slow) if s != "fd-random" else s for s in STENCILS]
)  # the Stein ones (16 - 25 s each) with -m slow
def test_constraints_are_the_engines_residual(stencil):
    """The block is built from ``engine.residual`` (the randomised engine's two-draw residual, the
    Stein engine's ansatz path), point by point as the solver linearises, and is affine in the
    network outputs at every node it evaluates."""
    compiled, config, solution, _, batch, soft = _setup()
    engine, key = STENCILS[stencil](), jax.random.PRNGKey(4)
    static = eqx.partition(solution, eqx.is_inexact_array)[1]
    context = SolverContext(static, engine, compiled, soft, config.train.condition_weight)
    solver = build_solver(config.solver, 10).bind(context)
    (block,) = solver._blocks(solution, batch, key)
    assert block.inputs.shape[1] == engine.evals_per_point(compiled.needs, 2)  # fd-random: two sets of 2k + 1

    def reference(s):  # one point per call, the step's key for each
        x, t, f = batch["x"], batch["t"], batch["f"]
        return jnp.concatenate(
            [
                engine.residual(compiled.residual, s, x[i : i + 1], t[i : i + 1], f[i : i + 1], compiled.needs, key)
                for i in range(len(x))
            ]
        )

    np.testing.assert_allclose(block.residual, reference(solution), rtol=1e-10, atol=1e-10)
    other = eqx.tree_at(
        lambda s: s.network,
        solution,
        build_network(
            MlpConfig(widths=[5], activation="sin", init="lecun"), 2, key=jax.random.PRNGKey(3), dtype=jnp.float64
        ),
    )
    n, k, z = block.inputs.shape
    outputs = other.network(block.inputs.reshape(n * k, z)).reshape(n, k)
    np.testing.assert_allclose(
        jnp.sum(block.coefficients * outputs, axis=1) + block.offset, reference(other), rtol=1e-8, atol=1e-8
    )
    if stencil != "fd-random":  # deterministic: the solver's loss is the loss path's
        loss = PinnLoss(compiled, engine, static, soft, 1.0)
        params = eqx.filter(solution, eqx.is_inexact_array)
        _, _, stats = solver.step(loss, params, solver.init(loss, params), batch, key)
        np.testing.assert_allclose(stats["loss"], loss(params, batch, key), rtol=1e-10)


def test_least_squares_readout_minimises_the_loss_like_an_independent_fit():
    compiled, config, solution, engine, batch, soft = _setup()
    solver = build_solver(_with_solver(config, ridge=1e-14), 10)
    params, static = eqx.partition(solution, eqx.is_inexact_array)
    solver = solver.bind(SolverContext(static, engine, compiled, soft, config.train.condition_weight))
    loss = PinnLoss(compiled, engine, static, soft, 1.0)
    new, _, stats = solver.step(loss, params, solver.init(loss, params), batch, jax.random.PRNGKey(0))
    np.testing.assert_allclose(stats["loss"], loss(params, batch, None), rtol=1e-10)
    # Independent: the loss is quadratic in the read-out; build its rows from loss-path residuals
    # of unit read-outs (R(e_j) - R(0)) and fit with numpy's lstsq.
    last = lambda s: (s.network.layers[-1].weight, s.network.layers[-1].bias)  # noqa: E731
    h = solution.network.layers[-1].in_size

    def residual_with(w):
        s = eqx.tree_at(last, solution, (w[:h][None], w[h:]))
        return np.asarray(_residual(compiled, engine, s, batch))

    r0 = residual_with(jnp.zeros(h + 1))
    cols = np.stack([residual_with(jnp.eye(h + 1)[j]) - r0 for j in range(h + 1)], axis=1)
    w, *_ = np.linalg.lstsq(cols, -r0, rcond=None)
    best = np.mean((cols @ w + r0) ** 2)
    assert float(loss(new, batch, None)) <= best * (1 + 1e-6) + 1e-14
    assert float(loss(new, batch, None)) < 0.5 * float(stats["loss"])


@pytest.mark.parametrize("algorithm", ALGORITHMS)
def test_graph_algorithms_reduce_output_infeasibility(algorithm):
    keys = jax.random.split(jax.random.PRNGKey(1), 3)
    net = MLP(
        [DenseLinear(2, 6, key=keys[0], dtype=jnp.float64), DenseLinear(6, 1, key=keys[1], dtype=jnp.float64)], "tanh"
    )
    z = jax.random.uniform(keys[2], (12, 2), jnp.float64)
    target = jnp.sin(3 * z[:, 0]) * 0.5
    # Groups of two samples: N_a + N_b = target_a + target_b (a hyperplane per group).
    targets = OutputConstraints((jnp.ones((6, 2)),), (-(target[0::2] + target[1::2]),))
    gap = lambda n: jnp.sum((n(z)[0::2] + n(z)[1::2] - target[0::2] - target[1::2]) ** 2)  # noqa: E731
    before = float(gap(net))
    after = float(gap(solve_graph(net, z, targets, algorithm, 30, 0.5)))
    assert after < 0.5 * before, (before, after)


def test_config_and_binding_errors_name_the_field():
    compiled, config, solution, _, _, soft = _setup(method="ad")
    _params, static = eqx.partition(solution, eqx.is_inexact_array)
    solver = build_solver(config.solver, 10)
    with pytest.raises(ConfigError, match=r"operators\.method"):
        solver.bind(SolverContext(static, AutodiffEngine(), compiled, soft, config.train.condition_weight))
    with pytest.raises(ConfigError, match=r"solver\.algorithm"):
        build_solver(_with_solver(config, algorithm="difference_map"), 10)
    with pytest.raises(ConfigError, match=r"solver\.output_layer"):
        build_solver(_with_solver(config, hidden="zeroth_order", output_layer="projection"), 10)
    tt = resolve(
        {
            "model": {"type": "tt_mlp", "widths": [8, 8], "rank": 2, "n_cores": 2},
            "solver": {"name": "projection", "hidden": "projection"},
        }
    )
    net = build_network(tt.model, 2, key=jax.random.PRNGKey(0), dtype=jnp.float64)
    tt_static = eqx.partition(build_solution(compiled, net, "auto")[0], eqx.is_inexact_array)[1]
    engine = SparseGridSteinEngine(sigma=0.1, level=3)
    tt_context = SolverContext(tt_static, engine, compiled, soft, tt.train.condition_weight)
    with pytest.raises(ConfigError, match=r"solver\.hidden"):
        build_solver(tt.solver, 10).bind(tt_context)
    # With ZO hidden layers a TT network is accepted: only the dense read-out is solved.
    build_solver(_with_solver(tt, hidden="zeroth_order"), 10).bind(tt_context)


def test_linearised_projection_is_the_damped_minimum_norm_step_onto_the_linearised_constraints():
    # hidden: linearised, one step length (1) at a tiny damping: theta moves by -J^T (J J^T + lam I)^-1 r,
    # checked against numpy's solve with jax.jacfwd's Jacobian (the solver's: jvp columns, kernel form, its
    # damping scale; finite differences of the FD residual would add their round-off, ~1e-2 relative here)
    compiled, config, solution, _, batch, soft = _setup(method="fd")
    engine = FiniteDifferenceEngine(step=1e-3)
    params, static = eqx.partition(solution, eqx.is_inexact_array)
    loss = PinnLoss(compiled, engine, static, tuple(soft), 1.0)
    solver = build_solver(
        _with_solver(
            config,
            name="projection",
            hidden="linearised",
            output_layer="projection",
            jacobian="jvp",
            line_search=1,
            min_damping=1e-10,
        ),
        1,
    )
    solver = solver.bind(SolverContext(static, engine, compiled, tuple(soft), 1.0))
    key = jax.random.PRNGKey(0)
    new = jax.jit(lambda p, s: solver.step(loss, p, s, batch, key)[0])(params, solver.init(loss, params))
    theta, unravel = ravel_pytree(params)
    r = loss.residuals(params, batch, key)
    jac = jax.jit(jax.jacfwd(lambda th: loss.residuals(unravel(th), batch, key)))(theta)
    assert jac.shape[0] < jac.shape[1]  # fewer constraint rows than parameters: a projection
    delta = np.asarray(ravel_pytree(new)[0] - theta)
    lam = 1e-10 * np.trace(jac.T @ jac) / theta.shape[0]
    expected = -jac.T @ np.linalg.solve(jac @ jac.T + lam * np.eye(r.shape[0]), r)
    np.testing.assert_allclose(delta, expected, rtol=1e-4, atol=1e-6 * np.abs(expected).max())
    # on the linearised constraint set, and the smallest such move (orthogonal to J's null space)
    assert np.linalg.norm(r + jac @ delta) < 1e-6 * np.linalg.norm(r)
    null = np.linalg.svd(np.asarray(jac))[2][r.shape[0] :]
    assert np.linalg.norm(null @ delta) < 1e-4 * np.linalg.norm(delta)
