"""What training produced."""

import dataclasses

import numpy as np

from ..models import Solution


@dataclasses.dataclass
class TrainResult:
    """What training produced: the trained solution, the logged history and why it stopped."""

    solution: Solution
    history: dict[str, np.ndarray]  # HISTORY_FIELDS (then solver stats) -> (n_logs,)
    wall_time_s: float
    steps_done: int
    stop_reason: str
