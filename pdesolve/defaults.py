"""The run settings a problem gets where neither its file nor the user sets them: BP-free
Gauss-Newton (layerwise activity-perturbation Jacobian) on finite-difference residuals, float64.

They sit between the schema defaults of ``pdesolve.config`` (what each kind of model, engine and
solver starts from) and the problem's own ``config:`` section, which overrides them.
"""

#: Network inputs (d, plus one for time) from which the first layer is a tensor train: the GN
#: Jacobian has one column per parameter, and a dense first layer has inputs x width of them.
TT_FIRST_LAYER_MIN_INPUTS = 50


def default_model(inputs: int) -> dict:
    """A small tanh MLP (20 x 20: 521 parameters at 3 inputs); from ``TT_FIRST_LAYER_MIN_INPUTS``
    inputs on, 16 wide with a rank-2 TT first layer, so that the parameter count stays ~400."""
    if inputs < TT_FIRST_LAYER_MIN_INPUTS:
        return {"type": "mlp", "widths": [20, 20], "activation": "tanh", "init": "lecun"}
    return {"type": "tt_mlp", "widths": [16, 16], "activation": "tanh", "init": "lecun", "rank": 2,
            "dense_layers": [1, -1]}


def run_defaults(dim: int, has_time: bool) -> dict:
    """The problem-dependent default config (a partial config, validated like any other)."""
    return {
        "precision": "float64",  # finite differences of finite differences need it
        "model": default_model(dim + int(has_time)),
        "operators": {"method": "auto"},  # full FD stencil, random coordinates at large d
        # activity-perturbation Jacobian (BP-free); one solve at damping 1e-6 of trace(J^T J)/P and a
        # 20-point grid line search (ENGD style): lower than the gain-ratio loop at equal steps on
        # gauss5 (fixed set), burgers5, minmax5 (experiments of issue 11), +19 residual evaluations per step
        "solver": {"name": "gauss_newton", "jacobian": "layerwise", "line_search": 20, "min_damping": 1e-6},
        "train": {"steps": 200, "batch_size": 500, "log_every": 10},
    }
