"""Issue 40: every resource bounded before it is allocated, every bad input a clean refusal (exit 2),
a full disk without a crash. ``pdesolve check`` runs in process (``cli.main``)."""

import contextlib
import errno
import io
import re
import time
from pathlib import Path

import pytest
import sympy as sp
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import pdesolve
from benchmarks import reliability
from pdesolve import cli, limits, resources
from pdesolve.safe_yaml import MAX_YAML_DEPTH, MAX_YAML_NODES, safe_load

ROOT = Path(__file__).resolve().parent.parent
POISSON = ROOT / "tests/data/poisson2d_ad.yaml"
HEAT_MC = ROOT / "problems/heat_mc10.yaml"
GIB = 2.0**30


def _cli(*args):
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = cli.main([str(a) for a in args])
    return code, out.getvalue(), err.getvalue()


def _refused(code, err, field):
    assert code == 2 and len(err.strip().splitlines()) == 1 and field in err, (code, err)


def _problem(tmp_path, base=POISSON, **edits) -> Path:
    """``base`` with dotted ``edits`` (``evaluation__points=...``) applied, written to ``tmp_path``."""
    data = yaml.safe_load(base.read_text())
    for key, value in edits.items():
        node, *path, last = [data, *key.split("__")]
        for part in path:
            node = node.setdefault(part, {})
        node[last] = value
    path = tmp_path / f"p{len(list(tmp_path.iterdir()))}.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return path


# --- 1: input errors are exit 2 -------------------------------------------------------------------


def _files(tmp_path):
    (tmp_path / "latin1.yaml").write_bytes("train: {steps: 10}  # caf\xe9\n".encode("latin-1"))
    (tmp_path / "binary.yaml").write_bytes(bytes(range(256)))
    (tmp_path / "deep.yaml").write_text("train: " + "[" * 5000 + "]" * 5000)


@pytest.mark.parametrize(
    "args, field",
    [
        (["--set", "model.widths=[]"], "model.widths"),
        (["--set", "train.steps=" + "[" * 3000 + "]" * 3000], "train.steps"),
        (["--param", "a=" + "[" * 3000 + "]" * 3000], "--param a"),
        (["--set", "operators.method=fd", "--set", "operators.step=1e308"], "operators.step"),
        (["--set", "operators.method=se", "--set", "operators.sigma=1e308"], "operators.sigma"),
        (["--set", f"train.steps={10**30}"], "train.steps"),
        (["--config", "{tmp}/latin1.yaml"], "not UTF-8"),
        (["--config", "{tmp}/binary.yaml"], "not UTF-8"),
        (["--config", "{tmp}/deep.yaml"], "nested deeper"),
        (["--config", "/proc/self/mem"], "cannot be read"),
        (["--config", "{tmp}/" + "a" * 300], "the file system allows 255"),
    ],
)
def test_bad_input_is_a_one_line_exit_2(tmp_path, args, field):
    _files(tmp_path)
    code, _, err = _cli("check", POISSON, *[a.replace("{tmp}", str(tmp_path)) for a in args])
    _refused(code, err, field)


@pytest.mark.parametrize("out", ["a" * 300, "/".join(["b" * 200] * 30)])
def test_an_out_path_longer_than_the_file_system_allows_is_refused_first(tmp_path, out):
    code, _, err = _cli("solve", POISSON, "--quiet", "--out", tmp_path / out)
    _refused(code, err, "--out")
    assert not any(tmp_path.iterdir())


def test_path_too_long_follows_the_file_systems_limits(tmp_path):
    assert limits.path_too_long(tmp_path / ("a" * 255)) is None
    assert "255" in limits.path_too_long(tmp_path / ("a" * 256))
    assert "choose a shorter path" in limits.path_too_long(tmp_path / "/".join(["b" * 200] * 21))
    assert limits.path_too_long(tmp_path / "x", below=5000) is not None


def test_a_failing_python_problem_module_is_a_problem_error():
    code, _, err = _cli("check", ROOT / "pdesolve/cli.py")  # a relative import: fails when run alone
    _refused(code, err, "ImportError")


# --- 4: YAML bounds are met early ---------------------------------------------------------------


def _bomb(width: int, levels: int) -> str:
    return f"a: {reliability._bomb(width, levels)}\n"


