"""The ``train`` section: steps, batches, logging, stopping, divergence handling, checkpoints."""

import dataclasses

from ..fields import MAX_POINTS, NUMBER, OPTIONAL_INT, OPTIONAL_NUMBER, setting
from ._section import Section


@dataclasses.dataclass(frozen=True, kw_only=True)
class TrainConfig(Section):
    """How a run trains (``train.*``)."""

    steps: int = setting(
        (int,), 2000, bounds=(1, 10**12, "from 1 to 10^12 (a step count that fits the run's records)")
    )  # solver steps (the step budget)
    batch_size: int = setting((int,), 100, bounds=(1, None, ">= 1"))  # collocation points per step
    boundary_batch_size: int = setting((int,), 100, bounds=(1, None, ">= 1"))  # condition points per step (soft)
    resample_every: int = setting((int,), 1, bounds=(1, None, ">= 1 (1: a new batch every step)"))  # steps per batch
    condition_weight: float = setting(NUMBER, 1.0, bounds=(0, None, ">= 0"))  # weight of condition losses
    sampler: str = setting((str,), "uniform", choices=("uniform", "sobol", "halton"))  # random or quasi-random
    # where interior points lie: volume (uniform in the domain; in high d all near the boundary),
    # radius_uniform (normalised radius uniform: the interior seen as much as the boundary layer), or
    # mixture (a fraction radius_weight of each batch radius-uniform, the rest volume): both trained
    interior_law: str = setting((str,), "mixture", choices=("volume", "radius_uniform", "mixture"))
    radius_weight: float = setting(NUMBER, 0.5, bounds=(0, 1, "between 0 and 1"))  # of a mixture batch
    # residual-adaptive resampling (RAD): draw this many times batch_size candidates from the interior
    # law and keep batch_size of them with probability ~ |residual| / mean |residual| + 1 (1: off)
    adaptive_candidates: int = setting((int,), 1, bounds=(1, 64, "between 1 (off) and 64"))
    log_every: int = setting((int,), 100, bounds=(1, None, ">= 1"))  # steps between history rows (validation)
    # held-out points of the validation error logged during training (not the evaluation points)
    validation_points: int = setting((int,), 1000, bounds=(1, MAX_POINTS, f"between 1 and {MAX_POINTS}"))
    target_rel_l2: float | None = setting(OPTIONAL_NUMBER, None)  # stop once the validation error is below
    progress: bool = setting((bool,), True)  # the progress bar (steps, or seconds with a time budget)
    # local devices the points are sharded over (the first N)
    devices: int | None = setting(OPTIONAL_INT, None, bounds=(1, None, ">= 1, or unset (all local devices)"))
    # steps between checkpoints in the run folder; Ctrl-C also writes one (unless 0)
    checkpoint_every: int = setting((int,), 1000, bounds=(0, None, ">= 0 (0: no checkpoints)"))
    on_divergence: str = setting((str,), "stop", choices=("stop", "rollback"))  # rollback: last good step, lower lr
    # learning-rate scale per rollback
    rollback_factor: float = setting(NUMBER, 0.5, bounds=(1e-6, 1 - 1e-6, "between 0 and 1 (exclusive)"))
    max_rollbacks: int = setting((int,), 3, bounds=(0, None, ">= 0"))  # rollbacks before the run stops
    check_memory: bool = setting((bool,), True)  # refuse a run whose memory estimate exceeds the device's
    # seconds of training (batch drawing and solver steps; no compilation or validation)
    time_budget: float | None = setting(
        OPTIONAL_NUMBER, None, bounds=(1e-9, None, "> 0 seconds, or unset for no limit")
    )
    # solver sections run in order on the same network, each with its own steps or time_budget
    # (config/_stages.py); empty: the solver section alone
    stages: list = setting((list,), [])
    # warm start: the folder of a trained run whose network (same architecture) this run starts from
    init_from: str | None = setting((str, type(None)), None)
