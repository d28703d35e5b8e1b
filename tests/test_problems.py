"""Shipped problems load and compile; broken problem files fail with the right field and message."""

import textwrap
from pathlib import Path

import jax.numpy as jnp
import numpy as np
import pytest

from pdesolve import cli
from pdesolve.errors import ProblemError
from pdesolve.problem import compile_problem, load_problem

ROOT = Path(__file__).resolve().parent.parent
PROBLEMS = sorted((ROOT / "problems").glob("*.yaml")) + sorted((ROOT / "problems").glob("*.py"))
PROBLEMS = [p for p in PROBLEMS if not p.stem.startswith(("nt_", "pub_"))]  # tests/test_nontrivial_problems.py,
# tests/test_published_problems.py

#: Operators each shipped problem's equation uses (read off the equations by hand).
EXPECTED_OPERATORS = {
    "basket100_ball": {
        "Sum(rho[i, j]*s[i]*s[j]*u_xx[i, j]*x[i]*x[j], (i, 1, d), (j, 1, d)) (3 x-dependent directions)",
        "u",
        "u_t",
        "u_x",
    },
    "bsb100": {"u", "u_t", "u_x", "u_xx"},
    "heat_ball100": {"u_t", "lap_u"},
    "heat_mc10": {"u", "u_t", "lap_u"},
    "heat_sin10": {"u_t", "lap_u"},
    "heat_inverse10": {"u_t", "lap_u"},
    "neumann_ball3": {"lap_u", "u"},
    "hjb20": {"u_t", "lap_u", "u_x"},
    "laplace2d_faces": {"lap_u"},
    "poisson2d": {"lap_u"},
    "poisson2d_module": {"lap_u"},
    "poisson_sin10": {"lap_u"},
    "robin_ball3": {"lap_u"},
    "two_body_allen_cahn100": {"lap_u", "u"},
    "two_body_poisson100": {"lap_u"},
    "two_body_sine_gordon100": {"lap_u", "u"},
    "wave2d": {"u_tt", "lap_u"},
}


def test_every_shipped_problem_is_covered():
    assert {p.stem for p in PROBLEMS} == set(EXPECTED_OPERATORS)


def _top_level_items(text: str) -> list[str]:
    """``text`` split at the ", " outside brackets (a contraction's name holds commas)."""
    items, depth, start = [], 0, 0
    for i, char in enumerate(text):
        depth += (char in "([") - (char in ")]")
        if depth == 0 and text.startswith(", ", i):
            items.append(text[start:i])
            start = i + 2
    return [*items, text[start:]]


@pytest.mark.parametrize("path", PROBLEMS, ids=[p.name for p in PROBLEMS])
def test_shipped_problem_checks(path, capsys):
    assert cli.main(["check", str(path)]) == 0
    out = capsys.readouterr().out
    line = next(text for text in out.splitlines() if text.startswith("operators"))
    assert set(_top_level_items(line.split(None, 1)[1])) == EXPECTED_OPERATORS[path.stem]
    assert out.rstrip().endswith("ok")
    problem = load_problem(path)
    # every shipped problem carries its exact solution, or a reference to measure errors against
    assert (problem.exact is None) != (problem.reference is None)


# ----- broken problem files -----

GOOD_STATIONARY = """\
dimension: 3
domain: {type: box, low: 0, high: 1}
equation: "lap_u = 0"
conditions: {boundary: "0"}
"""
GOOD_TIMED = """\
dimension: 3
time: {start: 0, end: 1}
domain: {type: box, low: 0, high: 1}
equation: "u_t = lap_u"
conditions: {initial: "0"}
"""


def _edit(base: str, **fields) -> str:
    """``base`` with top-level fields replaced (value None removes it) or added."""
    lines = {text.split(":", 1)[0]: text for text in base.splitlines()}
    for key, value in fields.items():
        if value is None:
            lines.pop(key, None)
        else:
            lines[key] = f"{key}: {value}"
    return "\n".join(lines.values()) + "\n"


