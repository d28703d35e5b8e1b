"""A run: one build of its pieces, the training loop, evaluation and the run folder.

``build(problem, config)`` makes the untrained pieces (``Assembled``: compiled problem, network,
ansatz, operator engine, solver, sampler; ``BatchMaker`` draws the batches) the same way for
``solve``, ``open_run``, ``pdesolve check`` and the benchmarks; ``train(pieces)`` runs the loop
(guard, history, checkpoints, stopping and progress are its parts); ``solve`` does all of it and
returns a ``RunResult``; ``open_run`` reads a run folder back. Call ``build`` and ``train`` under
``precision(config)``.
"""

from ._batches import BatchMaker
from ._build import Assembled, build, build_solver
from ._checkpoint import RunCheckpoints
from ._engine import build_engine
from ._history import HISTORY_FIELDS
from ._inverse import summary_lines as unknowns_summary
from ._loop import train
from ._network import build_network
from ._open import OpenedRun, open_run
from ._precision import precision, run_dtype
from ._predict import make_predictor
from ._resolve import as_config, resolve_run, resolve_run_config, resolve_run_traced
from ._solve import RunResult, solve
from ._stopping import StopReason
from ._trained import TrainResult

__all__ = [
    "HISTORY_FIELDS",
    "Assembled",
    "BatchMaker",
    "OpenedRun",
    "RunCheckpoints",
    "RunResult",
    "StopReason",
    "TrainResult",
    "as_config",
    "build",
    "build_engine",
    "build_network",
    "build_solver",
    "make_predictor",
    "open_run",
    "precision",
    "resolve_run",
    "resolve_run_config",
    "resolve_run_traced",
    "run_dtype",
    "solve",
    "train",
    "unknowns_summary",
]
