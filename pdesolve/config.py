"""Run configuration: defaults, schema, validation and ``--set key=value`` overrides.

A config is a nested dict with the sections below. Sections whose keys depend on a kind take
their schema from ``MODEL_SCHEMAS`` (``model.type``) or from the solver's spec in the solver
registry (``solver.name``, see ``pdesolve.solvers.register_solver``).
"""

import copy
import difflib
import math
import re
import reprlib
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import yaml

from .errors import ConfigError
from .fields import MAX_POINTS, Field

# A YAML file is untrusted input: aliases (``*a``) may repeat a node many times over (a "billion
# laughs" file of 1 kB expands to 10^9 nodes), so a document is refused, before it is built, when
# its alias-expanded size exceeds these bounds. The node bound leaves room for a 100,000-entry vector.
MAX_YAML_NODES = 250_000
MAX_YAML_CHARS = 10_000_000  # characters of scalar text, aliases expanded


def _node_children(node: yaml.Node) -> list:
    if isinstance(node, yaml.MappingNode):
        return [part for pair in node.value for part in pair]
    return list(node.value) if isinstance(node, yaml.SequenceNode) else []


def check_expanded_size(root: yaml.Node) -> None:
    """Raises ``yaml.YAMLError`` when ``root`` with its aliases expanded holds more than
    ``MAX_YAML_NODES`` nodes or ``MAX_YAML_CHARS`` characters, or refers to itself. Each node is
    visited once (sizes are shared between aliases), so the check is linear in the file."""
    sizes: dict[int, tuple[int, int]] = {}
    open_nodes: set[int] = set()
    stack = [(root, False)]
    while stack:
        node, finish = stack.pop()
        if finish:
            parts = [sizes[id(child)] for child in _node_children(node)]
            nodes, chars = 1 + sum(p[0] for p in parts), sum(p[1] for p in parts)
            if nodes > MAX_YAML_NODES or chars > MAX_YAML_CHARS:
                raise yaml.composer.ComposerError(
                    None, None, f"the document expands through aliases (*name) to more than {MAX_YAML_NODES} "
                    f"values or {MAX_YAML_CHARS} characters; write the values out instead", node.start_mark)
            sizes[id(node)] = (nodes, chars)
            open_nodes.discard(id(node))
        elif id(node) in open_nodes:
            raise yaml.composer.ComposerError(None, None, "an alias (*name) refers to a node that contains it; "
                                              "a recursive value cannot be read", node.start_mark)
        elif id(node) not in sizes:
            if isinstance(node, yaml.ScalarNode):
                sizes[id(node)] = (1, len(node.value))
                continue
            open_nodes.add(id(node))
            stack.append((node, True))
            stack.extend((child, False) for child in _node_children(node))


class SafeLoader(yaml.SafeLoader):
    """PyYAML's safe loader, reading ``1e-3`` as a number (YAML 1.2) rather than the string '1e-3',
    refusing duplicate keys and documents that aliases expand beyond ``MAX_YAML_NODES``."""

    def construct_document(self, node):
        check_expanded_size(node)
        return super().construct_document(node)

    def construct_mapping(self, node, deep=False):
        if isinstance(node, yaml.MappingNode):
            seen = set()
            for key_node, _ in node.value:
                if key_node.tag == "tag:yaml.org,2002:merge":
                    continue  # '<<: *base' merges may be overridden by the keys after them
                key = self.construct_object(key_node, deep=True)
                try:
                    duplicate = key in seen
                    seen.add(key)
                except TypeError:  # an unhashable key: the base constructor refuses it
                    continue
                if duplicate:
                    raise yaml.constructor.ConstructorError(
                        None, None, f"found the key {reprlib.repr(key)} twice in one mapping; keep one "
                        "(YAML keys are unique)", key_node.start_mark)
        return super().construct_mapping(node, deep=deep)


