"""Warm start (``train.init_from``): a new run's network (and unknowns) from a trained run's model.

The trained run is rebuilt from its folder's ``config.yaml`` (as ``open_run`` does) and its arrays
read from ``model.eqx``; the new run keeps its own ansatz (base and factor of its own conditions)
and takes the trained network's parameters when every array has the same place and shape, and the
trained unknowns when both runs have the same unknowns. Anything else is refused, naming what differs.
"""

from pathlib import Path

import equinox as eqx
import jax
import numpy as np

from ..config import resolve, upgrade_saved
from ..errors import ConfigError, PdesolveError
from ..models import Solution
from ..problem import problem_from_mapping
from ..safe_yaml import safe_load
from ._build import build
from ._precision import precision

FIELD = "train.init_from"


def _trained_solution(folder: Path) -> Solution:
    """The trained solution saved in the run folder ``folder`` (rebuilt from its config.yaml)."""
    for name in ("config.yaml", "model.eqx"):
        if not (folder / name).is_file():
            raise ConfigError(
                FIELD,
                f"{folder} is not a trained run folder (no {name}); give the folder of a "
                "finished run (outputs/<problem>/<run>)",
            )
    try:
        resolved = safe_load((folder / "config.yaml").read_text())
        problem = problem_from_mapping(resolved["problem"], where=resolved.get("problem_file"))
        config = resolve(upgrade_saved(resolved["config"]))
    except PdesolveError as err:
        raise ConfigError(FIELD, f"cannot rebuild the run in {folder}: {err}") from None
    except (KeyError, TypeError, ValueError) as err:
        raise ConfigError(FIELD, f"{folder / 'config.yaml'} is not a run's config.yaml ({err})") from None
    with precision(config):
        like = build(problem, config).solution
        try:
            return eqx.tree_deserialise_leaves(folder / "model.eqx", like)
        except (OSError, ValueError, RuntimeError) as err:
            raise ConfigError(FIELD, f"cannot read the trained model in {folder}: {err}") from None


def _shapes(tree) -> dict[str, tuple]:
    """``{path: shape}`` of the array leaves of ``tree`` (paths as ``.layers[0].weight``)."""
    leaves = jax.tree_util.tree_leaves_with_path(eqx.filter(tree, eqx.is_array))
    return {jax.tree_util.keystr(path): tuple(np.shape(leaf)) for path, leaf in leaves}


def _check_fits(old, new, what: str, folder: Path) -> None:
    """Refuses ``old`` arrays that differ from ``new`` ones in place or shape, naming the first difference."""
    old_shapes, new_shapes = _shapes(old), _shapes(new)
    for path in sorted(set(old_shapes) | set(new_shapes)):
        if old_shapes.get(path) != new_shapes.get(path):
            have = old_shapes.get(path, "absent")
            want = new_shapes.get(path, "absent")
            raise ConfigError(
                FIELD,
                f"the {what} of the run in {folder} does not fit this run's: {path} has "
                f"shape {have} there and {want} here; warm-start from a run with the same model "
                "settings (model.*, the dimension, time or not), or drop the warm start",
            )


def warm_start(solution: Solution, folder: str | Path) -> Solution:
    """``solution`` with the network (and unknowns, when both runs have the same ones) of the trained
    run in ``folder``, cast to this run's dtype; refuses a network of another architecture."""
    folder = Path(folder)
    trained = _trained_solution(folder)
    _check_fits(trained.network, solution.network, "network", folder)
    dtype = jax.tree.leaves(eqx.filter(solution.network, eqx.is_inexact_array))[0].dtype
    cast = lambda a: a.astype(dtype) if eqx.is_inexact_array(a) else a  # noqa: E731
    warm = eqx.tree_at(lambda s: s.network, solution, jax.tree.map(cast, trained.network))
    old_unknowns, new_unknowns = getattr(trained, "unknowns", None), getattr(solution, "unknowns", None)
    if old_unknowns and new_unknowns and _shapes(old_unknowns) == _shapes(new_unknowns):
        warm = eqx.tree_at(lambda s: s.unknowns, warm, jax.tree.map(cast, old_unknowns))
    return warm
