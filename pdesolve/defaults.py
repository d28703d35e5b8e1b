"""The run settings a problem gets where neither its file nor the user sets them: BP-free
Gauss-Newton (layerwise activity-perturbation Jacobian) on finite-difference residuals, float64.

They sit between the schema defaults of ``pdesolve.config`` (what each kind of model, engine and
solver starts from) and the problem's own ``config:`` section, which overrides them.
"""

from .operators import FULL_STENCIL_MAX_DIM

#: Network inputs (d, plus one for time) up to which the default MLP is 40 x 40 and each
#: Gauss-Newton step holds ``WIDE_HOLDOUT`` of its points out for the line search: the FD stencil has
#: at most 43 nodes per point (2d + 1, + 2 in t) there, so the wider network is affordable, and it
#: lowers the error where a 20 x 20 network on 500 points stalls (single runs on a 2-core CPU, seed 0:
#: nt_allen_cahn5_box 1.9e-3 -> 3.7e-4 and nt_hjb10_ball 1.8e-3 -> 1.1e-3 after 60 s; nt_hjb20_ball
#: 3.5e-3 after 600 s -> 9.3e-4 after 240 s, nt_wave20_whole 1.4e-3 after 30 s -> 6.5e-4 after 240 s).
WIDE_MAX_INPUTS = 21
#: Network inputs up to which a wide step takes ``LOW_D_BATCH`` points (beyond: ``WIDE_BATCH``).
#: The 40 x 40 network has ~2,000 parameters; with ~2,000 Jacobian rows the step nearly interpolates
#: the batch and the error stalls at the batch noise (nt_hjb10_ball: 4.2e-4 - 4.9e-4 validation
#: from step 50 on with 2500 points); 5000 points cost 1.2 s per step instead of 0.7 - 0.9 and reach
#: the same error in the first minute, then go on falling (3.1e-4 validation, 4.3e-4 test after
#: 300 s; single run, seed 0).
LOW_D_MAX_INPUTS = 11
LOW_D_BATCH = 5000
#: Points per wide step from 12 inputs on: the stencil has up to 43 nodes per point there.
WIDE_BATCH = 2500
#: The fraction of a wide step's points held out of the Jacobian, on which the line search
#: picks the step length (``solver.holdout``). With about as many Jacobian rows as parameters the
#: full step fits those points' own residual; judged on fresh points (the ``nontrivial`` suite, 60 s,
#: seed 0, 2500 points): nt_burgers5_ball 1.6e-4 -> 8.3e-5, nt_minmax5_box 7.0e-5 -> 3.8e-5, the
#: other six within 1.4x.
WIDE_HOLDOUT = 0.2
#: Network inputs up to which the default MLP beyond ``WIDE_MAX_INPUTS`` is 64 x 64 (16 x 16 beyond;
#: 64 is measured only at 51 and 101 inputs, and from d = 201 the residual comes from random
#: coordinates, measured with 16 x 16). With 500 points per step and ~10^4 parameters
#: the Gauss-Newton step takes the kernel form (500 x 500). A 16 x 16 network cannot represent the
#: d = 50 - 100 solutions: fitted to nt_heat100_ball's closed form it stalls at 1.2e-2, 64 x 64 reaches
#: 2.4e-3. Solving the PDE (single runs, seed 0, 240 s, 2-core CPU), 16 x 16 -> 64 x 64:
#: nt_heat100_ball 1.08e-2 -> 6.1e-3, nt_product100_ball 1.80e-2 -> 1.43e-2, nt_allen_cahn50_ball
#: 1.99e-2 -> 1.34e-2, nt_hjb100_whole 0.108 -> 7.96e-2. Between 22 and 50 inputs 64 is not measured.
MID_MAX_INPUTS = 101
#: Step lengths 2^0 .. 2^-5 that the line search tries beyond ``WIDE_MAX_INPUTS`` inputs (up to there
#: 20, judged on held-out points, which pick lengths down to 2^-6). Judged on the batch itself the
#: best length was at least 2^-2 in 49 of 52 steps and 2^-9 in one (nt_heat100_ball and
#: nt_allen_cahn50_ball, 40 s each, seed 0), and each length costs one residual evaluation (0.05 s
#: at d = 100, 64 x 64, 2-core CPU, where a step with 20 lengths took 2.3 s).
MID_LINE_SEARCH = 6