SafeLoader.add_implicit_resolver(
    "tag:yaml.org,2002:float",
    re.compile(r"^[-+]?(?:[0-9][0-9_]*(?:\.[0-9_]*)?|\.[0-9_]+)[eE][-+]?[0-9]+$"),
    list("-+0123456789."),
)


def safe_load(text: str) -> Any:
    """``yaml.safe_load`` with :class:`SafeLoader` (no tags that construct Python objects).

    Every failure is a ``yaml.YAMLError``: PyYAML's own constructors raise other exceptions on
    some malformed tagged values (``!!timestamp 2001-12-14x``, ``!!int abc``).
    """
    try:
        return yaml.load(text, Loader=SafeLoader)  # noqa: S506 (a SafeLoader subclass)
    except (ValueError, TypeError, AttributeError, OverflowError) as err:
        raise yaml.constructor.ConstructorError(None, None, f"cannot read a tagged value ({err})") from None


# Each schema maps key -> (allowed types, default). ``None`` as a default means "unset".
_NUM = (int, float)
_OPT_INT = (int, type(None))
_OPT_NUM = (int, float, type(None))

MODEL_SCHEMAS: dict[str, dict[str, tuple[tuple[type, ...], Any]]] = {
    "mlp": {
        "widths": ((list,), [64, 64]),
        "activation": ((str,), "tanh"),
        "init": ((str,), "lecun"),
    },
    "tt_mlp": {  # defaults: the reference HJB network (docs/methods.md#tensor-train-layers), factors automatic
        "widths": ((list,), [512, 512]),
        "activation": ((str,), "sin"),
        "init": ((str,), "siren"),
        "rank": ((int, list), 2),  # one int, or one entry (int or L-1 ints) per TT layer
        "n_cores": ((int,), 4),  # L, when no factors are given
        "in_factors": ((list, type(None)), None),  # one factor list (or null: automatic) per TT layer
        "out_factors": ((list, type(None)), None),
        "dense_layers": ((list,), [-1]),  # layer indices kept dense; -1 is the read-out
        "path": ((str,), "auto"),  # TT forward: contract | dense | auto (by batch size)
    },
}


def _solver_fields() -> dict[str, Mapping[str, Field]]:
    """The registered solvers' fields by name (imported here: ``problem`` imports this module, and
    the solvers import ``problem`` through ``models``)."""
    from .solvers import solver_specs

    return {name: spec.fields for name, spec in solver_specs().items()}


class _SolverSchemas(Mapping):
    """``SOLVER_SCHEMAS[name]``: the registered solver's keys as ``key -> (types, default)``."""

    def __getitem__(self, name: str) -> dict[str, tuple[tuple[type, ...], Any]]:
        return {key: (field.types, field.default) for key, field in _solver_fields()[name].items()}

    def __iter__(self) -> Iterator[str]:
        return iter(_solver_fields())

    def __len__(self) -> int:
        return len(_solver_fields())


SOLVER_SCHEMAS: Mapping[str, dict[str, tuple[tuple[type, ...], Any]]] = _SolverSchemas()

