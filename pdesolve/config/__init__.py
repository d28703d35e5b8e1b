"""Run configuration: typed, kinded sections validated once at the boundary.

Each section is a frozen dataclass whose fields (``fields.setting``) are its schema: ``TrainConfig``,
a ``ModelConfig`` kind per ``model.type``, an ``OperatorsConfig`` kind per ``operators.method``,
and ``SolverConfig`` whose keys are the registered solver's fields (``solver.name``).
``resolve(*updates)`` builds a ``RunConfig`` from dicts (defaults, problem, file, ``--set``);
``RunConfig.to_dict()`` gives back the plain mapping of ``config.yaml``.
"""

from ._check import key_name, preview
from ._legacy import upgrade_saved
from ._model import ACTIVATIONS, MAX_LAYERS, MAX_WIDTH, MODEL_KINDS, MlpConfig, ModelConfig, TtMlpConfig
from ._operators import (OPERATOR_KINDS, AutodiffOperators, AutoOperators, FiniteDifferenceOperators,
                         MonteCarloSteinOperators, OperatorsConfig, SparseGridSteinOperators)
from ._run import RunConfig, default_config, merge_config, resolve, resolve_config
from ._section import KindedSection, Section
from ._solver import SolverConfig, solver_fields
from ._train import TrainConfig
from ._yaml import MAX_YAML_CHARS, MAX_YAML_NODES, SafeLoader, check_expanded_size, load_config_file, parse_override, safe_load

__all__ = [
    "ACTIVATIONS", "MAX_LAYERS", "MAX_WIDTH", "MAX_YAML_CHARS", "MAX_YAML_NODES", "MODEL_KINDS", "OPERATOR_KINDS",
    "AutoOperators", "AutodiffOperators", "FiniteDifferenceOperators", "KindedSection", "MlpConfig",
    "ModelConfig", "MonteCarloSteinOperators", "OperatorsConfig", "RunConfig", "SafeLoader", "Section",
    "SolverConfig", "SparseGridSteinOperators", "TrainConfig", "TtMlpConfig", "check_expanded_size",
    "default_config", "key_name", "load_config_file", "merge_config", "parse_override", "preview", "resolve",
    "resolve_config", "safe_load", "solver_fields", "upgrade_saved",
]
