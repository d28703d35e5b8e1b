"""The training history: one row per log, ``HISTORY_FIELDS`` then solver-specific stats."""

import numpy as np

HISTORY_FIELDS = ("step", "loss", "rel_l2", "mse", "wall_time", "train_time", "loss_evals", "network_evals")


class History:
    """The logged rows: one list per column, ``HISTORY_FIELDS`` then solver-specific stats."""

    def __init__(self, columns: dict[str, list] | None = None):
        columns = columns if columns is not None else {name: [] for name in HISTORY_FIELDS}
        self.columns = {name: list(values) for name, values in columns.items()}

    def __len__(self) -> int:
        return len(self.columns["step"])

    def append(self, row: dict[str, float], stats: dict) -> None:
        """Appends ``row`` (HISTORY_FIELDS -> value) and the solver's extra ``stats`` (e.g. the hybrid stage)."""
        for name, value in row.items():
            self.columns[name].append(value)
        for name in stats.keys() - {"loss", "loss_evals"}:
            self.columns.setdefault(name, []).append(float(stats[name]))

    def last_row(self) -> dict[str, float]:
        """The last logged row's ``HISTORY_FIELDS``."""
        return {name: self.columns[name][-1] for name in HISTORY_FIELDS}

    def truncate(self, rows: int) -> None:
        """Keeps the first ``rows`` rows."""
        self.columns = {name: values[:rows] for name, values in self.columns.items()}

    def arrays(self) -> dict[str, np.ndarray]:
        """Column name -> (n_logs,) array."""
        return {name: np.asarray(values) for name, values in self.columns.items()}