SECTION_SCHEMAS: dict[str, dict[str, tuple[tuple[type, ...], Any]]] = {
    "operators": {
        "method": ((str,), "ad"),  # ad | fd | sg | se
        "sigma": (_NUM, 0.1),  # Stein smoothing scale
        "level": ((int,), 3),  # sparse-grid level
        "samples": ((int,), 1024),  # Monte Carlo Stein samples
        "step": (_OPT_NUM, None),  # finite-difference step (None: by precision, see operators.default_step)
        "coordinates": ((str, int), "all"),  # fd: all | k random coordinates per point (unbiased)
        "time": ((str,), "joint"),  # Stein time handling: joint | fd
        "smooth": ((str,), "network"),  # Stein: smooth the ansatz's network only | the whole solution
        "chunk_size": (_OPT_INT, None),  # max points per vectorised call
    },
    "train": {
        "steps": ((int,), 2000),
        "batch_size": ((int,), 100),  # collocation points per step
        "boundary_batch_size": ((int,), 100),  # condition points per step (soft conditions)
        "resample_every": ((int,), 1),  # steps on one batch before the next is drawn (1: a new batch each step)
        "condition_weight": (_NUM, 1.0),
        "sampler": ((str,), "uniform"),  # uniform | sobol | halton
        "log_every": ((int,), 100),
        "validation_points": ((int,), 1000),
        "target_rel_l2": (_OPT_NUM, None),  # stop once the validation error is below
        "progress": ((bool,), True),
        "devices": (_OPT_INT, None),  # local devices to shard points over (None: all)
        "checkpoint_every": ((int,), 1000),  # steps between checkpoints in the run folder (0: none)
        "on_divergence": ((str,), "stop"),  # stop | rollback (to the last good step, lower learning rate)
        "rollback_factor": (_NUM, 0.5),  # learning-rate factor applied at each rollback
        "max_rollbacks": ((int,), 3),  # rollbacks before the run stops
        "check_memory": ((bool,), True),  # refuse a run whose memory estimate exceeds the device's
        "time_budget": (_OPT_NUM, None),  # seconds of training (no compilation, no validation); None: none
    },
}

TOP_LEVEL: dict[str, tuple[tuple[type, ...], Any]] = {
    "seed": ((int,), 0),
    "precision": ((str,), "float32"),  # float32 | float64
    "ansatz": ((str,), "auto"),  # auto (exact conditions where possible) | soft
}

CHOICES = {
    "operators.method": ("ad", "auto", "fd", "sg", "se"),  # auto: operators.default_operators(d, precision)
    "operators.time": ("joint", "fd"),
    "operators.smooth": ("network", "solution"),
    "train.sampler": ("uniform", "sobol", "halton"),
    "precision": ("float32", "float64"),
    "ansatz": ("auto", "soft"),
    "train.on_divergence": ("stop", "rollback"),
}

# Bounds on numbers: field -> (lowest allowed, highest allowed or None, what to say).
RANGES = {
    "train.steps": (1, None, ">= 1"),
    "train.batch_size": (1, None, ">= 1"),
    "train.boundary_batch_size": (1, None, ">= 1"),
    "train.resample_every": (1, None, ">= 1 (1: a new batch every step)"),
    "train.log_every": (1, None, ">= 1"),
    "train.validation_points": (1, None, ">= 1"),
    "train.checkpoint_every": (0, None, ">= 0 (0: no checkpoints)"),
    "train.max_rollbacks": (0, None, ">= 0"),
    "train.rollback_factor": (1e-6, 1 - 1e-6, "between 0 and 1 (exclusive)"),
    "train.time_budget": (1e-9, None, "> 0 seconds, or unset for no limit"),
}

# Bounds that keep a run buildable and within memory: out-of-range values are refused here, as
# validation errors, rather than failing inside JAX or the allocator.
MAX_WIDTH = 65_536  # units per hidden layer
MAX_LAYERS = 64
RANGES.update({
    "seed": (0, 2**32 - 1, "an integer from 0 to 4294967295"),
    "operators.level": (1, 8, "between 1 and 8 (nodes grow fast with the level; 3 is the reference)"),
    "operators.samples": (1, MAX_POINTS, f"between 1 and {MAX_POINTS}"),
    "operators.chunk_size": (1, None, ">= 1, or unset"),
    "train.validation_points": (1, MAX_POINTS, f"between 1 and {MAX_POINTS}"),
    "train.devices": (1, None, ">= 1, or unset (all local devices)"),
    "train.condition_weight": (0, None, ">= 0"),
    "model.n_cores": (1, MAX_LAYERS, f"between 1 and {MAX_LAYERS}"),
})
# Numbers that must be > 0 (a zero or negative step size or scale is never meant).
POSITIVE = {"operators.sigma", "operators.step"}
CHOICES.update({
    "model.activation": ("gelu", "relu", "sin", "silu", "softplus", "tanh"),  # models.ACTIVATIONS (a test checks)
    "model.init": ("lecun", "siren"),
    "model.path": ("auto", "contract", "dense"),
})


