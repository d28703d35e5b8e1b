"""``--verify K``: the best trial's settings against the config without the space, trained one
after the other in the tune's own process once its workers have stopped, at K seeds the study did
not tune on and at the trials' time budget.

Why: a time-budgeted trial's step count depends on the processor share it got. With several
workers on a small machine a trial competes with the others, so a study compares processor shares
as much as settings (a study's best that lost once trained alone: benchmarks/results/tune_verify/).
And the best of many trials at the same seeds is biased low; fresh seeds remove that bias.
"""

import math
import time

from ..config import resolve
from ..problem import Problem
from ._trial import SEED_FIELDS, check_run, failure_message, geometric_mean, seed_runs

#: The two configs a verification trains, in the order they alternate at each seed.
SIDES = ("best", "baseline")


def verify_seeds(base_config: dict, tuned_seeds: int, count: int) -> list[int]:
    """The K seeds after those the trials trained at (``seed`` .. ``seed + tuned_seeds - 1``)."""
    first = base_config["seed"] + tuned_seeds
    return list(range(first, first + count))


def run_verification(problem: Problem, best_config: dict, base_config: dict, seeds: list[int], best_trial: int) -> dict:
    """Trains the best trial's config and ``base_config`` at each of ``seeds`` (alternating, one
    run at a time). Returns the record kept in the study: ``best_trial``, ``seeds``, and per side
    ``<side>_error`` (geometric mean, NaN when a run failed), ``<side>_note`` and
    ``<side>_seed_<field>`` lists; prints one line per run and a summary."""
    configs = {"best": resolve(best_config), "baseline": resolve(base_config)}
    runs: dict[str, list] = {side: [] for side in SIDES}
    notes = {side: "" for side in SIDES}
    for seed in seeds:
        for side in SIDES:
            if notes[side]:
                continue
            started = time.perf_counter()
            config = resolve(configs[side].to_dict(), {"seed": seed})
            try:
                (run,) = seed_runs(problem, config, 1)
                check_run(run, 1)
            except Exception as err:  # recorded, as for a trial
                notes[side] = f"seed {seed}: {failure_message(err)}"
                print(f"verify    {side:8s} seed {seed}: failed ({notes[side]})", flush=True)
                continue
            runs[side].append(run)
            print(
                f"verify    {side:8s} seed {seed}: error {run.error:.3e} in {run.steps} steps  "
                f"{time.perf_counter() - started:5.1f} s",
                flush=True,
            )
    record: dict = {"best_trial": best_trial, "seeds": seeds}
    for side in SIDES:
        errors = [run.error for run in runs[side]]
        record[f"{side}_error"] = math.nan if notes[side] or not errors else geometric_mean(errors)
        record[f"{side}_note"] = notes[side]
        record.update({f"{side}_seed_{name}": [getattr(run, name) for run in runs[side]] for name in SEED_FIELDS})
    print(
        f"verify    alone at seeds {seeds[0]}-{seeds[-1]}: best trial {best_trial} {record['best_error']:.3e}, "
        f"baseline {record['baseline_error']:.3e} (geometric means)",
        flush=True,
    )
    return record
