"""Why a training run stops: its step budget, the target error, the time budget, or divergence."""

import enum
import time

import jax
from jaxtyping import PyTree


class StopReason(enum.Enum):
    """Why training stopped. A run's ``stop_reason`` (reports, checkpoints, netCDF) is a sentence
    that starts with ``value``; ``StopReason.of`` reads it back."""

    STEP_BUDGET = "step budget reached"
    TARGET = "target rel_l2"
    TIME_BUDGET = "time budget"
    DIVERGED = "diverged"

    @classmethod
    def of(cls, message: str) -> "StopReason":
        """The reason a stop message gives."""
        for reason in cls:
            if message.startswith(reason.value):
                return reason
        raise ValueError(f"not a stop reason: {message!r}")


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
        return f"{StopReason.TARGET.value} {target:g} reached"
    if clock.exhausted:
        return f"{StopReason.TIME_BUDGET.value} {clock.budget:g} s reached"
    return None
