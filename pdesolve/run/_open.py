"""``open_run(path)``: a finished run folder as datasets, report and a reloaded trained model.

The model is rebuilt from the run's ``config.yaml`` (problem, network, ansatz, operator engine)
and its arrays are loaded from ``model.eqx`` (equinox ``tree_deserialise_leaves``).
"""

import dataclasses
import json
from pathlib import Path

import equinox as eqx
import numpy as np
import xarray as xr

from ..config import RunConfig, resolve, upgrade_saved
from ..errors import ConfigError
from ..models import Solution
from ..operators import AbstractOperatorEngine
from ..problem import Problem, problem_from_mapping
from ..safe_yaml import safe_load
from ._build import build
from ._precision import precision
from ._predict import predict_at


@dataclasses.dataclass
class OpenedRun:
    """A run folder opened for analysis.

    ``predict(x, t)`` evaluates the reported solution: the network with its ansatz, or for a
    Stein run the smoothed model (``prediction`` says which: the ansatz with the smoothed network,
    or the smoothed model with ``operators.smooth: solution``), exactly as
    ``u_pred`` in ``solution.nc``; ``predict(x, t, raw=True)`` gives the network itself (``u_raw``).
    """

    path: Path
    solution: xr.Dataset | None
    history: xr.Dataset | None
    slices: xr.Dataset | None
    report: dict
    config: RunConfig
    problem: Problem
    model: Solution
    engine: AbstractOperatorEngine
    lines: xr.Dataset | None = None  # lines.nc: the solution along the diagonal line

    @property
    def prediction(self) -> str:
        """``network``, or the engine's smoothed prediction (Stein; what predict returns)."""
        smoothed = self.engine.solution(self.model) is not self.model
        return self.engine.prediction if smoothed else "network"

    def predict(self, x, t=None, *, raw: bool = False) -> np.ndarray:
        """u at points x (n, d) (or (d,) for one point) and times t (n,) or a scalar (required for a
        time-dependent problem, ignored for a stationary one). Returns (n,) in the run's precision."""
        return predict_at(self.model, self.engine, self.problem, self.config, x, t, raw=raw)


def _open_dataset(path: Path) -> xr.Dataset | None:
    if not path.is_file():
        return None
    with xr.open_dataset(path, engine="h5netcdf") as ds:
        return ds.load()


def _rebuild(problem: Problem, config: RunConfig, model_file: Path) -> tuple[Solution, AbstractOperatorEngine]:
    """The trained solution (as in ``solve``: same network, ansatz and engine) with the saved arrays."""
    with precision(config):
        pieces = build(problem, config)
        return eqx.tree_deserialise_leaves(model_file, pieces.solution), pieces.engine


def open_run(path: str | Path) -> OpenedRun:
    """Opens the run folder ``path``: ``solution``, ``history``, ``slices``, ``lines`` (xarray Datasets,
    loaded into memory), ``report`` (dict), ``config`` (a ``RunConfig``), ``problem`` and ``predict(x, t)``.

    ``model.eqx`` is written when training ends, before the final evaluation: a run stopped during
    that evaluation opens too, with ``predict`` and without the datasets (None) and report ({})."""
    folder = Path(path)
    for name in ("config.yaml", "model.eqx"):
        if not (folder / name).is_file():
            raise ConfigError("open_run", f"{folder} is not a trained run folder (no {name})")
    resolved = safe_load((folder / "config.yaml").read_text())
    problem = problem_from_mapping(resolved["problem"], where=resolved.get("problem_file"))
    config = resolve(upgrade_saved(resolved["config"]))
    model, engine = _rebuild(problem, config, folder / "model.eqx")
    report_file = folder / "report.json"
    report = json.loads(report_file.read_text()) if report_file.is_file() else {}
    return OpenedRun(
        folder,
        _open_dataset(folder / "solution.nc"),
        _open_dataset(folder / "history.nc"),
        _open_dataset(folder / "slices.nc"),
        report,
        config,
        problem,
        model,
        engine,
        _open_dataset(folder / "lines.nc"),
    )
