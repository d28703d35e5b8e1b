"""Untrusted input: thousands of random and mutated problem files and configs.

Each input starts from a shipped problem (``problems/*.yaml``) or config (``configs/*.yaml`` and
the problems' ``config:`` sections) and gets keys renamed or dropped, values replaced by other
types, numbers or code payloads, and expressions spliced with tokens; or it is raw text, mutated
character by character. Every input must give a valid problem (which then compiles) or config, or
a one-line ``PdesolveError`` naming a field: never another exception, never more than
``TIME_LIMIT`` seconds, never code execution (a canary file that every payload would create,
and an audit hook that sees any exec/eval, os.system or subprocess).

The default suite runs ``N_DEFAULT`` inputs of each kind (mappings and text, for problems and
for configs); ``-m slow`` runs ``N_SLOW`` more of each.
"""

import copy
import signal
import sys
import time
from pathlib import Path

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pdesolve.config import (
    MODEL_KINDS,
    OPERATOR_KINDS,
    RunConfig,
    TrainConfig,
    load_config_file,
    parse_override,
    resolve_config,
    solver_fields,
)
from pdesolve.errors import PdesolveError
from pdesolve.problem import Problem, compile_problem, load_problem
from pdesolve.safe_yaml import safe_load

ROOT = Path(__file__).resolve().parent.parent
PROBLEM_TEXTS = {p.name: p.read_text() for p in sorted((ROOT / "problems").glob("*.yaml"))}
PROBLEMS = {name: safe_load(text) for name, text in PROBLEM_TEXTS.items()}
CONFIGS = {p.name: safe_load(p.read_text()) for p in sorted((ROOT / "configs").glob("*.yaml"))}
CONFIGS |= {f"{name}:config": data["config"] for name, data in PROBLEMS.items() if data.get("config")}
CONFIG_TEXTS = {p.name: p.read_text() for p in sorted((ROOT / "configs").glob("*.yaml"))}
N_DEFAULT = {"problems": 400, "configs": 1500}  # 3800 inputs, about 60 s on two busy shared cores
N_SLOW = {"problems": 2500, "configs": 3000}  # about 11000 more
TIME_LIMIT = 5.0  # seconds per input; measured maximum is far below (see the printed summary)

CANARY = Path(f"/tmp/pdesolve-fuzz-canary-{id(ROOT)}")
PAYLOADS = [
    f"__import__('os').system('touch {CANARY}')",
    f"open('{CANARY}', 'w').write('ran')",
    f"exec(\"open('{CANARY}', 'w')\")",
    f"eval(\"open('{CANARY}', 'w')\")",
    "().__class__.__base__.__subclasses__()",
    f"(lambda: open('{CANARY}', 'w'))()",
    f"[open('{CANARY}', 'w') for _ in (1,)]",
    f"x[1].__class__.__init__.__globals__['os'].system('touch {CANARY}')",
    f"sympify(\"open('{CANARY}', 'w')\")",
    f"Symbol('a').func(\"open('{CANARY}', 'w')\")",
    "9**9**9**9",
    "10**10**10",
    "x[1]**x[1]**x[1]**x[1]**99",
    "(" * 200 + "1" + ")" * 200,
    "-" * 5000 + "1",
    "Sum(x[i], (i, 1, 10**12))",
    "Sum(Sum(x[i]*x[j], (j, 1, d)), (i, 1, d))",
    "exp(exp(exp(1000)))",
    "Piecewise((1, x[1] < 0))",
    "floor(1e308*10)",
    "sign(0)/0",
    "1/(1-1)",
    "log(0)",
    "x[0]",
    "x[-1]",
    "x[d+1]",
    "x[1.5]",
    "u_x",
    "lap_u[1]",
    "x",
    "1 if x[1] else 2",
    "a := 1",
    "f'{x}'",
    "'text'",
    "b'bytes'",
    "...",
    "x[1] < x[2] < x[3]",
    "not x[1]",
    "True",
    "None",
    "[1, 2]",
    "{1: 2}",
    "*x",
    "x[1]; x[2]",
    "\x00",
    "é",
]
PAYLOAD_YAML = [
    f"!!python/object/apply:os.system ['touch {CANARY}']",
    f"!!python/object/apply:builtins.exec [\"open('{CANARY}', 'w')\"]",
    "!!python/name:os.system",
    "!!python/module:os",
    "!!binary aGVsbG8=",
    "&a [*a]",
    "!!set {a, b}",
    "!!timestamp 2001-12-14",
    "!!timestamp 2001-12-14x",
    "!!timestamp 2001-13-45",
    "!!int abc",
    "!!float x",  # crashed PyYAML once
]
TOKENS = [
    "x[1]",
    "x[i]",
    "u",
    "u_t",
    "lap_u",
    "grad_u_sq",
    "u_x[1]",
    "u_xx[2]",
    "d",
    "t",
    "pi",
    "E",
    "mu",
    "+",
    "-",
    "*",
    "/",
    "**",
    "(",
    ")",
    "[",
    "]",
    ",",
    "=",
    "==",
    "<",
    "and",
    "or",
    "1e308",
    "0",
    "-1",
    "Sum(",
    "(i, 1, d)",
    "vsum(x)",
    "sqnorm(",
    "norm(",
    "dot(x, u_x)",
    "sin(",
    "exp(",
    "log(",
    "Piecewise(",
    "Min(",
    "Abs(",
    "__import__",
    ".",
    "lambda",
    "os",
    "_",
    "'",
    '"',
    "\\",
    "#",
    ":",
]

