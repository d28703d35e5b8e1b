"""The whole run config: top-level settings and the typed sections, built once from dicts."""

import dataclasses
from collections.abc import Mapping
from typing import Any, Self

from ..errors import ConfigError, key_name
from ..fields import setting
from ._check import check_value, suggest
from ._merge import DEFAULT, Trace, merge_kinded, merge_section
from ._model import MODEL_KINDS, MlpConfig, ModelConfig
from ._operators import OPERATOR_KINDS, AutodiffOperators, OperatorsConfig
from ._section import Section
from ._solver import SolverConfig, solver_fields
from ._stages import resolve_stages
from ._train import TrainConfig


@dataclasses.dataclass(frozen=True, kw_only=True)
class RunConfig(Section):
    """A validated run config: ``RunConfig.from_dict`` (or ``resolve``) builds it, ``to_dict``
    gives back the plain mapping written to a run folder's ``config.yaml``."""

    # random seed of the network, batches and perturbations (same seed, same result on CPU)
    seed: int = setting((int,), 0, bounds=(0, 2**32 - 1, "an integer from 0 to 4294967295"))
    precision: str = setting((str,), "float32", choices=("float32", "float64"))  # Stein and Gauss-Newton need float64
    ansatz: str = setting((str,), "auto", choices=("auto", "soft"))  # auto: exact conditions where possible
    model: ModelConfig = dataclasses.field(default_factory=MlpConfig)
    solver: SolverConfig = dataclasses.field(default_factory=lambda: SolverConfig.from_valid(default_solver()))
    operators: OperatorsConfig = dataclasses.field(default_factory=AutodiffOperators)
    train: TrainConfig = dataclasses.field(default_factory=TrainConfig)

    @classmethod
    def from_dict(cls, config: dict[str, Any] | None) -> "RunConfig":
        """The defaults with ``config`` (a whole or partial config mapping) applied and validated."""
        return resolve(config)

    @classmethod
    def from_valid(cls, values: Mapping[str, Any]) -> Self:
        """The config from a whole mapping already validated by ``merge_config``."""
        return cls(
            **{key: values[key] for key in cls.schema()},
            model=MODEL_KINDS[values["model"]["type"]].from_valid(values["model"]),
            solver=SolverConfig.from_valid(values["solver"]),
            operators=OPERATOR_KINDS[values["operators"]["method"]].from_valid(values["operators"]),
            train=TrainConfig.from_valid(values["train"]),
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            **super().to_dict(),
            "model": self.model.to_dict(),
            "solver": self.solver.to_dict(),
            "operators": self.operators.to_dict(),
            "train": self.train.to_dict(),
        }


SECTIONS = ("model", "solver", "operators", "train")


def default_solver() -> dict[str, Any]:
    """The default ``solver`` section: Adam with its registered defaults."""
    return {"name": "adam", **{key: field.default for key, field in solver_fields()["adam"].items()}}


def default_config() -> dict:
    """The built-in defaults: a dense tanh MLP trained by Adam with autodiff operators."""
    return RunConfig().to_dict()


def _merged_section(section: str, base: dict, update: Any, trace: Trace | None) -> dict:
    """The section ``section`` of ``base`` with ``update`` validated and applied (a kind chosen anew
    by ``model.type`` or ``solver.name`` starts from its defaults; ``operators.method`` keeps the
    settings the two methods share)."""
    if section == "train":
        merged = merge_section("train", base, update, TrainConfig.schema(), trace=trace)
        return {**merged, "stages": resolve_stages(merged["stages"])}
    if section == "solver":
        return merge_kinded("solver", base, update, solver_fields(), "name", trace=trace)
    kinds, kind_key = (MODEL_KINDS, "type") if section == "model" else (OPERATOR_KINDS, "method")
    schemas = {kind: cls.schema() for kind, cls in kinds.items()}
    return merge_kinded(section, base, update, schemas, kind_key, carry_shared=section == "operators", trace=trace)


def merge_config(base: dict, update: dict | None, trace: Trace | None = None) -> dict:
    """Validates ``update`` against the schema and returns ``base`` with it applied (a new dict);
    ``trace`` records the settings it sets."""
    config = RunConfig.from_valid(base).to_dict()
    if update is None:
        return config
    if not isinstance(update, dict):
        raise ConfigError("<root>", f"a config is a mapping of sections, got {type(update).__name__}")
    for key, value in update.items():
        if key in SECTIONS:
            config[key] = _merged_section(key, config[key], value, trace)
        elif key in RunConfig.schema():
            config[key] = check_value(key, value, RunConfig.schema()[key])
            if trace is not None:
                trace.set("", [key])
        else:
            allowed = set(RunConfig.schema()) | set(SECTIONS)
            raise ConfigError(key_name(key), f"unknown section{suggest(str(key), allowed)}")
    return config


def resolve(*updates: dict | None) -> RunConfig:
    """The typed config: defaults, then each update in order (problem defaults, config file, overrides)."""
    return resolve_traced(*(("", update) for update in updates))[0]


def resolve_traced(*updates: tuple[str, dict | None]) -> tuple[RunConfig, dict[str, str]]:
    """``resolve`` of the labelled updates ``(label, update)``, and where each setting's value came
    from: dotted key (``train.steps``) -> the label of the last update that set it, or ``DEFAULT``."""
    config, trace = default_config(), Trace()
    for label, update in updates:
        trace.source = label
        config = merge_config(config, update, trace)
    origins = {key: trace.origins.get(key, DEFAULT) for key in _dotted_keys(config)}
    return RunConfig.from_valid(config), origins


def _dotted_keys(config: dict) -> list[str]:
    """The settings of a whole config mapping as dotted keys, in order (a section's keys after its name)."""
    keys = []
    for key, value in config.items():
        keys += [f"{key}.{inner}" for inner in value] if isinstance(value, dict) else [key]
    return keys


def resolve_config(*updates: dict | None) -> dict:
    """``resolve(*updates)`` as the plain mapping."""
    return resolve(*updates).to_dict()
