"""Builds the network named by the ``model`` section of a config, on the inputs ``model.inputs`` picks."""

import jax.numpy as jnp
from jaxtyping import PRNGKeyArray

from ..config import ModelConfig
from ..errors import ConfigError
from ..models import Network, model_spec
from ..problem import (
    AUTO_SEARCH_BUDGET,
    CompiledProblem,
    NotSymmetric,
    Problem,
    Subspace,
    find_subspace,
    search_cost,
)


def network_subspace(model: ModelConfig, problem: Problem, compiled: CompiledProblem) -> tuple[Subspace | None, str]:
    """The symmetry subspace the first layer reads (``model.inputs``; None: the coordinates), and
    what the network reads, said for ``pdesolve check`` and the report."""
    choice = getattr(model, "inputs", "coordinates")  # a registered kind may not have the key
    if choice == "coordinates":
        return None, "coordinates"
    cost = search_cost(problem, compiled)
    if choice == "auto" and cost > AUTO_SEARCH_BUDGET:
        return None, (
            f"coordinates (auto: the symmetry search would cost {cost:.1e}, over its budget "
            f"{AUTO_SEARCH_BUDGET:.0e}, at d = {problem.dimension}; model.inputs: subspace runs it)"
        )
    try:
        subspace = find_subspace(problem, compiled)
    except NotSymmetric as why:
        if choice == "auto":
            return None, f"coordinates (auto: no symmetry features, {why})"
        raise ConfigError(
            "model.inputs",
            f"subspace needs a problem unchanged by rotations about its centre that fix a few "
            f"directions, but {why}; use coordinates",
        ) from None
    time = " and t" if problem.has_time else ""
    return subspace, (
        f"symmetry features: {subspace.directions} direction(s) of the data and the radius about the "
        f"centre{time} (the problem is unchanged by rotations that fix them)"
    )


def build_network(
    model: ModelConfig, in_size: int, *, key: PRNGKeyArray, dtype=jnp.float32, subspace: Subspace | None = None
) -> Network:
    """The network of the validated ``model`` section, built by the spec registered for its
    ``model.type``: ``(n, in_size) -> (n,)``, its first layer on ``subspace``'s features if given."""
    spec = model_spec(model.kind)
    if subspace is None:
        return spec.build(model, in_size, key=key, dtype=dtype)
    return spec.build(model, in_size, key=key, dtype=dtype, subspace=subspace)
