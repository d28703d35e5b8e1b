"""Learning-rate schedules from the ``solver`` config section."""

import optax


def learning_rate_schedule(lr: float, kind: str, end: float, steps: int) -> optax.Schedule:
    """``constant``, ``cosine`` (to ``end`` x ``lr``) or ``exponential`` (to ``end`` x ``lr``) over ``steps``."""
    if kind == "constant":
        return optax.constant_schedule(lr)
    if kind == "cosine":
        return optax.cosine_decay_schedule(lr, decay_steps=max(steps, 1), alpha=end)
    if kind == "exponential":
        return optax.exponential_decay(lr, transition_steps=max(steps, 1), decay_rate=end)
    raise ValueError(f"solver.schedule: unknown schedule {kind!r}")
