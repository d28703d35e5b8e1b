"""The run settings a problem gets where neither its file nor the user sets them: BP-free
Gauss-Newton (layerwise activity-perturbation Jacobian) on finite-difference residuals, float64.

They sit between the schema defaults of ``pdesolve.config`` (what each kind of model, engine and
solver starts from) and the problem's own ``config:`` section, which overrides them.
"""

from typing import Any

from .operators import FULL_STENCIL_MAX_DIM

#: The measurements behind each constant: benchmarks/results/defaults_rationale/README.md.

#: Network inputs (d, plus one for time) up to which the default MLP is 40 x 40 and a Gauss-Newton
#: step holds ``WIDE_HOLDOUT`` of its points out: the FD stencil has at most 43 nodes per point there.
WIDE_MAX_INPUTS = 21
#: Network inputs up to which a wide step takes ``LOW_D_BATCH`` points (beyond: ``WIDE_BATCH``): with
#: about as many Jacobian rows as the 40 x 40 network's parameters a step would interpolate its batch.
LOW_D_MAX_INPUTS = 11
LOW_D_BATCH = 5000
WIDE_BATCH = 2500
#: The fraction of a wide step's points held out of the Jacobian, on which the line search picks the
#: step length (``solver.holdout``): the full step fits the Jacobian's own points, so fresh ones judge.
WIDE_HOLDOUT = 0.2
#: Network inputs up to which the default MLP beyond ``WIDE_MAX_INPUTS`` is 64 x 64 (16 x 16 beyond):
#: a 16 x 16 network cannot represent the d = 50 - 100 solutions of the suite.
MID_MAX_INPUTS = 101
#: Step lengths 2^0 .. 2^-5 that the line search tries beyond ``WIDE_MAX_INPUTS`` inputs (20 up to
#: there): each length costs one residual evaluation, and judged on the batch the short ones are rare.
MID_LINE_SEARCH = 6


def default_model(inputs: int) -> dict:
    """A small dense MLP (the ``mlp`` kind's activation and init): 40 x 40 up to ``WIDE_MAX_INPUTS``
    inputs (1,841 parameters at 3 inputs, 2,561 at 21), 64 x 64 up to ``MID_MAX_INPUTS`` (5,697 at 22,
    10,753 at 101), 16 x 16 beyond (16,321 at 1001).

    The first layer stays dense at every d: a low-rank tensor-train first layer cannot hold a generic
    direction w in R^d, which a solution's linear part needs. With more parameters than residual rows
    the Gauss-Newton step uses the kernel form (m x m), so P in the tens of thousands is affordable.
    """
    width = 40 if inputs <= WIDE_MAX_INPUTS else 64 if inputs <= MID_MAX_INPUTS else 16
    return {"type": "mlp", "widths": [width, width]}


def problem_defaults(problem) -> dict:
    """``run_defaults`` for ``problem`` (a ``pdesolve.problem.Problem``): its dimension, whether it
    has time, and whether its domain is all of R^d."""
    return run_defaults(problem.dimension, problem.has_time, whole_space=not problem.domain.bounded)


def run_defaults(dim: int, has_time: bool, whole_space: bool = False) -> dict:
    """The problem-dependent default config (a partial config, validated like any other).

    Up to the full FD stencil's range (d <= ``FULL_STENCIL_MAX_DIM``): 200 Gauss-Newton steps of
    500 points (up to ``WIDE_MAX_INPUTS`` network inputs: 200 steps of 2500 points, and up to
    ``LOW_D_MAX_INPUTS`` 150 steps of 5000; a fifth of them held out), each one solve at
    damping 1e-6 of trace(J^T J)/P and a 20-point grid line search (``MID_LINE_SEARCH`` points
    beyond ``WIDE_MAX_INPUTS``; ENGD style, +19 (+5) residual evaluations per step). Beyond it the
    residual comes from random coordinates, so each batch's residual is a noisy estimate that a line
    search at small damping would fit: there the gain-ratio loop (``GaussNewtonSpec`` defaults) takes
    300 steps of 200 points, and the interior law is the volume law; on whole space the
    radius-uniform law, which training widens to where diffusion carries the solution's
    dependence (``problem.diffusion_reach``): the normal law's thin shell alone leaves the
    solution unlearned there.
    """
    noisy = dim > FULL_STENCIL_MAX_DIM
    inputs = dim + int(has_time)
    wide, low_d = inputs <= WIDE_MAX_INPUTS, inputs <= LOW_D_MAX_INPUTS
    # the activity-perturbation Jacobian (BP-free)
    solver: dict[str, Any] = {"name": "gauss_newton", "jacobian": "layerwise"}
    if not noisy:
        solver.update({"line_search": 20 if wide else MID_LINE_SEARCH, "min_damping": 1e-6})
    if wide:
        solver["holdout"] = WIDE_HOLDOUT
    return {
        "precision": "float64",  # finite differences of finite differences need it
        "model": default_model(inputs),
        "operators": {"method": "auto"},  # full FD stencil, random coordinates at large d
        "solver": solver,
        "train": {
            "steps": 300 if noisy else 150 if low_d else 200,
            "batch_size": 200 if noisy else LOW_D_BATCH if low_d else WIDE_BATCH if wide else 500,
            "log_every": 10,
            **({"interior_law": "radius_uniform" if whole_space else "volume"} if noisy else {}),
        },
    }
