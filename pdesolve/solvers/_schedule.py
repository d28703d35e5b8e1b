"""Learning-rate schedules from the ``solver`` config section."""

import optax


def learning_rate_schedule(solver_config: dict, steps: int) -> optax.Schedule:
    """``constant``, ``cosine`` (to ``end_factor`` x lr) or ``exponential`` (to ``end_factor`` x lr)."""
    lr = solver_config["learning_rate"]
    kind = solver_config["schedule"]
    end = solver_config["end_factor"]
    if kind == "constant":
        return optax.constant_schedule(lr)
    if kind == "cosine":
        return optax.cosine_decay_schedule(lr, decay_steps=max(steps, 1), alpha=end)
    if kind == "exponential":
        return optax.exponential_decay(lr, transition_steps=max(steps, 1), decay_rate=end)
    raise ValueError(f"solver.schedule: unknown schedule {kind!r}")
