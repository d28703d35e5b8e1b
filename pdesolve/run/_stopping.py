"""When a training run stops before its step budget: the target error, or the time budget."""

import time

import jax
from jaxtyping import PyTree


class TrainClock:
    """Seconds spent in drawing batches and solver steps, excluding the first step of a process (it compiles) and
    everything between steps (validation, logging, checkpoints). ``tick`` waits for the step's
    results, so the time is the device's, not the dispatch's."""

    def __init__(self, budget: float | None, seconds: float = 0.0):
        self.budget, self.seconds, self.compiled = budget, seconds, False

    def tick(self, started: float, result: PyTree) -> None:
        jax.block_until_ready(result)
        if self.compiled:
            self.seconds += time.perf_counter() - started
        self.compiled = True

    @property
    def exhausted(self) -> bool:
        return self.budget is not None and self.seconds >= self.budget


def stop_reason(target: float | None, rel_l2: float, clock: TrainClock) -> str | None:
    """Why training stops at a verified point (the target error, the time budget), or None."""
    if target is not None and rel_l2 <= target:
        return f"target rel_l2 {target:g} reached"
    if clock.exhausted:
        return f"time budget {clock.budget:g} s reached"
    return None
