"""pdesolve benchmark suites: ``python -m benchmarks SUITE [--quick|--full|--tiny]`` (see README.md)."""

#: Suite name -> module; ``all`` runs them in this order.
SUITES = {
    "reference": "reference",
    "time-to-accuracy": "time_to_accuracy",
    "efficiency": "efficiency",
    "scaling": "scaling",
    "nontrivial": "nontrivial",
    "estimators": "estimators",
    "tt-forward": "tt_forward",
    "compile-time": "compile_time",
    "projection": "projection",
    "catalogue": "catalogue",
    "stein-bias": "stein_bias",
    "published": "published",
    "peers": "peers",
    "warm-start": "warm_start",
    "reliability": "reliability",
}
