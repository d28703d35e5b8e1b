"""The symmetry search's seconds and memory (issue 34), run against whichever checkout PYTHONPATH names.

    python measure.py check problems/nt_heat1000_whole.yaml   # pdesolve check, the search timed
    python measure.py search 4096 [from_exact]               # find_subspace alone on a heat problem

``check`` prints ``SEARCH <seconds> <peak RSS MB before> <after>`` to stderr and runs the command as
the CLI does; wrap it in ``/usr/bin/time -v`` for the whole process's wall time and peak RSS.
``search`` builds u_t = lap_u (+ f) on R^d with cos(w.x) data (a manufactured source with
``from_exact``) and prints d, search_cost, seconds, peak RSS and the directions found.
"""

import resource
import sys
import time

W = "Sum(w[i] * x[i], (i, 1, d)) / sqrt(Sum(w[i]**2, (i, 1, d)))"


def peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def check(args: list[str]) -> int:
    from pdesolve.cli import main
    from pdesolve.run import _network

    search = _network.find_subspace

    def timed(*inputs):
        before, start = peak_mb(), time.perf_counter()
        try:
            return search(*inputs)
        finally:
            print(f"SEARCH {time.perf_counter() - start:.2f} {before:.0f} {peak_mb():.0f}", file=sys.stderr)

    _network.find_subspace = timed
    return main(["check", *args])


def search(d: int, manufactured: bool) -> None:
    from pdesolve.problem import NotSymmetric, compile_problem, find_subspace, problem_from_mapping, search_cost

    mapping = {
        "name": "search_cost",
        "dimension": d,
        "parameters": {"w": {"normal": {"seed": 3}}},
        "time": {"start": 0, "end": 1},
        "domain": {"type": "whole_space", "sampling": {"normal": {"mean": 0.5, "std": 2}}},
        "equation": "u_t = lap_u",
        "conditions": {"initial": f"cos({W})"},
        "evaluation": {"points": 100},
    }
    if manufactured:
        exact = f"exp(-t) * cos({W}) + exp(-sqnorm(x) / d) / (1 + t)"
        mapping |= {"equation": "u_t = lap_u + f", "source": "from_exact", "exact": exact}
        mapping["conditions"] = {"initial": f"cos({W}) + exp(-sqnorm(x) / d)"}
        mapping["domain"] = {"type": "whole_space", "sampling": {"normal": {"mean": 0, "std": 1}}}
    problem = problem_from_mapping(mapping)
    compiled = compile_problem(problem)
    start = time.perf_counter()
    try:
        found: int | str = find_subspace(problem, compiled).directions
    except NotSymmetric as why:
        found = str(why)
    seconds = time.perf_counter() - start
    print(f"d={d} cost={search_cost(problem, compiled):.3g} search={seconds:.2f}s peak={peak_mb():.0f}MB -> {found}")


if __name__ == "__main__":
    if sys.argv[1] == "check":
        sys.exit(check(sys.argv[2:]))
    search(int(sys.argv[2]), "from_exact" in sys.argv[3:])
