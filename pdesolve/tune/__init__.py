"""``pdesolve tune``: hyperparameter search over config settings (optuna TPE, median pruning),
in parallel worker processes sharing one study; a trial's objective is the geometric mean of its
errors over one or more seeds; see :func:`tune`."""

from ._space import SearchSpace, SpaceError, load_space
from ._tune import TuneResult, tune

__all__ = ["SearchSpace", "SpaceError", "TuneResult", "load_space", "tune"]
