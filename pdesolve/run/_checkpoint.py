"""Checkpoints of a training run, saved atomically into its run folder and read back to resume.

A checkpoint is the arrays file ``checkpoint-<step>.eqx`` (parameters, solver state and PRNG key,
by ``eqx.tree_serialise_leaves``) and ``checkpoint.json``, the commit record: it names the
arrays file and holds the loop's counters, the sampler state and the history so far. The record
is replaced last and the older arrays file removed after it, so a run killed at any moment
leaves a record that names a complete arrays file. ``history.nc`` is rewritten with each
checkpoint, so the folder of a killed run shows the history up to its last checkpoint.
"""

import json
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import equinox as eqx
import numpy as np
from jaxtyping import PyTree

from ..errors import ConfigError
from ..results import history_dataset, write_netcdf
from ..safe_write import atomic_write, atomic_write_text
from ._trained import TrainResult

RECORD = "checkpoint.json"
TRAINED = "trained.json"  # written when training ends, before the final evaluation


def _plain_history(history: Mapping[str, Iterable]) -> dict[str, list]:
    """History lists as JSON numbers (ints stay ints, NaN stays NaN)."""
    return {
        k: [int(v) if isinstance(v, (int, np.integer)) else float(v) for v in values] for k, values in history.items()
    }


class RunCheckpoints:
    """Saves and loads the checkpoints of one run folder.

    ``history_attrs`` are the attributes of the ``history.nc`` written with each checkpoint.
    """

    def __init__(self, folder: str | Path, history_attrs: dict | None = None):
        self.folder = Path(folder)
        self.history_attrs = history_attrs or {}

    def exists(self) -> bool:
        return (self.folder / RECORD).is_file()

    def save(self, arrays: PyTree, meta: dict[str, Any], history: dict[str, list]) -> None:
        """Writes ``arrays`` (a pytree), ``meta`` (JSON-able; must hold ``step``) and ``history``."""
        name = f"checkpoint-{meta['step']:09d}.eqx"
        atomic_write(self.folder / name, lambda tmp: eqx.tree_serialise_leaves(tmp, arrays))
        if history["step"]:
            data = {k: np.asarray(v) for k, v in history.items()}
            write_netcdf(self.folder / "history.nc", history_dataset(data, self.history_attrs))
        record = {**meta, "arrays": name, "history": _plain_history(history)}
        atomic_write_text(self.folder / RECORD, json.dumps(record) + "\n")
        for old in self.folder.glob("checkpoint-*.eqx"):
            if old.name != name:
                old.unlink()

    def save_trained(self, result: TrainResult) -> None:
        """After training (``result``; its solution is in ``model.eqx``): the
        training summary ``trained.json``, so that a run stopped in its final evaluation resumes
        by evaluating, without training again."""
        record = {
            "arrays": "model.eqx",
            "steps_done": result.steps_done,
            "stop_reason": result.stop_reason,
            "wall_time_s": result.wall_time_s,
            "history": _plain_history(result.history),
        }
        atomic_write_text(self.folder / TRAINED, json.dumps(record) + "\n")

    def load_trained(self, like: PyTree) -> TrainResult | None:
        """The ``TrainResult`` saved by :meth:`save_trained` (solution shaped like ``like``), or None."""
        if not (self.folder / TRAINED).is_file():
            return None
        try:
            record = json.loads((self.folder / TRAINED).read_text())
            solution = eqx.tree_deserialise_leaves(self.folder / record["arrays"], like)
        except (OSError, ValueError, KeyError, RuntimeError) as err:
            raise ConfigError("--resume", f"cannot read the trained model in {self.folder}: {err}") from None
        history = {k: np.asarray(v) for k, v in record["history"].items()}
        return TrainResult(solution, history, record["wall_time_s"], record["steps_done"], record["stop_reason"])

    def load(self, like: PyTree) -> tuple[PyTree, dict[str, Any]]:
        """Returns ``(arrays shaped like like, meta with 'history')`` from the last checkpoint."""
        try:
            record = json.loads((self.folder / RECORD).read_text())
            arrays = eqx.tree_deserialise_leaves(self.folder / record["arrays"], like)
        except (OSError, ValueError, KeyError, RuntimeError) as err:
            raise ConfigError("--resume", f"cannot read the checkpoint in {self.folder}: {err}") from None
        return arrays, record
