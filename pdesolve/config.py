"""Run configuration: defaults, schema, validation and ``--set key=value`` overrides.

A config is a nested dict with the sections below. Sections whose keys depend on a kind
(``model.type``, ``solver.name``) take their schema from ``MODEL_SCHEMAS`` / ``SOLVER_SCHEMAS``;
a new network or solver registers its keys there.
"""

import copy
import difflib
import math
import re
import reprlib
from pathlib import Path
from typing import Any

import yaml

from .errors import ConfigError

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

_OPTIMIZER = {
    "learning_rate": (_NUM, 1e-3),
    "schedule": ((str,), "cosine"),  # constant | cosine | exponential
    "end_factor": (_NUM, 0.05),  # final lr / initial lr for cosine and exponential
    "optimizer": ((str,), "adam"),  # adam | sgd | sign | momentum (EMA of the estimate)
    "momentum": (_NUM, 0.9),  # sgd momentum, or the EMA factor of ``momentum``
    "b1": (_NUM, 0.9),
    "b2": (_NUM, 0.999),
}
_RGE = {
    "samples": ((int,), 10),  # N random directions per step
    "mu": (_NUM, 0.01),  # perturbation size
    "directions": ((str,), "rademacher"),  # gaussian | rademacher
    "antithetic": ((bool,), True),
    "chunk_size": (_OPT_INT, None),  # perturbations per vectorised call
}
_CGE = {
    "mu": (_NUM, 0.1),
    "central": ((bool,), False),
    "block_size": (_OPT_INT, None),  # random coordinates per step (None: all)
    "chunk_size": (_OPT_INT, None),
}

SOLVER_SCHEMAS: dict[str, dict[str, tuple[tuple[type, ...], Any]]] = {
    "adam": {k: v for k, v in _OPTIMIZER.items() if k not in ("optimizer", "momentum")},
    "rge": {**_OPTIMIZER, **_RGE},
    "sign_rge": {**_OPTIMIZER, **_RGE, "optimizer": ((str,), "sign"), "mu": (_NUM, 0.1),
                 "directions": ((str,), "gaussian"), "schedule": ((str,), "constant")},
    "cge": {**_OPTIMIZER, **_CGE, "optimizer": ((str,), "momentum"), "schedule": ((str,), "constant")},
    "forward_gradient": {**_OPTIMIZER, "tangents": ((int,), 4), "combine": ((str,), "projection")},
    "hybrid": {
        "patience": ((int,), 5),  # validation checks without improvement before the switch
        "coarse_learning_rate": (_NUM, 1e-3),
        "coarse_mu": (_NUM, 0.1),
        "coarse_samples": ((int,), 10),
        "coarse_directions": ((str,), "gaussian"),
        "fine_learning_rate": (_NUM, 1e-3),
        "fine_mu": (_NUM, 0.1),
        "fine_block_size": (_OPT_INT, None),
        "momentum": (_NUM, 0.9),
        "chunk_size": (_OPT_INT, None),
    },
    "gauss_newton": {  # Levenberg-Marquardt on the residual vector (solvers/_gauss_newton.py)
        "jacobian": ((str,), "forward_difference"),  # forward_difference | central_difference | jvp | ad
        "initial_damping": (_NUM, 1e-3),  # first lambda, relative to trace(J^T J) / P
        "min_damping": (_NUM, 1e-12),  # lambda floor, same scale
        "scaling": ((str,), "identity"),  # identity | marquardt (diag(J^T J))
        "max_trials": ((int,), 8),  # damped solves per step with one Jacobian
        "difference_step": (_OPT_NUM, None),  # relative FD step (None: sqrt(eps) forward, eps^(1/3) central)
        "chunk_size": (_OPT_INT, 64),  # Jacobian columns per vectorised call (None: all at once)
    },
    "projection": {  # feasibility training (METHODS.md section 5); ZO keys drive hidden: zeroth_order
        **_OPTIMIZER, **_RGE,
        "algorithm": ((str,), "douglas_rachford"),  # douglas_rachford | alternating | cyclic
        "inner_iterations": ((int,), 50),  # projection sweeps per minibatch (hidden/output: projection)
        "relaxation": (_NUM, 0.5),  # Douglas-Rachford lam
        "hidden": ((str,), "zeroth_order"),  # zeroth_order | projection | fixed
        "output_layer": ((str,), "least_squares"),  # least_squares | projection
        "ridge": (_NUM, 1e-3),  # least-squares pull towards the previous read-out (x trace/size)
    },
}

