"""``pdesolve tune``: hyperparameter search over config settings (optuna TPE, median pruning),
in parallel worker processes sharing one study; see :func:`tune`."""

from ._space import SearchSpace, SpaceError, load_space
from ._tune import TuneResult, tune

__all__ = ["SearchSpace", "SpaceError", "TuneResult", "load_space", "tune"]