def test_nesting_is_bounded_at_the_stated_depth():
    assert safe_load("[" * MAX_YAML_DEPTH + "]" * MAX_YAML_DEPTH) is not None
    for text in (
        "[" * (MAX_YAML_DEPTH + 1) + "]" * (MAX_YAML_DEPTH + 1),
        "a:\n"
        + "".join(f"{' ' * (i + 1)}b{i}:\n" for i in range(MAX_YAML_DEPTH + 1))
        + " " * (MAX_YAML_DEPTH + 2)
        + "1",
    ):
        with pytest.raises(yaml.YAMLError, match="nested"):
            safe_load(text)


def test_alias_expansion_is_counted_while_loading():
    """Just under the bound loads with the expansion it describes (width^2 leaves, shared); just
    over is refused in well under a second (nothing is expanded)."""
    under = safe_load(_bomb(499, 2))["a"]
    assert len(under) == 499 and all(len(row) == 499 for row in under)
    assert 1 + 500 + 500 * 499 > MAX_YAML_NODES >= 1 + 499 + 499 * 499
    for text in (_bomb(500, 2), _bomb(2, 30), _bomb(10, 9)):
        start = time.process_time()  # CPU seconds, independent of the machine's load
        with pytest.raises(yaml.YAMLError, match="aliases"):
            safe_load(text)
        assert time.process_time() - start < 1.0


# --- 1: the resource model ----------------------------------------------------------------------


@pytest.fixture
def small_memory(monkeypatch):
    """An 8 GiB machine, whatever this one has."""
    memory = (8 * GIB, "test memory")
    monkeypatch.setattr(resources, "device_memory", lambda: memory)
    monkeypatch.setattr(limits, "device_memory", lambda: memory)
    return memory


def _fitting(err: str, field: str) -> int:
    return int(re.search(rf"set {re.escape(field)} to at most (\d+)", err).group(1))


@pytest.mark.parametrize(
    "base, edits, field",
    [
        (POISSON, {"evaluation__points": 60_000_000}, "evaluation.points"),
        (HEAT_MC, {"evaluation__slice": {"points": 4096, "times": 1000}}, "evaluation.slice.points"),
        (HEAT_MC, {"reference__monte_carlo__paths": 10**9}, "reference.monte_carlo.paths"),
    ],
)
def test_problem_resources_are_refused_with_a_value_that_fits(tmp_path, small_memory, base, edits, field):
    code, _, err = _cli("check", _problem(tmp_path, base, **edits))
    _refused(code, err, field)
    fits = _fitting(err, field)
    key, value = next(iter(edits.items()))
    value = {**value, "points": fits} if isinstance(value, dict) else fits
    code, out, err = _cli("check", _problem(tmp_path, base, **{key: value}))
    assert code == 0 and out.strip().endswith("ok"), err


@pytest.mark.parametrize(
    "item, field, rebuilt",
    [
        ("model.widths=[65536, 65536, 65536]", "model.widths", "model.widths=[{n}, {n}, {n}]"),
        ("train.boundary_batch_size=1000000000", "train.boundary_batch_size", "train.boundary_batch_size={n}"),
    ],
)
def test_config_resources_are_refused_with_a_value_that_fits(small_memory, monkeypatch, item, field, rebuilt):
    built = []
    with monkeypatch.context() as patch:
        if field == "model.widths":  # refused before the network is allocated
            patch.setattr(pdesolve.run._build, "build_network", lambda *a, **k: built.append(1) / 0)
        code, _, err = _cli("check", POISSON, "--set", item)
    _refused(code, err, field)
    assert not built
    code, _out, err = _cli("check", POISSON, "--set", rebuilt.format(n=_fitting(err, field)))
    assert code == 0, err


def test_check_memory_false_overrides_the_model_knowingly(tmp_path, small_memory):
    path = _problem(tmp_path, evaluation__points=60_000_000)
    assert _cli("check", path)[0] == 2
    code, out, err = _cli("check", path, "--set", "train.check_memory=false")
    assert code == 0 and "ok" in out, err


def test_expression_terms_count_the_expanded_sums():
    """The broadcast grid of nested sums and products, against the terms (factors) of sympy's own
    expansion of the same reductions."""
    x, y = sp.IndexedBase("x"), sp.IndexedBase("y")
    i, j = sp.symbols("i j", integer=True)
    for expr in (
        sp.Sum(sp.Sum(x[i] * y[j], (i, 1, 3)), (j, 1, 4)),
        sp.Sum(x[i] ** 2, (i, 1, 7)),
        sp.Product(x[i], (i, 1, 5)),
    ):
        assert resources.expression_terms(expr) == len(sp.expand(expr.doit()).args), expr
    assert resources.expression_terms(sp.sin(x[1]) + sp.Sum(x[i], (i, 1, 6))) == 6
    assert resources.expression_terms(sp.sin(x[1])) == 1