def default_config() -> dict:
    """The built-in defaults: a dense tanh MLP trained by Adam with autodiff operators."""
    config: dict[str, Any] = {k: v for k, (_, v) in TOP_LEVEL.items()}
    config["model"] = {"type": "mlp", **{k: v for k, (_, v) in MODEL_SCHEMAS["mlp"].items()}}
    config["solver"] = {"name": "adam", **{k: field.default for k, field in _solver_fields()["adam"].items()}}
    for section, schema in SECTION_SCHEMAS.items():
        config[section] = {k: v for k, (_, v) in schema.items()}
    return copy.deepcopy(config)


def key_name(key: Any) -> str:
    """A key as it appears in an error's field: itself when it is a plain name, else its repr
    (so an empty key, or one holding a newline, still names the field on one line)."""
    plain = isinstance(key, str) and key.isprintable() and key.strip() == key and 0 < len(key) <= 100
    return key if plain else preview(key)


def _suggest(name: str, allowed) -> str:
    close = difflib.get_close_matches(name, list(allowed), n=1)
    hint = f" (did you mean {close[0]!r}?)" if close else ""
    return f"{hint}; allowed: {', '.join(sorted(allowed))}"


def preview(value: Any) -> str:
    """A value for an error message: its repr, shortened, however large or nested the value is."""
    text = _PREVIEW.repr(value)
    return text if len(text) <= 200 else text[:197] + "..."


_PREVIEW = reprlib.Repr()
_PREVIEW.maxstring = _PREVIEW.maxother = _PREVIEW.maxlong = 60
_PREVIEW.maxlist = _PREVIEW.maxdict = _PREVIEW.maxtuple = _PREVIEW.maxset = 6
_PREVIEW.maxlevel = 3


def _check_widths(field: str, value: list) -> None:
    if len(value) > MAX_LAYERS or not all(isinstance(w, int) and not isinstance(w, bool) and 1 <= w <= MAX_WIDTH
                                          for w in value):
        raise ConfigError(field, f"expected a list of at most {MAX_LAYERS} hidden-layer widths, each an integer "
                          f"from 1 to {MAX_WIDTH}, e.g. [64, 64]; got {preview(value)}")


def _fields(prefix: str, schema: dict[str, tuple[tuple[type, ...], Any]]) -> dict[str, Field]:
    """The keys of a ``key -> (types, default)`` schema as fields, with the checks that
    ``CHOICES``, ``RANGES`` and ``POSITIVE`` list for them (``prefix`` + key)."""
    return {key: Field(types, default, CHOICES.get(prefix + key), RANGES.get(prefix + key), prefix + key in POSITIVE)
            for key, (types, default) in schema.items()}


def _check_value(field: str, value: Any, spec: Field) -> Any:
    types = spec.types
    expected = "/".join(t.__name__ for t in types)
    if isinstance(value, bool) and bool not in types:
        raise ConfigError(field, f"expected {expected}, got {value!r}")
    if isinstance(value, int) and not isinstance(value, bool) and float in types and int not in types:
        if abs(value) > 1e300:
            raise ConfigError(field, f"{preview(value)} is out of range; give a number below 1e300")
        value = float(value)
    if not isinstance(value, types):
        raise ConfigError(field, f"expected {expected}, got {preview(value)}")
    if isinstance(value, float) and not math.isfinite(value):
        raise ConfigError(field, f"must be a finite number, got {value!r}")
    if spec.choices and value not in spec.choices:
        raise ConfigError(field, f"unknown value {preview(value)}{_suggest(str(value)[:100], spec.choices)}")
    if field == "model.widths":
        _check_widths(field, value)
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        if spec.positive and not value > 0:
            raise ConfigError(field, f"must be > 0, got {value!r}")
        if spec.bounds:
            low, high, text = spec.bounds
            if not (value >= low and (high is None or value <= high)):
                raise ConfigError(field, f"must be {text}, got {preview(value)}")
    return value