_ARMED = [False]
_EVENTS: list[tuple] = []
_WATCHED = (
    "exec",
    "os.system",
    "os.exec",
    "os.posix_spawn",
    "os.spawn",
    "subprocess.Popen",
    "ctypes.dlopen",
    "pty.spawn",
)


def _audit(event, args):
    if not (_ARMED[0] and event.startswith(_WATCHED)):
        return
    code = args[0] if event == "exec" and args else None
    if code is not None and code.co_name == "<module>" and Path(code.co_filename).is_file():
        return  # a library importing one of its modules lazily, not code from the input
    if code is not None and any(getattr(c, "co_name", None) == "__create_fn__" for c in code.co_consts):
        return  # dataclasses writing a method of a config class made on first use, not code from the input
    _EVENTS.append((event, repr(args)[:200]))


sys.addaudithook(_audit)


class _TooSlow(Exception):
    pass


def _alarm(signum, frame):
    raise _TooSlow


def _guarded(fn, *args):
    """Runs ``fn(*args)`` with the canary armed and an alarm; returns (result or error, seconds)."""
    old = signal.signal(signal.SIGALRM, _alarm)
    signal.alarm(int(TIME_LIMIT * 4))
    _ARMED[0] = True
    start = time.process_time()  # CPU seconds: the bound holds whatever else the machine runs
    try:
        try:
            return fn(*args), time.process_time() - start
        except PdesolveError as err:
            return err, time.process_time() - start
    finally:
        _ARMED[0] = False
        signal.alarm(0)
        signal.signal(signal.SIGALRM, old)


def _check_outcome(outcome, seconds: float, what):
    assert seconds < TIME_LIMIT, f"{seconds:.2f} s on {what!r:.300}"
    assert not _EVENTS, _EVENTS
    assert not CANARY.exists()
    if isinstance(outcome, PdesolveError):
        message = str(outcome)
        assert message and "\n" not in message, message
        assert outcome.field and outcome.field in message, message
        return "error"
    return "valid"


# --- mutation ----------------------------------------------------------------------------------


def _paths(tree, prefix=()):
    """Every (path, value) in a nested dict/list tree, the root included."""
    yield prefix, tree
    if isinstance(tree, dict):
        for key, value in tree.items():
            yield from _paths(value, (*prefix, key))
    elif isinstance(tree, list):
        for i, value in enumerate(tree):
            yield from _paths(value, (*prefix, i))


def _get(tree, path):
    for key in path:
        tree = tree[key]
    return tree


def _typo(data, word: str) -> str:
    if not word:
        return data.draw(st.sampled_from(TOKENS))
    i = data.draw(st.integers(0, len(word) - 1))
    kind = data.draw(st.sampled_from(["drop", "swap", "insert", "case"]))
    if kind == "drop":
        return word[:i] + word[i + 1 :]
    if kind == "swap" and i + 1 < len(word):
        return word[:i] + word[i + 1] + word[i] + word[i + 2 :]
    if kind == "case":
        return word[:i] + word[i].swapcase() + word[i + 1 :]
    return word[:i] + data.draw(st.sampled_from("abcxyz_0[](). *")) + word[i:]


