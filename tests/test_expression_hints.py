"""Expression hints (issue 37): near names for unknown names and functions, x1 -> x[1], Product."""

import jax.numpy as jnp
import numpy as np
import pytest

from pdesolve.problem import ExpressionError, compile_problem, parse_expression, problem_from_mapping
from pdesolve.problem._parse import base_names, equation_names
from pdesolve.problem._vocabulary import X

NAMES = equation_names({"c": X.__class__("c")})


@pytest.mark.parametrize(
    "text, hint",
    [
        ("x1 + 1", "did you mean x[1]?"),
        ("u_x12", "did you mean u_x[12]?"),
        ("c_3 * x[1]", "did you mean c[3]?"),
        ("lapu + 1", "did you mean 'lap_u'?"),
        ("u_tt + grad_u_sqr", "did you mean 'grad_u_sq'?"),
        ("sine(x[1])", "did you mean 'sin'?"),
        ("exponential(x[1])", "did you mean 'exp'?"),
        ("sqnrm(x)", "did you mean 'sqnorm'?"),
    ],
)
def test_unknown_names_suggest_the_near_one(text, hint):
    with pytest.raises(ExpressionError) as err:
        parse_expression(text, NAMES)
    assert hint in str(err.value)


def test_far_names_get_no_guess():
    with pytest.raises(ExpressionError) as err:
        parse_expression("qqqqq + 1", NAMES)
    assert "did you mean" not in str(err.value)


def test_product_reduction_compiles_to_the_product():
    mapping = {
        "dimension": 4,
        "domain": {"type": "box", "low": -1, "high": 1},
        "equation": "lap_u = 0",
        "conditions": {"boundary": "0"},
        "exact": "Product(cos(x[i]) + i, (i, 1, d))",
    }
    compiled = compile_problem(problem_from_mapping(mapping))
    x = np.random.default_rng(0).uniform(-1, 1, (5, 4))
    np.testing.assert_allclose(
        compiled.exact(jnp.asarray(x), jnp.zeros(5)), np.prod(np.cos(x) + np.arange(1, 5), axis=1), rtol=1e-12
    )


def test_product_needs_its_limits():
    with pytest.raises(ExpressionError, match="Product takes a term and"):
        parse_expression("Product(x[i])", base_names({}))
