"""Projection (feasibility) training of a PINN: residual constraints on the network outputs at
the stencil nodes, hidden layers by projection sweeps over the network's constraint graph or by
zeroth-order steps, the read-out layer by projection or by an exact least-squares solve."""

import dataclasses

import equinox as eqx
import jax.numpy as jnp
import optax
from jax.flatten_util import ravel_pytree

from ..errors import ConfigError
from ..fields import NUMBER, Field
from ..models import MLP, DenseLinear
from ._base import AbstractSolver, Loss, SolverContext
from ._estimators import RGE_FIELDS, RandomGradientEstimator, random_estimator, random_evaluations
from ._gauss_newton import GaussNewton, GaussNewtonSpec
from ._optimizer import OPTIMIZER_FIELDS, OptimizerSettings, build_optimizer
from ._projection_graph import ALGORITHMS, OutputConstraints, solve_graph
from ._projection_pinn import ConstraintBlock, fit_readout, least_squares_rows, linearised_block
from ._spec import AbstractSolverSpec

HIDDEN = ("zeroth_order", "projection", "fixed", "linearised")
OUTPUT_LAYER = ("least_squares", "projection")


class ProjectionSolver(AbstractSolver):
    """Each step: linearise the residual (and soft-condition) constraints at the stencil nodes;
    update the hidden layers (``hidden``): ``projection`` runs ``inner_iterations`` of
    ``algorithm`` on the constraint graph from a forward pass, ``zeroth_order`` takes one
    RGE + ``optimizer`` step on the loss after the read-out's least-squares fit (variable
    projection), ``fixed`` keeps them (random features); then the read-out (``output_layer``):
    ``least_squares`` solves for it exactly (``ridge`` pulls towards the previous weights),
    ``projection`` keeps the graph's consensus. ``linearised`` moves all parameters at once to the
    damped minimum-norm point of the linearised constraint set, ``delta = -J^T (J J^T + lam I)^-1 r``
    (``newton``: the Gauss-Newton step with a BP-free Jacobian, kernel form when the batch has fewer
    rows than parameters), then fits the read-out as ``output_layer`` says. Call ``bind`` before ``init``."""

    algorithm: str = eqx.field(static=True)
    inner_iterations: int = eqx.field(static=True)
    relaxation: float = eqx.field(static=True)
    hidden: str = eqx.field(static=True)
    output_layer: str = eqx.field(static=True)
    ridge: float = eqx.field(static=True)
    estimator: RandomGradientEstimator
    optimizer: optax.GradientTransformation = eqx.field(static=True)
    newton: GaussNewton | None = None  # the projection step of hidden: linearised
    context: SolverContext | None = None

    def __check_init__(self):
        for field, value, allowed in (
            ("algorithm", self.algorithm, ALGORITHMS),
            ("hidden", self.hidden, HIDDEN),
            ("output_layer", self.output_layer, OUTPUT_LAYER),
        ):
            if value not in allowed:
                raise ConfigError(f"solver.{field}", f"unknown value {value!r}; allowed: {', '.join(allowed)}")
        if self.hidden == "linearised" and self.newton is None:
            raise ConfigError("solver.hidden", "linearised needs the Gauss-Newton step (ProjectionSpec builds it)")
        if self.hidden == "zeroth_order" and self.output_layer != "least_squares":
            raise ConfigError("solver.output_layer", "hidden: zeroth_order fits the read-out by least_squares")
        if not 0 < self.relaxation <= 1:
            raise ConfigError("solver.relaxation", f"must be in (0, 1], got {self.relaxation}")
        if self.inner_iterations < 1:
            raise ConfigError("solver.inner_iterations", f"must be >= 1, got {self.inner_iterations}")

    def bind(self, context: SolverContext) -> "ProjectionSolver":
        if context.engine.differentiates_network:
            raise ConfigError(
                "operators.method",
                "the projection solver needs stencil operators (sg, se or fd): "
                "its constraints are on network values at stencil nodes, not on autodiff graphs",
            )
        if {"neumann", "robin"} & set(context.soft_kinds):
            raise ConfigError(
                "solver.name",
                "the projection solver takes value conditions only; Neumann and "
                "Robin data need a loss-based solver (e.g. adam, gauss_newton, hybrid)",
            )
        network = context.static.network
        if not isinstance(network, MLP) or not isinstance(network.layers[-1], DenseLinear):
            raise ConfigError("model.dense_layers", "the projection solver needs a dense read-out layer (-1)")
        graph = self.hidden == "projection" or (self.output_layer == "projection" and self.hidden != "linearised")
        if graph and not all(isinstance(layer, DenseLinear) for layer in network.layers):
            raise ConfigError(
                "solver.hidden",
                "projection sweeps need a dense MLP (model.type: mlp); with TT "
                "layers use hidden: zeroth_order (the read-out is still solved by least squares)",
            )
        return dataclasses.replace(self, context=context)

    def init(self, loss: Loss, params):
        if self.context is None:
            raise RuntimeError("ProjectionSolver.bind(context) must be called before init")
        if self.hidden == "linearised":
            return self._newton.init(loss, params)
        return self.optimizer.init(self._hidden(params.network))

    @staticmethod
    def _hidden(network):
        return network.layers[:-1]

    @property
    def _bound(self) -> SolverContext:
        """The run's context, given by ``bind``."""
        if self.context is None:
            raise RuntimeError("ProjectionSolver.bind(context) must be called before init")
        return self.context

    @property
    def _newton(self) -> GaussNewton:
        """The Gauss-Newton step of ``hidden: linearised`` (``__check_init__`` requires it there)."""
        assert self.newton is not None
        return self.newton

    @staticmethod
    def _readout_layer(network: MLP) -> DenseLinear:
        last = network.layers[-1]
        assert isinstance(last, DenseLinear)  # bind refuses a network without a dense read-out
        return last

    def _blocks(self, solution, batch, key) -> list[ConstraintBlock]:
        ctx = self._bound
        engine, compiled, needs = ctx.engine, ctx.compiled, ctx.compiled.needs

        def residual(field, x, t, f):  # the engine's residual: randomised engines combine independent draws
            return engine.residual(compiled.residual, field, x, t, f, needs, key)

        def condition(field, x, t, g):
            return engine.solution(field)(x, t) - g

        blocks = [linearised_block(residual, solution, batch["x"], batch["t"], batch["f"])]
        weight = ctx.condition_weight
        for x, t, g in batch["conditions"].values():
            blocks.append(linearised_block(condition, solution, x, t, g, weight))
        return blocks

    def step(self, loss: Loss, params, state, batch, key):
        if self.hidden == "linearised":
            return self._linearised_step(loss, params, state, batch, key)
        solution = eqx.combine(params, self._bound.static)
        blocks = self._blocks(solution, batch, key)
        value = sum(block.loss for block in blocks)
        evals = 1  # the forward pass at the stencil nodes
        network = solution.network
        if self.hidden == "zeroth_order":
            hidden, unravel = ravel_pytree(self._hidden(network))
            readout = self._readout(network)

            def reduced(theta):  # the loss after the read-out's least-squares fit
                net = eqx.tree_at(self._hidden, network, unravel(theta))
                return fit_readout(*least_squares_rows(net, blocks), readout, self.ridge)[1]

            g, _, n_evals = self.estimator(reduced, hidden, key)
            updates, state = self.optimizer.update(unravel(g), state, self._hidden(network))
            network = eqx.tree_at(self._hidden, network, optax.apply_updates(self._hidden(network), updates))
            evals += n_evals
        elif self.hidden == "projection":
            z = jnp.concatenate([b.inputs.reshape(-1, b.inputs.shape[-1]) for b in blocks])
            targets = OutputConstraints(tuple(b.coefficients for b in blocks), tuple(b.offset for b in blocks))
            projected = solve_graph(network, z, targets, self.algorithm, self.inner_iterations, self.relaxation)
            keep = (
                projected
                if self.output_layer == "projection"
                else eqx.tree_at(self._hidden, network, self._hidden(projected))
            )
            network = keep
            evals += self.inner_iterations
        if self.output_layer == "least_squares":
            network = self._fitted_readout(network, blocks)
            evals += 1
        params = eqx.tree_at(lambda p: p.network, params, eqx.filter(network, eqx.is_inexact_array))
        return params, state, {"loss": value, "loss_evals": jnp.asarray(evals)}

    def _fitted_readout(self, network: MLP, blocks: list[ConstraintBlock]) -> MLP:
        """``network`` with its read-out solved by least squares on the constraints (hidden layers fixed)."""
        w, _ = fit_readout(*least_squares_rows(network, blocks), self._readout(network), self.ridge)
        last = self._readout_layer(network)
        return eqx.tree_at(
            lambda n: (n.layers[-1].weight, n.layers[-1].bias), network, (w[:-1].reshape(last.weight.shape), w[-1:])
        )

    def _linearised_step(self, loss: Loss, params, state, batch, key):
        """The damped minimum-norm projection of all parameters onto the linearised constraints
        (``newton``), then the read-out by least squares on the new constraints when asked."""
        params, state, stats = self._newton.step(loss, params, state, batch, key)
        if self.output_layer == "least_squares":
            solution = eqx.combine(params, self._bound.static)
            network = self._fitted_readout(solution.network, self._blocks(solution, batch, key))
            params = eqx.tree_at(lambda p: p.network, params, eqx.filter(network, eqx.is_inexact_array))
            stats = {**stats, "loss_evals": stats["loss_evals"] + 2}  # the stencil pass and the fit
        return params, state, stats

    @staticmethod
    def _readout(network: MLP):
        last = ProjectionSolver._readout_layer(network)
        return jnp.concatenate([last.weight[0], last.bias])

    @property
    def name(self) -> str:
        return "projection"