def _splice(data, text: str) -> str:
    """An expression with tokens inserted, deleted or replaced."""
    for _ in range(data.draw(st.integers(1, 3))):
        i = data.draw(st.integers(0, len(text)))
        j = data.draw(st.integers(i, min(len(text), i + 6)))
        text = text[:i] + data.draw(st.sampled_from(["", *TOKENS])) + text[j:]
    return text


SCALARS = st.one_of(
    st.integers(-(2**70), 2**70),
    st.sampled_from([0, -1, 1, 2**31, 10**6, 10**12]),
    st.floats(allow_nan=True, allow_infinity=True),
    st.booleans(),
    st.none(),
    st.text(max_size=30),
    st.sampled_from(PAYLOADS),
)
VALUES = st.recursive(
    SCALARS,
    lambda inner: st.one_of(st.lists(inner, max_size=4), st.dictionaries(st.text(max_size=8), inner, max_size=3)),
    max_leaves=8,
)


def _mutate(data, doc):
    doc = copy.deepcopy(doc)
    for _ in range(data.draw(st.integers(1, 4))):
        paths = [p for p, _ in _paths(doc)]
        path = data.draw(st.sampled_from(paths))
        value = _get(doc, path)
        kind = data.draw(st.sampled_from(["value", "value", "expression", "type", "drop", "rename", "add"]))
        parent = _get(doc, path[:-1]) if path else None
        if not path:  # the root: replace it now and then, else add a key
            if kind == "value":
                doc = data.draw(VALUES)
            elif isinstance(doc, dict):
                doc[data.draw(st.text(max_size=10))] = data.draw(VALUES)
            continue
        key = path[-1]
        if kind == "value":
            parent[key] = data.draw(VALUES)
        elif kind == "expression":
            parent[key] = _splice(data, value if isinstance(value, str) else str(value))
        elif kind == "type":
            parent[key] = data.draw(st.sampled_from([str(value), [value], {"v": value}, None]))
        elif kind == "drop":
            del parent[key]
        elif kind == "rename" and isinstance(parent, dict):
            parent[_typo(data, str(key))] = parent.pop(key)
        elif kind == "add" and isinstance(value, dict):
            value[data.draw(st.sampled_from([_typo(data, str(k)) for k in value] or ["k"]))] = data.draw(VALUES)
    return doc


def _mutate_text(data, text: str) -> str:
    for _ in range(data.draw(st.integers(1, 5))):
        i = data.draw(st.integers(0, len(text)))
        j = data.draw(st.integers(i, min(len(text), i + 20)))
        insert = data.draw(
            st.one_of(
                st.text(max_size=10), st.sampled_from(["\n", ": ", "- ", "{", "}", "[", "'", *PAYLOAD_YAML, *TOKENS])
            )
        )
        text = text[:i] + insert + text[j:]
    return text


# --- problems ----------------------------------------------------------------------------------


def _problem_from_text(path: Path, text: str):
    path.write_text(text, encoding="utf-8", errors="surrogatepass")
    problem = load_problem(path)
    assert isinstance(problem, Problem)
    compile_problem(problem)
    return problem


def _dump(doc) -> str:
    return yaml.safe_dump(doc, allow_unicode=True)


def _run_problems(tmp_path, n, mode):
    path, outcomes, times = tmp_path / "fuzz.yaml", [], []

    @settings(max_examples=n, deadline=None, database=None, derandomize=False, suppress_health_check=list(HealthCheck))
    @given(st.data())
    def run(data):
        name = data.draw(st.sampled_from(sorted(PROBLEMS)))
        if mode.startswith("mapping"):
            try:
                text = _dump(_mutate(data, PROBLEMS[name]))
            except (UnicodeEncodeError, yaml.YAMLError):
                return
        else:
            text = _mutate_text(data, PROBLEM_TEXTS[name])
        try:
            text.encode("utf-8")
        except UnicodeEncodeError:
            text = text.encode("utf-8", "replace").decode("utf-8")
        outcome, seconds = _guarded(_problem_from_text, path, text)
        outcomes.append(_check_outcome(outcome, seconds, text))
        times.append(seconds)

    run()
    _summary(f"problems/{mode}", outcomes, times, n)


# --- configs -----------------------------------------------------------------------------------


def _section_schemas(config: dict) -> dict:
    """The schema of each section of a resolved config, for the section's kind."""
    return {
        "model": MODEL_KINDS[config["model"]["type"]].schema(),
        "solver": solver_fields()[config["solver"]["name"]],
        "operators": OPERATOR_KINDS[config["operators"]["method"]].schema(),
        "train": TrainConfig.schema(),
    }


