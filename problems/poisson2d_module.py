"""The 2-d Poisson problem written as a Python module (the second way in).

Loading a .py problem runs it: only load modules you trust. It builds the same problem as
poisson2d.yaml from sympy objects, using pdesolve's symbols.
"""

import sympy as sp

from pdesolve.problem.symbols import LAP_U, SOURCE, X

exact = sp.sin(sp.pi * X[1]) * sp.sin(sp.pi * X[2])

PROBLEM = {
    "name": "poisson2d_module",
    "title": "2-d Poisson equation (Python module)",
    "dimension": 2,
    "domain": {"type": "box", "low": 0, "high": 1},
    "equation": sp.Eq(LAP_U, SOURCE),
    "source": -2 * sp.pi**2 * exact,
    "conditions": {"boundary": sp.Integer(0)},
    "exact": exact,
    "evaluation": {"points": 4096, "sampling": "sobol", "seed": 1234},
    "config": {  # BP-free, as poisson2d.yaml
        "precision": "float64",
        "model": {"type": "tt_mlp", "widths": [64, 64], "activation": "sin", "rank": 2},
        "operators": {"method": "sg", "level": 3, "sigma": 0.01},
        "solver": {"name": "projection", "hidden": "zeroth_order", "output_layer": "least_squares",
                   "learning_rate": 1e-2, "schedule": "constant"},
        "train": {"steps": 40, "batch_size": 64, "log_every": 5},
    },
}