SECTION_SCHEMAS: dict[str, dict[str, tuple[tuple[type, ...], Any]]] = {
    "operators": {
        "method": ((str,), "ad"),  # ad | fd | sg | se
        "sigma": (_NUM, 0.1),  # Stein smoothing scale
        "level": ((int,), 3),  # sparse-grid level
        "samples": ((int,), 1024),  # Monte Carlo Stein samples
        "step": (_OPT_NUM, None),  # finite-difference step (None: by precision, see operators.default_step)
        "coordinates": ((str, int), "all"),  # fd: all | k random coordinates per point (unbiased)
        "time": ((str,), "joint"),  # Stein time handling: joint | fd
        "chunk_size": (_OPT_INT, None),  # max points per vectorised call
    },
    "train": {
        "steps": ((int,), 2000),
        "batch_size": ((int,), 100),  # collocation points per step
        "boundary_batch_size": ((int,), 100),  # condition points per step (soft conditions)
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
    "train.sampler": ("uniform", "sobol", "halton"),
    "precision": ("float32", "float64"),
    "ansatz": ("auto", "soft"),
    "solver.schedule": ("constant", "cosine", "exponential"),
    "solver.optimizer": ("adam", "sgd", "sign", "momentum"),
    "solver.directions": ("gaussian", "rademacher"),
    "solver.coarse_directions": ("gaussian", "rademacher"),
    "solver.combine": ("plain", "projection"),
    "train.on_divergence": ("stop", "rollback"),
    "solver.jacobian": ("forward_difference", "central_difference", "jvp", "ad"),
    "solver.scaling": ("identity", "marquardt"),
}

# Bounds on numbers: field -> (lowest allowed, highest allowed or None, what to say).
RANGES = {
    "train.steps": (1, None, ">= 1"),
    "train.batch_size": (1, None, ">= 1"),
    "train.boundary_batch_size": (1, None, ">= 1"),
    "train.log_every": (1, None, ">= 1"),
    "train.validation_points": (1, None, ">= 1"),
    "train.checkpoint_every": (0, None, ">= 0 (0: no checkpoints)"),
    "train.max_rollbacks": (0, None, ">= 0"),
    "train.rollback_factor": (1e-6, 1 - 1e-6, "between 0 and 1 (exclusive)"),
    "train.time_budget": (1e-9, None, "> 0 seconds, or unset for no limit"),
    "solver.initial_damping": (0.0, None, ">= 0"),
    "solver.min_damping": (0.0, None, ">= 0"),
    "solver.max_trials": (1, None, ">= 1"),
    "solver.difference_step": (1e-15, 1.0, "between 1e-15 and 1, or unset (by precision)"),
}

# Bounds that keep a run buildable and within memory: out-of-range values are refused here, as
# validation errors, rather than failing inside JAX or the allocator.
MAX_WIDTH = 65_536  # units per hidden layer
MAX_LAYERS = 64
MAX_POINTS = 10_000_000  # validation points, samples per estimate
RANGES.update({
    "seed": (0, 2**32 - 1, "an integer from 0 to 4294967295"),
    "operators.level": (1, 8, "between 1 and 8 (nodes grow fast with the level; 3 is the reference)"),
    "operators.samples": (1, MAX_POINTS, f"between 1 and {MAX_POINTS}"),
    "operators.chunk_size": (1, None, ">= 1, or unset"),
    "train.validation_points": (1, MAX_POINTS, f"between 1 and {MAX_POINTS}"),
    "train.devices": (1, None, ">= 1, or unset (all local devices)"),
    "train.condition_weight": (0, None, ">= 0"),
    "solver.samples": (1, MAX_POINTS, f"between 1 and {MAX_POINTS}"),
    "solver.coarse_samples": (1, MAX_POINTS, f"between 1 and {MAX_POINTS}"),
    "solver.tangents": (1, MAX_POINTS, f"between 1 and {MAX_POINTS}"),
    "solver.chunk_size": (1, None, ">= 1, or unset"),
    "solver.block_size": (1, None, ">= 1, or unset (all coordinates)"),
    "solver.fine_block_size": (1, None, ">= 1, or unset (all coordinates)"),
    "solver.patience": (0, None, ">= 0"),
    "solver.inner_iterations": (1, None, ">= 1"),
    "solver.momentum": (0, 1 - 1e-12, "in [0, 1)"),
    "solver.b1": (0, 1 - 1e-12, "in [0, 1)"),
    "solver.b2": (0, 1 - 1e-12, "in [0, 1)"),
    "solver.ridge": (0, None, ">= 0"),
    "model.n_cores": (1, MAX_LAYERS, f"between 1 and {MAX_LAYERS}"),
})
# Numbers that must be > 0 (a zero or negative step size or scale is never meant).
POSITIVE = {"solver.learning_rate", "solver.coarse_learning_rate", "solver.fine_learning_rate", "solver.mu",
            "solver.coarse_mu", "solver.fine_mu", "solver.end_factor", "operators.sigma", "operators.step"}
CHOICES.update({
    "model.activation": ("gelu", "relu", "sin", "silu", "softplus", "tanh"),  # models.ACTIVATIONS (a test checks)
    "model.init": ("lecun", "siren"),
    "model.path": ("auto", "contract", "dense"),
})


def default_config() -> dict:
    """The built-in defaults: a dense tanh MLP trained by Adam with autodiff operators."""
    config: dict[str, Any] = {k: v for k, (_, v) in TOP_LEVEL.items()}
    config["model"] = {"type": "mlp", **{k: v for k, (_, v) in MODEL_SCHEMAS["mlp"].items()}}
    config["solver"] = {"name": "adam", **{k: v for k, (_, v) in SOLVER_SCHEMAS["adam"].items()}}
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


def _check_value(field: str, value: Any, types: tuple[type, ...]) -> Any:
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
    choices = CHOICES.get(field)
    if choices and value not in choices:
        raise ConfigError(field, f"unknown value {preview(value)}{_suggest(str(value)[:100], choices)}")
    if field == "model.widths":
        _check_widths(field, value)
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        if field in POSITIVE and not value > 0:
            raise ConfigError(field, f"must be > 0, got {value!r}")
        if field in RANGES:
            low, high, text = RANGES[field]
            if not (value >= low and (high is None or value <= high)):
                raise ConfigError(field, f"must be {text}, got {preview(value)}")
    return value


def _merge_section(field: str, base: dict, update: Any, schema: dict, kind_key: str | None = None) -> dict:
    if not isinstance(update, dict):
        raise ConfigError(field, f"expected a mapping, got {preview(update)}")
    merged = dict(base)
    for key, value in update.items():
        if key == kind_key:
            continue
        if key not in schema:
            raise ConfigError(f"{field}.{key_name(key)}", f"unknown key{_suggest(str(key)[:100], schema)}")
        merged[key] = _check_value(f"{field}.{key}", value, schema[key][0])
    return merged


def _merge_kinded(field: str, base: dict, update: Any, schemas: dict, kind_key: str) -> dict:
    if not isinstance(update, dict):
        raise ConfigError(field, f"expected a mapping, got {preview(update)}")
    kind = update.get(kind_key, base[kind_key])
    if not isinstance(kind, str) or kind not in schemas:
        raise ConfigError(f"{field}.{kind_key}", f"unknown {kind_key} {preview(kind)}{_suggest(str(kind)[:100], schemas)}")
    schema = schemas[kind]
    start = {kind_key: kind, **{k: v for k, (_, v) in schema.items()}}
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
            config["model"] = _merge_kinded("model", config["model"], value, MODEL_SCHEMAS, "type")
        elif key == "solver":
            config["solver"] = _merge_kinded("solver", config["solver"], value, SOLVER_SCHEMAS, "name")
        elif key in SECTION_SCHEMAS:
            config[key] = _merge_section(key, config[key], value, SECTION_SCHEMAS[key])
        elif key in TOP_LEVEL:
            config[key] = _check_value(key, value, TOP_LEVEL[key][0])
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