def _merge_section(field: str, base: dict, update: Any, schema: Mapping[str, Field], kind_key: str | None = None
                   ) -> dict:
    if not isinstance(update, dict):
        raise ConfigError(field, f"expected a mapping, got {preview(update)}")
    merged = dict(base)
    for key, value in update.items():
        if key == kind_key:
            continue
        if key not in schema:
            raise ConfigError(f"{field}.{key_name(key)}", f"unknown key{_suggest(str(key)[:100], schema)}")
        merged[key] = _check_value(f"{field}.{key}", value, schema[key])
    return merged


def _merge_kinded(field: str, base: dict, update: Any, schemas: Mapping[str, Mapping[str, Field]], kind_key: str
                  ) -> dict:
    if not isinstance(update, dict):
        raise ConfigError(field, f"expected a mapping, got {preview(update)}")
    kind = update.get(kind_key, base[kind_key])
    if not isinstance(kind, str) or kind not in schemas:
        raise ConfigError(f"{field}.{kind_key}",
                          f"unknown {kind_key} {preview(kind)}{_suggest(str(kind)[:100], schemas)}")
    schema = schemas[kind]
    start = {kind_key: kind, **{k: spec.default for k, spec in schema.items()}}
    if kind == base[kind_key]:  # keep earlier settings of the same kind
        start.update({k: v for k, v in base.items() if k in schema})
    return {kind_key: kind, **_merge_section(field, start, update, schema, kind_key)}


def merge_config(base: dict, update: dict | None) -> dict:
    """Validates ``update`` against the schema and returns ``base`` with it applied."""
    if update is None:
        return copy.deepcopy(base)
    if not isinstance(update, dict):
        raise ConfigError("<root>", f"a config is a mapping of sections, got {type(update).__name__}")
    config = copy.deepcopy(base)
    sections = set(SECTION_SCHEMAS) | {"model", "solver"} | set(TOP_LEVEL)
    for key, value in update.items():
        if key == "model":
            models = {kind: _fields("model.", schema) for kind, schema in MODEL_SCHEMAS.items()}
            config["model"] = _merge_kinded("model", config["model"], value, models, "type")
        elif key == "solver":
            config["solver"] = _merge_kinded("solver", config["solver"], value, _solver_fields(), "name")
        elif key in SECTION_SCHEMAS:
            config[key] = _merge_section(key, config[key], value, _fields(f"{key}.", SECTION_SCHEMAS[key]))
        elif key in TOP_LEVEL:
            config[key] = _check_value(key, value, _fields("", TOP_LEVEL)[key])
        else:
            raise ConfigError(key_name(key), f"unknown section{_suggest(str(key), sections)}")
    return config


def parse_override(text: str) -> dict:
    """``'train.steps=200'`` -> ``{'train': {'steps': 200}}``; the value is read as YAML (safely)."""
    if "=" not in text:
        raise ConfigError(text, "an override is KEY=VALUE, e.g. train.steps=2000")
    path, raw = text.split("=", 1)
    try:
        value = safe_load(raw) if raw.strip() else None
    except yaml.YAMLError:
        value = raw
    keys = path.strip().split(".")
    if not all(keys):
        raise ConfigError(path, "an override key is dotted names, e.g. operators.method=sg")
    nested: Any = value
    for key in reversed(keys):
        nested = {key: nested}
    return nested


def load_config_file(path: str | Path) -> dict:
    """Reads a YAML config file (safe loader) as a raw mapping, not yet validated."""
    path = Path(path)
    if not path.is_file():
        raise ConfigError(str(path), "config file not found; `pdesolve list` shows the shipped configs")
    try:
        data = safe_load(path.read_text())
    except yaml.YAMLError as err:
        raise ConfigError(str(path), f"not valid YAML: {str(err).splitlines()[0]}") from None
    return data or {}


def resolve_config(*updates: dict | None) -> dict:
    """Defaults, then each update in order (problem defaults, config file, overrides)."""
    config = default_config()
    for update in updates:
        config = merge_config(config, update)
    return config