def _check_valid_config(config: dict):
    """A resolved config holds exactly the schema's keys with values of the schema's types and choices."""
    for section, schema in _section_schemas(config).items():
        kind = {"model": {"type"}, "solver": {"name"}, "operators": {"method"}}.get(section, set())
        assert set(config[section]) == set(schema) | kind, section
        for key, field in schema.items():
            value, types = config[section][key], field.types
            assert isinstance(value, types) and not (isinstance(value, bool) and bool not in types), (section, key)
            assert value in (field.choices or (value,))
    for key, field in RunConfig.schema().items():
        assert isinstance(config[key], field.types)


def _config_from(doc, overrides):
    config = resolve_config(doc, *[parse_override(o) for o in overrides])
    _check_valid_config(config)
    return config


def _config_from_text(path: Path, text: str):
    path.write_text(text, encoding="utf-8")
    config = resolve_config(load_config_file(path))
    _check_valid_config(config)
    return config


KEYS = sorted(
    {f"train.{k}" for k in TrainConfig.schema()}
    | {"operators.method"}
    | {f"operators.{k}" for kind in OPERATOR_KINDS.values() for k in kind.schema()}
    | {f"model.{k}" for kind in MODEL_KINDS.values() for k in kind.schema()}
    | {f"solver.{k}" for fields in solver_fields().values() for k in fields}
    | set(RunConfig.schema())
)


def _run_configs(tmp_path, n, mode):
    path, outcomes, times = tmp_path / "fuzz_config.yaml", [], []

    @settings(max_examples=n, deadline=None, database=None, suppress_health_check=list(HealthCheck))
    @given(st.data())
    def run(data):
        if mode == "mapping":
            doc = _mutate(data, CONFIGS[data.draw(st.sampled_from(sorted(CONFIGS)))])
            values = st.one_of(st.text(max_size=12), st.sampled_from(PAYLOADS + PAYLOAD_YAML))
            overrides = [
                f"{_typo(data, k) if data.draw(st.booleans()) else k}={data.draw(values)}"
                for k in data.draw(st.lists(st.sampled_from(KEYS), max_size=3))
            ]
            outcome, seconds = _guarded(_config_from, doc, overrides)
            what = (doc, overrides)
        else:
            text = _mutate_text(data, CONFIG_TEXTS[data.draw(st.sampled_from(sorted(CONFIG_TEXTS)))])
            text = text.encode("utf-8", "replace").decode("utf-8")
            outcome, seconds = _guarded(_config_from_text, path, text)
            what = text
        outcomes.append(_check_outcome(outcome, seconds, what))
        times.append(seconds)

    run()
    _summary(f"configs/{mode}", outcomes, times, n)


# --- hostile YAML: alias bombs, duplicate keys, NaN/inf and wrong types in every leaf -------------

N_HOSTILE = {"default": 100, "slow": 2500}  # per kind (problems, configs)
LEAF_VALUES = [
    float("nan"),
    float("inf"),
    float("-inf"),
    1e308,
    -1e308,
    -1,
    0,
    2**63,
    10**400,
    1e-320,
    "abc",
    "",
    [1],
    [],
    {},
    {"a": 1},
    None,
    True,
    "1e12",
    1e12,
    -(2**31),
]
MAX_MESSAGE = 2000  # characters: a refused value is shown shortened, never whole


def _bomb_text(data) -> str:
    """An inline billion-laughs value: up to 10 levels of up to 10 aliases of the level before."""
    levels, width = data.draw(st.integers(1, 10)), data.draw(st.integers(1, 10))
    parts = [f"&l0 [{', '.join(['lol'] * width)}]"]
    parts += [f"&l{i} [{', '.join([f'*l{i - 1}'] * width)}]" for i in range(1, levels)]
    return f"[{', '.join(parts)}]" if data.draw(st.booleans()) else f"{{k: [{', '.join(parts)}], v: *l{levels - 1}}}"