class ProjectionSpec(AbstractSolverSpec):
    """``projection``: feasibility training; the optimiser and RGE keys drive ``hidden: zeroth_order``.
    ``algorithm``, ``hidden`` and ``output_layer`` are checked by ``ProjectionSolver`` itself."""

    name = "projection"
    fields = {
        **OPTIMIZER_FIELDS,
        **RGE_FIELDS,
        "algorithm": Field((str,), "douglas_rachford"),  # douglas_rachford | alternating | cyclic
        "inner_iterations": Field((int,), 50, bounds=(1, None, ">= 1")),  # sweeps per minibatch (projection)
        "relaxation": Field(NUMBER, 0.5),  # Douglas-Rachford lam
        "hidden": Field((str,), "zeroth_order"),  # zeroth_order | projection | fixed | linearised
        "output_layer": Field((str,), "least_squares"),  # least_squares | projection
        "ridge": Field(NUMBER, 1e-3, bounds=(0, None, ">= 0")),  # pull towards the previous read-out (x trace/size)
        # hidden: linearised -- the projection step's Jacobian (BP-free ones), step lengths and damping floor
        "jacobian": GaussNewtonSpec.fields["jacobian"]._replace(
            choices=tuple(kind for kind in GaussNewtonSpec.fields["jacobian"].choices or () if kind != "ad")
        ),
        "line_search": GaussNewtonSpec.fields["line_search"]._replace(default=20),
        "min_damping": GaussNewtonSpec.fields["min_damping"]._replace(default=1e-6),
    }
    learning_rates = ("learning_rate",)

    def build(self, settings, steps):
        s = settings
        newton = None
        if s.hidden == "linearised":  # an unset chunk_size: Gauss-Newton's default
            chunk_size = s.chunk_size or GaussNewtonSpec.fields["chunk_size"].default
            newton = GaussNewton(
                s.jacobian, min_damping=s.min_damping, line_search=s.line_search, chunk_size=chunk_size
            )
        return ProjectionSolver(
            s.algorithm,
            s.inner_iterations,
            s.relaxation,
            s.hidden,
            s.output_layer,
            s.ridge,
            random_estimator(s),
            build_optimizer(OptimizerSettings.of(s), steps),
            newton,
        )

    def perturbations(self, settings, n_params):
        if settings.hidden == "linearised":  # the Jacobian's columns
            return n_params * (2 if settings.jacobian == "central_difference" else 1)
        return random_evaluations(settings) if settings.hidden == "zeroth_order" else 1  # RGE on the hidden layers
