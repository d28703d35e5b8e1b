"""Error metrics of a prediction against the exact solution."""

import numpy as np


def error_metrics(pred: np.ndarray, exact: np.ndarray) -> dict[str, float]:
    """MSE, relative L2 and L1 (discrete, over the points) and max absolute error; inputs (n,)."""
    pred, exact = np.asarray(pred, np.float64), np.asarray(exact, np.float64)
    error = pred - exact
    mse, rel_l2 = float(np.mean(error**2)), float(np.linalg.norm(error) / np.linalg.norm(exact))
    np.abs(error, out=error)  # |error| in place of the error: one array per point
    return {
        "mse": mse,
        "rel_l2": rel_l2,
        "rel_l1": float(np.sum(error) / np.sum(np.abs(exact))),
        "max_abs_error": float(np.max(error)),
    }
