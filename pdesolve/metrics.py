"""Error metrics of a prediction against the exact solution."""

import numpy as np


def error_metrics(pred: np.ndarray, exact: np.ndarray) -> dict[str, float]:
    """MSE, relative L2 and L1 (discrete, over the points) and max absolute error; inputs (n,)."""
    pred, exact = np.asarray(pred, np.float64), np.asarray(exact, np.float64)
    error = pred - exact
    return {
        "mse": float(np.mean(error**2)),
        "rel_l2": float(np.linalg.norm(error) / np.linalg.norm(exact)),
        "rel_l1": float(np.sum(np.abs(error)) / np.sum(np.abs(exact))),
        "max_abs_error": float(np.max(np.abs(error))),
    }