BROKEN = [
    ("unknown symbol", _edit(GOOD_STATIONARY, equation='"lap_u = foo"'), "equation", "unknown name 'foo'"),
    (
        "unknown symbol in condition",
        _edit(GOOD_STATIONARY, conditions='{boundary: "u_t"}'),
        "conditions.boundary",
        "unknown name 'u_t'",
    ),
    (
        "unsupported function",
        _edit(GOOD_STATIONARY, equation='"lap_u = gamma(x[1])"'),
        "equation",
        "unknown function 'gamma'",
    ),
    (
        "dimension mismatch",
        _edit(GOOD_STATIONARY, domain="{type: box, low: [0, 0], high: 1}"),
        "domain.low",
        "has 2 entries but dimension is 3",
    ),
    (
        "time-dependent without initial or terminal",
        _edit(GOOD_TIMED, conditions='{boundary: "0"}'),
        "conditions",
        "missing an initial or terminal",
    ),
    ("stationary without boundary", _edit(GOOD_STATIONARY, conditions=None), "conditions.boundary", "missing"),
    (
        "initial without time",
        _edit(GOOD_STATIONARY, conditions='{initial: "0", boundary: "0"}'),
        "conditions.initial",
        "needs a time interval",
    ),
    (
        "unknown domain type",
        _edit(GOOD_STATIONARY, domain="{type: cube, low: 0, high: 1}"),
        "domain.type",
        "unknown domain 'cube'",
    ),
    (
        "high below low",
        _edit(GOOD_STATIONARY, domain="{type: box, low: 1, high: 0}"),
        "domain.high",
        "must exceed domain.low",
    ),
    (
        "high equal to low",
        _edit(GOOD_STATIONARY, domain="{type: box, low: [0, 0, 1], high: 1}"),
        "domain.high",
        "must exceed domain.low",
    ),
    ("negative radius", _edit(GOOD_STATIONARY, domain="{type: ball, radius: -1}"), "domain.radius", "must be > 0"),
    (
        "annulus outer below inner",
        _edit(GOOD_STATIONARY, domain="{type: annulus, inner: 1, outer: 0.5}"),
        "domain.outer",
        "must exceed domain.inner",
    ),
    (
        "domain key of another type",
        _edit(GOOD_STATIONARY, domain="{type: ball, radius: 1, low: 0}"),
        "domain.low",
        "unknown key",
    ),
    ("bare vector equation", _edit(GOOD_STATIONARY, equation='"lap_u = x"'), "equation", "x is a vector"),
    ("bare vector operator", _edit(GOOD_STATIONARY, equation='"lap_u + u_x = 0"'), "equation", "u_x is a vector"),
    ("no derivative", _edit(GOOD_STATIONARY, equation='"u = x[1]"'), "equation", "not a PDE"),
    ("unknown top-level key", _edit(GOOD_STATIONARY, equaton='"lap_u = 0"'), "equaton", "did you mean 'equation'"),
    ("reserved parameter", _edit(GOOD_STATIONARY, parameters="{u: 1}"), "parameters.u", "reserved"),
    ("reserved parameter (function)", _edit(GOOD_STATIONARY, parameters="{sin: 1}"), "parameters.sin", "reserved"),
    ("source but no f", _edit(GOOD_STATIONARY, source='"1"'), "source", "does not use f"),
    ("f without source", _edit(GOOD_STATIONARY, equation='"lap_u = f"'), "source", "uses f"),
    (
        "from_exact without exact",
        _edit(GOOD_STATIONARY, equation='"lap_u = f"', source="from_exact"),
        "source",
        "needs the exact solution",
    ),
    (
        "from_exact nonlinear in f",
        _edit(GOOD_STATIONARY, equation='"lap_u = f**2"', source="from_exact", exact='"x[1]"'),
        "equation",
        "linear in f",
    ),
    (
        "index out of range",
        'dimension: 20\ndomain: {type: box, low: 0, high: 1}\nequation: "lap_u = x[25]"\nconditions: {boundary: "0"}\n',
        "equation",
        "x[25] reaches entry 25, outside 1..20",
    ),
    ("index zero", _edit(GOOD_STATIONARY, exact='"x[0]"'), "exact", "outside 1..3"),
    (
        "Sum index past the end",
        _edit(GOOD_STATIONARY, equation='"lap_u = Sum(x[i + 1], (i, 1, d))"'),
        "equation",
        "reaches entry 4",
    ),
    (
        "index outside a Sum",
        _edit(GOOD_STATIONARY, equation='"lap_u = x[i]"'),
        "equation",
        "the index i is used outside a Sum",
    ),
    (
        "unknown sampling",
        _edit(GOOD_STATIONARY, evaluation="{sampling: latin}"),
        "evaluation.sampling",
        "unknown sampling 'latin'",
    ),
    ("dimension not a number", _edit(GOOD_STATIONARY, dimension="three"), "dimension", "expected a number"),
    ("dimension zero", _edit(GOOD_STATIONARY, dimension="0"), "dimension", "must be > 0"),
    ("time end before start", _edit(GOOD_TIMED, time="{start: 1, end: 0}"), "time.end", "must exceed time.start"),
    ("two equals signs", _edit(GOOD_STATIONARY, equation='"lap_u = 0 = 1"'), "equation", "more than one '='"),
    ("invalid YAML", "dimension: 3\ndomain: {type: box, low: 0\n", "<file>", "not valid YAML"),
    ("YAML list", "- dimension: 3\n- equation: lap_u\n", "<file>", "mapping"),
    ("YAML scalar", "just text\n", "<file>", "mapping"),
    ("YAML python tag", "!!python/object/apply:os.system ['touch CANARY']\n", "<file>", "not valid YAML"),
    ("huge Sum range", _edit(GOOD_STATIONARY, equation='"lap_u = Sum(1, (i, 1, 10**12))"'), "equation", "terms"),
    ("huge integer constant", _edit(GOOD_STATIONARY, equation='"lap_u = 10**400"'), "equation", "compiled"),
]