def default_model(inputs: int) -> dict:
    """A small dense tanh MLP: 40 x 40 up to ``WIDE_MAX_INPUTS`` inputs (1,841 parameters at 3
    inputs, 2,561 at 21), 64 x 64 up to ``MID_MAX_INPUTS`` (5,697 at 22, 10,753 at 101), 16 x 16
    beyond (16,321 at 1001).

    The first layer stays dense at every d: a rank-2 tensor-train first layer holds a few hundred
    numbers, so its rows cannot contain a generic direction w in R^d, and a solution with a generic
    linear part (``nt_sine_gordon1000_ball`` is (1 - |x|^2)(a + w.x)/(1 + t) to 6e-4 at d = 1000)
    stayed at the best constant network with it. With more parameters than residual rows the
    Gauss-Newton step uses the kernel form (m x m), so P in the tens of thousands is affordable.
    """
    width = 40 if inputs <= WIDE_MAX_INPUTS else 64 if inputs <= MID_MAX_INPUTS else 16
    return {"type": "mlp", "widths": [width, width], "activation": "tanh", "init": "lecun"}


def run_defaults(dim: int, has_time: bool) -> dict:
    """The problem-dependent default config (a partial config, validated like any other).

    Up to the full FD stencil's range (d <= ``FULL_STENCIL_MAX_DIM``): 200 Gauss-Newton steps of
    500 points (up to ``WIDE_MAX_INPUTS`` network inputs: 200 steps of 2500 points, and up to
    ``LOW_D_MAX_INPUTS`` 150 steps of 5000; a fifth of them held out), each one solve at
    damping 1e-6 of trace(J^T J)/P and a 20-point grid line search (``MID_LINE_SEARCH`` points
    beyond ``WIDE_MAX_INPUTS``; ENGD style: lower than the gain-ratio loop at equal steps on gauss5
    (fixed set), burgers5, minmax5; +19 (+5) residual evaluations per step). Beyond it the residual
    comes from random coordinates, so each batch's residual is a noisy estimate: the line search at
    a small damping fits that noise (nt_sine_gordon1000_ball: 4.9e-2 after 200 steps of 100 points,
    against 1.0e-2 for the gain-ratio loop, whose damping settles near 0.05), so there the gain-ratio loop
    (``GaussNewtonSpec`` defaults) takes 300 steps of 200 points (9.5e-3 at d = 1000 after 117 s of
    training on a 2-core CPU, 2.5 min in all; seed 0).
    """
    noisy = dim > FULL_STENCIL_MAX_DIM
    inputs = dim + int(has_time)
    wide, low_d = inputs <= WIDE_MAX_INPUTS, inputs <= LOW_D_MAX_INPUTS
    solver = {"name": "gauss_newton", "jacobian": "layerwise"}  # activity-perturbation Jacobian (BP-free)
    if not noisy:
        solver.update({"line_search": 20 if wide else MID_LINE_SEARCH, "min_damping": 1e-6})
    if wide:
        solver["holdout"] = WIDE_HOLDOUT
    return {
        "precision": "float64",  # finite differences of finite differences need it
        "model": default_model(inputs),
        "operators": {"method": "auto"},  # full FD stencil, random coordinates at large d
        "solver": solver,
        "train": {"steps": 300 if noisy else 150 if low_d else 200,
                  "batch_size": 200 if noisy else LOW_D_BATCH if low_d else WIDE_BATCH if wide else 500,
                  "log_every": 10,
                  # with random-coordinate residuals the mixture law lost under both laws (nt_sine_gordon1000_ball,
                  # benchmarks/results/interior_laws_scratch), so beyond the full stencil the volume law stays
                  **({"interior_law": "volume"} if noisy else {})},
    }
