"""Spatial domains: box, ball, annulus (bounded) and whole space R^d with a sampling law.

Samplers take uniforms in [0, 1) of shape (n, dim + 1) (from numpy or scipy.stats.qmc) and
map them to points, so that every sampler (uniform, Sobol, Halton) works on every domain.
"""

import abc
import dataclasses

import numpy as np
from scipy.special import ndtri


@dataclasses.dataclass(frozen=True)
class Domain(abc.ABC):
    """A region of R^dim: bounded (box, ball, annulus) or all of R^dim (``WholeSpace``)."""

    dim: int
    bounded = True  # class constant: whether the domain has a boundary

    @abc.abstractmethod
    def interior(self, uniforms: np.ndarray) -> np.ndarray:
        """Maps uniforms (n, dim + 1) to points (n, dim) distributed uniformly in the domain."""

    @abc.abstractmethod
    def boundary(self, uniforms: np.ndarray) -> np.ndarray:
        """Maps uniforms (n, dim + 1) to points (n, dim) on the boundary (uniform in area)."""

    @abc.abstractmethod
    def line(self, n: int) -> tuple[np.ndarray, np.ndarray]:
        """A segment through the domain for plots: (s (n,) arc parameter, points (n, dim))."""

    @abc.abstractmethod
    def describe(self) -> str:
        """One line for people."""


@dataclasses.dataclass(frozen=True)
class Box(Domain):
    """The box prod_i [low_i, high_i]; ``low`` and ``high`` have shape (dim,)."""

    low: np.ndarray
    high: np.ndarray

    def interior(self, uniforms):
        return self.low + (self.high - self.low) * uniforms[:, : self.dim]

    def boundary(self, uniforms):
        points = self.interior(uniforms)
        # Choose a face with probability proportional to its area: faces x_i = low_i / high_i have
        # area prod_{j != i} (high_j - low_j), i.e. proportional to 1 / (high_i - low_i).
        widths = self.high - self.low
        face_weights = np.repeat(1.0 / widths, 2) / np.sum(2.0 / widths)
        face = np.searchsorted(np.cumsum(face_weights), uniforms[:, self.dim], side="right")
        face = np.minimum(face, 2 * self.dim - 1)
        axis, upper = face // 2, face % 2
        rows = np.arange(len(points))
        points[rows, axis] = np.where(upper == 1, self.high[axis], self.low[axis])
        return points

    def line(self, n):
        s = np.linspace(0.0, 1.0, n)
        return s, self.low + s[:, None] * (self.high - self.low)

    def describe(self):
        if np.all(self.low == self.low[0]) and np.all(self.high == self.high[0]):
            return f"box [{self.low[0]:g}, {self.high[0]:g}]^{self.dim}"
        return f"box with per-dimension bounds in {self.dim}-d"


def _directions(uniforms: np.ndarray) -> np.ndarray:
    gauss = ndtri(np.clip(uniforms, 1e-12, 1 - 1e-12))
    return gauss / np.linalg.norm(gauss, axis=1, keepdims=True)


@dataclasses.dataclass(frozen=True)
class Annulus(Domain):
    """Points with inner <= |x - center| <= outer; ``center`` has shape (dim,). A ball has inner 0."""

    center: np.ndarray
    inner: float
    outer: float

    def interior(self, uniforms):
        # Radius with density ~ r^(dim-1) on [inner, outer], by inverting its CDF.
        r_in, r_out = self.inner / self.outer, 1.0
        radius = self.outer * (r_in**self.dim + uniforms[:, -1] * (r_out - r_in**self.dim)) ** (1.0 / self.dim)
        return self.center + radius[:, None] * _directions(uniforms[:, : self.dim])

    def boundary(self, uniforms):
        directions = _directions(uniforms[:, : self.dim])
        if self.inner == 0.0:
            return self.center + self.outer * directions
        # Inner and outer spheres chosen in proportion to their areas ~ r^(dim-1).
        p_inner = 1.0 / (1.0 + (self.outer / self.inner) ** (self.dim - 1))
        radius = np.where(uniforms[:, -1] < p_inner, self.inner, self.outer)
        return self.center + radius[:, None] * directions

    def line(self, n):
        direction = np.ones(self.dim) / np.sqrt(self.dim)
        s = np.linspace(-self.outer, self.outer, n)
        return s, self.center + s[:, None] * direction

    def describe(self):
        shape = "ball" if self.inner == 0.0 else f"annulus inner radius {self.inner:g},"
        centre = "origin" if not np.any(self.center) else "given centre"
        return f"{shape} radius {self.outer:g} about the {centre} in {self.dim}-d"


def Ball(dim: int, center: np.ndarray, radius: float) -> Annulus:  # noqa: N802 (a constructor)
    """The ball |x - center| <= radius."""
    return Annulus(dim, center, 0.0, radius)


@dataclasses.dataclass(frozen=True)
class WholeSpace(Domain):
    """All of R^dim, with points drawn from N(mean, diag(std^2)); ``mean``, ``std`` shape (dim,).

    For Cauchy (initial/terminal-value) problems: there is no boundary; the normal law says where
    collocation and evaluation points lie (and so where errors are measured).
    """

    mean: np.ndarray
    std: np.ndarray
    bounded = False

    def interior(self, uniforms):
        """Uniforms (n, dim + 1) -> points (n, dim) ~ N(mean, std^2) through the normal quantile."""
        return self.mean + self.std * ndtri(np.clip(uniforms[:, : self.dim], 1e-12, 1 - 1e-12))

    def boundary(self, uniforms):
        raise ValueError("a whole-space domain has no boundary: give no boundary condition")

    def line(self, n):
        """s in [-2, 2] standard deviations along the diagonal: points mean + s * std (n, dim)."""
        s = np.linspace(-2.0, 2.0, n)
        return s, self.mean + s[:, None] * self.std

    def describe(self):
        if np.all(self.mean == self.mean[0]) and np.all(self.std == self.std[0]):
            return f"whole space R^{self.dim}, points ~ N({self.mean[0]:g}, {self.std[0]:g}^2) per component"
        return f"whole space R^{self.dim}, points ~ normal with per-component mean and std"
