"""Writes heat_inverse10_observations.csv, the synthetic observations of problems/heat_inverse10.yaml.

u = exp(-kappa t) sum_i sin(x_i) / d with kappa = 0.5 solves u_t = kappa lap_u in the 10-d unit ball.
1000 observations at points with a uniform direction and a uniform radius in [0, 1] (the interior as
well as the boundary layer) and times uniform in [0, 1], with Gaussian noise of standard deviation 1%
of the observations' RMS value (printed: the problem file's data.noise). Fixed seed: the file is the
same on every run. From the repository root: python problems/data/make_heat_inverse10.py
"""

import csv
from pathlib import Path

import numpy as np

DIMENSION, KAPPA, POINTS, SEED, NOISE = 10, 0.5, 1000, 37, 0.01


def observations(rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray, np.ndarray, float]:
    """Points x (n, d), times t (n,), noisy values (n,) and the noise's standard deviation."""
    direction = rng.standard_normal((POINTS, DIMENSION))
    direction /= np.linalg.norm(direction, axis=1, keepdims=True)
    x = direction * rng.uniform(0.0, 1.0, POINTS)[:, None]
    t = rng.uniform(0.0, 1.0, POINTS)
    u = np.exp(-KAPPA * t) * np.sin(x).sum(axis=1) / DIMENSION
    sigma = NOISE * float(np.sqrt(np.mean(u**2)))
    return x, t, u + sigma * rng.standard_normal(POINTS), sigma


def main() -> None:
    x, t, u, sigma = observations(np.random.default_rng(SEED))
    path = Path(__file__).with_name("heat_inverse10_observations.csv")
    with path.open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow([f"x{i}" for i in range(1, DIMENSION + 1)] + ["t", "u"])
        writer.writerows([[f"{v:.12g}" for v in row] for row in np.column_stack([x, t, u])])
    print(f"{path}: {POINTS} observations, noise standard deviation {sigma:.6g}")


if __name__ == "__main__":
    main()
