"""Collocation and evaluation point samplers (uniform, or scipy.stats.qmc Sobol/Halton).

A sampler draws uniforms in [0, 1)^(d + 2) (domain coordinates, one spare for radius or face,
one for time) and maps them through the domain. Its state is plain data (for checkpoints).
Interior points follow a mixture of the domain's two laws (``pdesolve.problem.INTERIOR_LAWS``):
a fraction ``radius_fraction`` of each draw from ``radius_uniform``, the rest from ``volume``,
spread evenly along the batch so that any contiguous part of it (a solver's held-out tail) holds
both laws in proportion.
"""

import dataclasses
import warnings

import numpy as np
from scipy.stats import qmc

from .problem import Domain

#: The share of radius-uniform points of each law of ``INTERIOR_LAWS`` (a mixture has its own weight).
LAW_FRACTIONS = {"volume": 0.0, "radius_uniform": 1.0}
#: Points drawn and mapped at a time by :meth:`PointSampler.interior` (bounds its temporaries).
DRAW_CHUNK = 2**16


def spread_evenly(n: int, fraction: float) -> np.ndarray:
    """A mask (n,) with floor(fraction * n) True entries spread evenly (a Bresenham pattern): every
    run of m consecutive entries holds fraction * m of them, up to one."""
    i = np.arange(n)
    return np.floor((i + 1) * fraction) > np.floor(i * fraction)


@dataclasses.dataclass
class PointSampler:
    """Draws (x (n, d), t (n,)) batches from a domain and an optional time interval."""

    domain: Domain
    time: tuple[float, float] | None
    kind: str = "uniform"
    seed: int = 0
    radius_fraction: float = 0.0  # of interior points drawn from the radius-uniform law

    @classmethod
    def for_law(cls, domain: Domain, time, kind: str, seed: int, law: str) -> "PointSampler":
        """A sampler whose interior points all follow ``law`` (one of ``INTERIOR_LAWS``)."""
        return cls(domain, time, kind, seed, radius_fraction=LAW_FRACTIONS[law])

    def __post_init__(self):
        width = self.domain.dim + 2
        if self.kind == "uniform":
            self._rng = np.random.default_rng(self.seed)
            self._draw = lambda n: self._rng.random((n, width))
        elif self.kind in ("sobol", "halton"):
            engine_type = qmc.Sobol if self.kind == "sobol" else qmc.Halton
            self._engine = engine_type(width, scramble=True, seed=self.seed)
            self._draw = self._quasi_random
        else:
            raise ValueError(f"unknown sampler {self.kind!r}; choose uniform, sobol or halton")

    def _quasi_random(self, n: int) -> np.ndarray:
        with warnings.catch_warnings():  # any n is fine here: Sobol balance is not relied on
            warnings.filterwarnings("ignore", message=".*balance properties of Sobol.*")
            return self._engine.random(n)

    def state(self) -> dict:
        """Where the stream is, as JSON-able data: the generator state, or the qmc draws so far."""
        if self.kind == "uniform":
            return {"bit_generator": self._rng.bit_generator.state}
        return {"draws": int(self._engine.num_generated)}

    def restore(self, state: dict) -> None:
        """Continues the stream from ``state`` (from :meth:`state` of a sampler built alike)."""
        if self.kind == "uniform":
            self._rng.bit_generator.state = state["bit_generator"]
        else:
            self._engine.reset()
            self._engine.fast_forward(state["draws"])

    def _times(self, uniforms: np.ndarray) -> np.ndarray:
        if self.time is None:
            return np.zeros(len(uniforms))
        t0, t1 = self.time
        return t0 + (t1 - t0) * uniforms[:, -1]

    def interior(self, n: int) -> tuple[np.ndarray, np.ndarray]:
        """Points x (n, d) in the domain (floor(radius_fraction * n) of them radius-uniform, spread
        evenly, the others uniform in volume), times t (n,) uniform.

        Drawn and mapped ``DRAW_CHUNK`` points at a time into x: only x and one chunk's uniforms and
        the domain's temporaries are held, however many points. The stream is the one of a single
        draw (the uniforms come row by row, and the domain maps each point on its own)."""
        radial = spread_evenly(n, self.radius_fraction)
        x, t = np.empty((n, self.domain.dim)), np.empty(n)
        for start in range(0, n, DRAW_CHUNK):
            stop = min(n, start + DRAW_CHUNK)
            u, part, rows = self._draw(stop - start), radial[start:stop], x[start:stop]
            rows[part] = self.domain.radius_uniform(u[part, :-1])
            rows[~part] = self.domain.volume(u[~part, :-1])
            t[start:stop] = self._times(u)
        return x, t

    def boundary(self, n: int) -> tuple[np.ndarray, np.ndarray]:
        """Points on the spatial boundary, times uniform."""
        u = self._draw(n)
        return self.domain.boundary(u[:, :-1]), self._times(u)

    def at_time(self, n: int, time: float) -> tuple[np.ndarray, np.ndarray]:
        """Points uniform in the domain (volume law) at one time (for initial/terminal conditions)."""
        u = self._draw(n)
        return self.domain.volume(u[:, :-1]), np.full(n, time)
