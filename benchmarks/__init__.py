"""pdesolve benchmark suites: ``python -m benchmarks SUITE [--quick|--full]`` (see README.md)."""

SUITES = ("reference", "time-to-accuracy", "efficiency", "scaling", "nontrivial")
