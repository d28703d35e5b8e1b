"""Run configuration: typed, kinded sections validated once at the boundary.

Each section is a frozen dataclass whose fields (``fields.setting``) are its schema: ``TrainConfig``,
a ``ModelConfig`` kind per ``model.type``, an ``OperatorsConfig`` kind per ``operators.method``,
and ``SolverConfig`` whose keys are the registered solver's fields (``solver.name``).
``resolve(*updates)`` builds a ``RunConfig`` from dicts (defaults, problem, file, ``--set``);
``resolve_traced`` also says where each setting's value came from. ``RunConfig.to_dict()`` gives
back the plain mapping of ``config.yaml``.
"""

from ._legacy import upgrade_saved
from ._model import MAX_LAYERS, MAX_WIDTH, MODEL_KINDS, MlpConfig, ModelConfig, TtMlpConfig
from ._operators import (
    OPERATOR_KINDS,
    AutodiffOperators,
    AutoOperators,
    FiniteDifferenceOperators,
    MonteCarloSteinOperators,
    OperatorsConfig,
    SparseGridSteinOperators,
)
from ._run import RunConfig, default_config, merge_config, resolve, resolve_config, resolve_traced
from ._section import KindedSection, Section
from ._solver import SolverConfig, solver_fields
from ._stages import stage_solvers
from ._train import TrainConfig
from ._yaml import load_config_file, parse_override

__all__ = [
    "MAX_LAYERS",
    "MAX_WIDTH",
    "MODEL_KINDS",
    "OPERATOR_KINDS",
    "AutoOperators",
    "AutodiffOperators",
    "FiniteDifferenceOperators",
    "KindedSection",
    "MlpConfig",
    "ModelConfig",
    "MonteCarloSteinOperators",
    "OperatorsConfig",
    "RunConfig",
    "Section",
    "SolverConfig",
    "SparseGridSteinOperators",
    "TrainConfig",
    "TtMlpConfig",
    "default_config",
    "load_config_file",
    "merge_config",
    "parse_override",
    "resolve",
    "resolve_config",
    "resolve_traced",
    "solver_fields",
    "stage_solvers",
    "upgrade_saved",
]