def _hostile_text(data, doc) -> str:
    """``doc`` with one leaf (a number where there is one) set to a hostile value, or a bomb in
    any field, dumped as YAML; now and then a top-level key is repeated."""
    doc = copy.deepcopy(doc)
    paths = [p for p, _ in _paths(doc) if p]
    numeric = [p for p in paths if isinstance(_get(doc, p), (int, float)) and not isinstance(_get(doc, p), bool)]
    path = data.draw(st.sampled_from(numeric if numeric and data.draw(st.booleans()) else paths))
    bomb = data.draw(st.booleans())
    _get(doc, path[:-1])[path[-1]] = "BOMB_HERE" if bomb else data.draw(st.sampled_from(LEAF_VALUES))
    text = _dump(doc)
    if bomb:
        text = text.replace("BOMB_HERE", _bomb_text(data))
    lines = [line for line in text.splitlines() if line and not line.startswith((" ", "-"))]
    if lines and data.draw(st.integers(0, 3)) == 0:
        text += "\n" + data.draw(st.sampled_from(lines)) + "\n"
    return text


def _run_hostile(tmp_path, n, kind):
    import resource

    path, outcomes, times = tmp_path / "hostile.yaml", [], []
    start_rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # KiB on Linux

    @settings(max_examples=n, deadline=None, database=None, suppress_health_check=list(HealthCheck))
    @given(st.data())
    def run(data):
        docs = PROBLEMS if kind == "problems" else CONFIGS
        doc = docs[data.draw(st.sampled_from(sorted(docs)))]
        try:
            text = _hostile_text(data, doc)
        except (yaml.YAMLError, OverflowError):
            return
        load = _problem_from_text if kind == "problems" else _config_from_text
        outcome, seconds = _guarded(load, path, text)
        outcomes.append(_check_outcome(outcome, seconds, text))
        assert len(str(outcome)) < MAX_MESSAGE or outcomes[-1] == "valid", str(outcome)[:300]
        times.append(seconds)

    run()
    grown = (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - start_rss) / 2**20
    assert grown < 1.0, f"peak memory grew by {grown:.2f} GiB"
    _summary(f"hostile {kind}", outcomes, times, n)


@pytest.mark.parametrize("kind", ["problems", "configs"])
def test_hostile_yaml(tmp_path, kind):
    _run_hostile(tmp_path, N_HOSTILE["default"], kind)


@pytest.mark.slow
@pytest.mark.parametrize("kind", ["problems", "configs"])
def test_hostile_yaml_many(tmp_path, kind):
    _run_hostile(tmp_path, N_HOSTILE["slow"], kind)


def _summary(label, outcomes, times, n):
    assert len(outcomes) >= 0.9 * n, (label, len(outcomes))
    print(
        f"\n[fuzz] {label}: {len(outcomes)} inputs, {outcomes.count('valid')} valid, "
        f"{outcomes.count('error')} errors; mean {1e3 * sum(times) / len(times):.1f} ms, "
        f"max {1e3 * max(times):.0f} ms per input"
    )


@pytest.fixture(autouse=True)
def _no_canary():
    CANARY.unlink(missing_ok=True)
    _EVENTS.clear()
    yield
    assert not CANARY.exists() and not _EVENTS


def test_the_canary_sees_code_that_runs():
    """The canary is live: running one payload creates the file and the audit hook records it."""
    _ARMED[0] = True
    try:
        eval(PAYLOADS[1])  # the point of the test
        eval(compile("1", "<x>", "eval"))
    finally:
        _ARMED[0] = False
    assert CANARY.exists() and any(event == "exec" for event, _ in _EVENTS)
    CANARY.unlink()
    _EVENTS.clear()
    with pytest.raises(yaml.constructor.ConstructorError):  # the YAML payloads need the unsafe loader
        safe_load(PAYLOAD_YAML[0])


@pytest.mark.parametrize("mode", ["mapping", "text"])
def test_mutated_problem_files(tmp_path, mode):
    _run_problems(tmp_path, N_DEFAULT["problems"], mode)


@pytest.mark.parametrize("mode", ["mapping", "text"])
def test_mutated_configs_and_overrides(tmp_path, mode):
    _run_configs(tmp_path, N_DEFAULT["configs"], mode)


@pytest.mark.slow
@pytest.mark.parametrize("mode", ["mapping", "text"])
def test_mutated_problem_files_many(tmp_path, mode):
    _run_problems(tmp_path, N_SLOW["problems"], mode)


@pytest.mark.slow
@pytest.mark.parametrize("mode", ["mapping", "text"])
def test_mutated_configs_and_overrides_many(tmp_path, mode):
    _run_configs(tmp_path, N_SLOW["configs"], mode)
