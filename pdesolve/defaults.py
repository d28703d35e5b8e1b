"""The run settings a problem gets where neither its file nor the user sets them: BP-free
Gauss-Newton (layerwise activity-perturbation Jacobian) on finite-difference residuals, float64.

They sit between the schema defaults of ``pdesolve.config`` (what each kind of model, engine and
solver starts from) and the problem's own ``config:`` section, which overrides them.
"""

from .operators import FULL_STENCIL_MAX_DIM

#: Network inputs (d, plus one for time) up to which the default MLP is 40 x 40 and each
#: Gauss-Newton step takes 2000 points: the FD stencil has at most 23 nodes per point (2d + 1, + 2 in t)
#: there, so the wider network and the larger batch are affordable, and they lower the error where a
#: 20 x 20 network on 500 points stalls (single runs on a 2-core CPU, seed 0, 60 s of training:
#: nt_allen_cahn5_box 1.9e-3 -> 3.7e-4, nt_hjb10_ball 1.8e-3 -> 1.1e-3; nt_gauss5_ball 1.4e-4 after
#: 60 s -> 4.4e-5 after 40 s).
WIDE_MAX_INPUTS = 11
#: There each step takes 2500 points: the Jacobian's 2000 and 500 held out on which the line search
#: picks the step length (``solver.holdout``). The 40 x 40 network has about as many parameters as
#: 2000 rows, so the full step fits those points' own residual; judged on fresh points (the
#: ``nontrivial`` suite, 60 s, seed 0): nt_burgers5_ball 1.6e-4 -> 8.3e-5, nt_minmax5_box 7.0e-5 ->
#: 3.8e-5, the other six within 1.4x. Not with 12 or more inputs (20 x 20 on 500 points; single 30 s
#: runs, seed 0): 500 + 125 points helped nt_hjb20_ball (4.0e-3 -> 3.1e-3) and hurt
#: nt_wave20_whole (1.4e-3 -> 1.7e-3; 500 + 500 points: 2.1e-3).
WIDE_HOLDOUT = 0.2
#: Network inputs from which the default MLP is 16 wide instead of 20: the first layer has
#: inputs x width parameters, one Gauss-Newton Jacobian column each.
NARROW_FROM_INPUTS = 50


def default_model(inputs: int) -> dict:
    """A small dense tanh MLP: 40 x 40 up to ``WIDE_MAX_INPUTS`` inputs (1,841 parameters at 3
    inputs), 20 x 20 below ``NARROW_FROM_INPUTS`` (881 at 21), 16 x 16 from there on (16,321 at 1001).

    The first layer stays dense at every d: a rank-2 tensor-train first layer holds a few hundred
    numbers, so its rows cannot contain a generic direction w in R^d, and a solution with a generic
    linear part (``nt_sine_gordon1000_ball`` is (1 - |x|^2)(a + w.x)/(1 + t) to 6e-4 at d = 1000)
    stayed at the best constant network with it. With more parameters than residual rows the
    Gauss-Newton step uses the kernel form (m x m), so P in the tens of thousands is affordable.
    """
    width = 40 if inputs <= WIDE_MAX_INPUTS else 20 if inputs < NARROW_FROM_INPUTS else 16
    return {"type": "mlp", "widths": [width, width], "activation": "tanh", "init": "lecun"}


def run_defaults(dim: int, has_time: bool) -> dict:
    """The problem-dependent default config (a partial config, validated like any other).

    Up to the full FD stencil's range (d <= ``FULL_STENCIL_MAX_DIM``): 200 Gauss-Newton steps of
    500 points (150 steps of 2500, 500 of them held out, up to ``WIDE_MAX_INPUTS`` network inputs), each one solve at
    damping 1e-6 of trace(J^T J)/P and a 20-point grid line search (ENGD style: lower than the
    gain-ratio loop at equal steps on gauss5 (fixed set), burgers5, minmax5; +19 residual
    evaluations per step). Beyond it the residual comes from random
    coordinates, so each batch's residual is a noisy estimate: the line search at a small damping
    fits that noise (nt_sine_gordon1000_ball: 4.9e-2 after 200 steps of 100 points, against 1.0e-2
    for the gain-ratio loop, whose damping settles near 0.05), so there the gain-ratio loop
    (``GaussNewtonSpec`` defaults) takes 300 steps of 200 points (8.0e-3 at d = 1000 after 141 s of
    training on a 2-core CPU, 3.1 min in all).
    """
    noisy = dim > FULL_STENCIL_MAX_DIM
    wide = dim + int(has_time) <= WIDE_MAX_INPUTS
    solver = {"name": "gauss_newton", "jacobian": "layerwise"}  # activity-perturbation Jacobian (BP-free)
    if not noisy:
        solver.update({"line_search": 20, "min_damping": 1e-6})
    if wide:
        solver["holdout"] = WIDE_HOLDOUT
    return {
        "precision": "float64",  # finite differences of finite differences need it
        "model": default_model(dim + int(has_time)),
        "operators": {"method": "auto"},  # full FD stencil, random coordinates at large d
        "solver": solver,
        "train": {"steps": 300 if noisy else 150 if wide else 200,
                  "batch_size": 200 if noisy else 2500 if wide else 500, "log_every": 10},
    }