def _write(tmp_path, text, name="broken.yaml") -> Path:
    path = tmp_path / name
    path.write_text(textwrap.dedent(text))
    return path


def test_good_bases_compile_to_their_equations(tmp_path):
    """The two bases the broken files are made from compile to ``lap_u`` and ``u_t - lap_u`` with zero data."""
    rng = np.random.default_rng(0)
    x, t = jnp.asarray(rng.uniform(0, 1, (5, 3))), jnp.asarray(rng.uniform(0, 1, 5))
    ops = {"u_t": jnp.asarray(rng.normal(size=5)), "lap_u": jnp.asarray(rng.normal(size=5))}
    for text, condition, expected in (
        (GOOD_STATIONARY, "boundary", ops["lap_u"]),
        (GOOD_TIMED, "initial", ops["u_t"] - ops["lap_u"]),
    ):
        c = compile_problem(load_problem(_write(tmp_path, text, "good.yaml")))
        assert c.problem.dimension == 3 and set(c.conditions) == {condition}
        residual = c.residual({k: ops[k] for k in c.needs}, x, t, jnp.zeros(5))
        np.testing.assert_allclose(residual, expected, rtol=1e-12)
        np.testing.assert_array_equal(c.conditions[condition](x, t), np.zeros(5))


@pytest.mark.parametrize("name, text, field, phrase", BROKEN, ids=[b[0] for b in BROKEN])
def test_broken_problem_names_field_and_fix(name, text, field, phrase, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    path = _write(tmp_path, text)
    with pytest.raises(ProblemError) as err:
        compile_problem(load_problem(path))
    assert err.value.field == field, str(err.value)
    assert phrase in str(err.value)
    assert str(path) in str(err.value)
    assert not (tmp_path / "CANARY").exists()


CLI_CASES = [b for i, b in enumerate(BROKEN) if i % 3 == 0 or i >= len(BROKEN) - 6]


@pytest.mark.parametrize("name, text, field, phrase", CLI_CASES, ids=[b[0] for b in CLI_CASES])
def test_broken_problem_through_cli(name, text, field, phrase, tmp_path, capsys):
    path = _write(tmp_path, text)
    assert cli.main(["check", str(path)]) == 2
    captured = capsys.readouterr()
    lines = captured.err.strip().splitlines()
    assert len(lines) == 1, captured.err
    assert lines[0].startswith("error: ")
    assert f"{path}: {field}:" in lines[0]
    assert phrase in lines[0]
    assert "Traceback" not in captured.err + captured.out


def test_missing_file_through_cli(tmp_path, capsys):
    assert cli.main(["check", str(tmp_path / "nope.yaml")]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and "nope.yaml" in err and "not found" in err


def test_param_override_of_unknown_parameter_through_cli(capsys):
    assert cli.main(["check", str(ROOT / "problems/bsb100.yaml"), "--param", "rr=0.1"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and "parameters.rr" in err and "known: T, r, sigma" in err


def test_overrides_change_dimension_and_parameters():
    problem = load_problem(ROOT / "problems/bsb100.yaml", overrides={"dimension": 7, "r": 0.1})
    assert problem.dimension == 7 and problem.parameters["r"] == 0.1 and problem.domain.dim == 7


# ----- the Python module problem equals the YAML one -----


def test_python_module_problem_matches_yaml():
    yaml_c = compile_problem(load_problem(ROOT / "problems/poisson2d.yaml"))
    py_c = compile_problem(load_problem(ROOT / "problems/poisson2d_module.py"))
    assert yaml_c.needs == py_c.needs == {"lap_u"}
    assert yaml_c.problem.domain.dim == py_c.problem.domain.dim == 2
    rng = np.random.default_rng(0)
    x = jnp.asarray(rng.uniform(0, 1, (50, 2)))
    t = jnp.zeros(50)
    ops = {"lap_u": jnp.asarray(rng.normal(size=50))}
    f = jnp.asarray(rng.normal(size=50))
    r_yaml = np.asarray(yaml_c.residual(ops, x, t, f))
    r_py = np.asarray(py_c.residual(ops, x, t, f))
    np.testing.assert_allclose(r_py, r_yaml, rtol=1e-13, atol=1e-13)
    # and both are lap_u - f up to the sign convention of moving terms across the "="
    np.testing.assert_allclose(np.abs(r_yaml), np.abs(np.asarray(ops["lap_u"]) - np.asarray(f)), rtol=1e-13)
    for name in ("source", "exact"):
        np.testing.assert_allclose(
            np.asarray(getattr(py_c, name)(x, t)), np.asarray(getattr(yaml_c, name)(x, t)), rtol=1e-13, atol=1e-13
        )
    np.testing.assert_allclose(np.asarray(py_c.conditions["boundary"](x, t)), 0.0)
    xn = np.asarray(x)
    np.testing.assert_allclose(
        np.asarray(yaml_c.source(x, t)), -2 * np.pi**2 * np.sin(np.pi * xn[:, 0]) * np.sin(np.pi * xn[:, 1]), rtol=1e-12
    )


def test_every_shipped_file_is_package_data():
    """setup.py ships problems/*.yaml, problems/data/*, configs/*.yaml and configs/spaces/*.yaml (and problems'
    modules as modules): a file of another kind there would be missing from a non-editable install. ``pdesolve
    list`` finds them."""
    kinds = {
        "problems": {".yaml", ".py"},
        "problems/data": {".csv", ".py"},
        "configs": {".yaml"},
        "configs/spaces": {".yaml"},
    }
    for kind, suffixes in kinds.items():
        files = [
            p
            for p in (ROOT / kind).iterdir()
            if p.name != "__pycache__" and p.relative_to(ROOT).as_posix() not in kinds
        ]
        assert files and all(p.is_file() and p.suffix in suffixes for p in files), kind
        assert {p.name for p in cli.shipped(kind).iterdir()} >= {p.name for p in files}