def test_network_parameters_match_the_built_network():
    from pdesolve.problem import load_problem
    from pdesolve.run import build, precision, resolve_run

    problem = load_problem(POISSON)
    config = resolve_run(problem, {"model": {"widths": [7, 5, 3]}})
    with precision(config):
        pieces = build(problem, config)
    assert resources.network_params(config, 2) == pieces.network.n_params


# --- 3: a full disk -----------------------------------------------------------------------------


def _full(*args, **kwargs):
    raise OSError(errno.ENOSPC, "No space left on device")


@pytest.mark.parametrize("fault", ["disk_usage", "writer"])
def test_a_full_disk_while_writing_is_exit_2_and_the_run_resumes(tmp_path, monkeypatch, fault):
    folder = tmp_path / "run"
    config = [
        "--quiet",
        "--seed",
        "3",
        "--set",
        "train.steps=4",
        "--set",
        "train.log_every=2",
        "--set",
        "train.checkpoint_every=2",
    ]
    with monkeypatch.context() as patch:
        if fault == "disk_usage":  # the free-space check before netCDF files: no room from the first checkpoint on
            patch.setattr(pdesolve.safe_write.shutil, "disk_usage", lambda path: type("U", (), {"free": 1000})())
        else:  # the operating system refuses the bytes of the final solution.nc
            original = Path.write_bytes
            patch.setattr(
                Path, "write_bytes", lambda self, data: _full() if ".solution.nc" in self.name else original(self, data)
            )
        code, _out, err = _cli("solve", POISSON, *config, "--out", folder)
    _refused(code, err, "disk is full")
    assert not (folder / "report.json").exists()
    assert not [p for p in folder.iterdir() if p.name.endswith(".tmp")]  # no partial file left
    code, _out, err = _cli("solve", POISSON, *config, "--resume", folder)
    assert code == 0 and (folder / "report.json").is_file() and (folder / "solution.nc").is_file(), err


# --- 2: generated --set and --config values of every type, depth and size -----------------------

KEYS = reliability.config_keys()
_LEAVES = (
    st.none()
    | st.booleans()
    | st.integers(-(10**40), 10**40)
    | st.floats(allow_nan=True)
    | st.text(max_size=30)
    | st.sampled_from(["tanh", "adam", "fd", "mlp", "float32", "x[1]"])
)
VALUES = st.recursive(
    _LEAVES,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=5), inner, max_size=3),
    max_leaves=12,
)
DEEP = st.integers(1, 200).map(lambda n: "[" * n + "1" + "]" * n)


def _flow(value) -> str:
    return yaml.safe_dump(value, default_flow_style=True, width=10**9).strip().removesuffix("\n...")


@settings(max_examples=40, deadline=None, suppress_health_check=list(HealthCheck))
@given(key=st.sampled_from(KEYS), value=VALUES | DEEP, as_file=st.booleans())
def test_generated_overrides_and_config_files_exit_0_or_2(tmp_path_factory, key, value, as_file):
    text = value if isinstance(value, str) and value.startswith("[") else _flow(value)
    if as_file:
        section, _, name = key.rpartition(".")
        path = tmp_path_factory.mktemp("c") / "c.yaml"
        path.write_text(f"{section}: {{{name}: {text}}}\n" if section else f"{name}: {text}\n")
        args = ["--config", path]
    else:
        args = ["--set", f"{key}={text}"]
    start = time.perf_counter()
    code, _, err = _cli("check", POISSON, *args)
    assert code in (0, 2) and (code == 0 or len(err.strip().splitlines()) == 1), (code, err)
    assert time.perf_counter() - start < 60


# --- 5: the hostile corpus ----------------------------------------------------------------------


def _corpus(tmp_path, per_class):
    reliability.run_case(reliability.Case("warm", "warm", ["check", str(POISSON)]))  # compile outside the clock
    results = [reliability.run_case(case) for case in reliability.corpus(tmp_path, per_class)]
    bad = [r for r in results if not reliability.clean(r, limit=30.0)]
    assert not bad, bad[:5]
    too_large = [r for r in results if r["kind"] == "runs too large"]
    assert all(r["exit"] == 2 for r in too_large), too_large
    return results


def test_a_slice_of_the_hostile_corpus(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert len(_corpus(tmp_path, per_class=3)) >= 15


@pytest.mark.slow
def test_the_whole_hostile_corpus(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert len(_corpus(tmp_path, per_class=None)) >= 1000
