"""Spatial domains: box, ball, annulus (bounded) and whole space R^d with a sampling law.

Samplers take uniforms in [0, 1) of shape (n, dim + 1) (from numpy or scipy.stats.qmc) and
map them to points, so that every sampler (uniform, Sobol, Halton) works on every domain.

Each domain has two laws for its interior points (``INTERIOR_LAWS``):

- ``volume``: uniform in the domain (whole space: its normal law). In high dimension almost all
  of this law lies in a thin shell at the boundary (in a ball, P(r < R/2) = 2^-d).
- ``radius_uniform``: a uniform direction and a *normalised radius* (:meth:`Domain.radius`)
  uniform in [0, 1] (whole space: in [0, ``radius_max``]), so that the interior is seen as much
  as the boundary layer. Ball and annulus: Euclidean radius about the centre; box: the sup-norm
  radius about the centre in coordinates scaled to [-1, 1]. The test law of the STDE paper's tables.
"""

import abc
import dataclasses

import numpy as np
from jaxtyping import Array, Float
from scipy.special import ndtri
from scipy.stats import chi2

from ._boundary import (
    COONS_MAX_DIM,
    Field,
    box_extension,
    box_factor,
    box_normal,
    shell_factor,
    sphere_extension,
    sphere_normal,
)

INTERIOR_LAWS = ("volume", "radius_uniform")


@dataclasses.dataclass(frozen=True)
class Domain(abc.ABC):
    """A region of R^dim: bounded (box, ball, annulus) or all of R^dim (``WholeSpace``)."""

    dim: int
    bounded = True  # class constant: whether the domain has a boundary

    def interior(self, uniforms: np.ndarray, law: str = "volume") -> np.ndarray:
        """Maps uniforms (n, dim + 1) to points (n, dim) under ``law`` (one of ``INTERIOR_LAWS``)."""
        if law == "volume":
            return self.volume(uniforms)
        if law == "radius_uniform":
            return self.radius_uniform(uniforms)
        raise ValueError(f"unknown interior law {law!r}; choose one of {', '.join(INTERIOR_LAWS)}")

    @abc.abstractmethod
    def volume(self, uniforms: np.ndarray) -> np.ndarray:
        """Maps uniforms (n, dim + 1) to points (n, dim) distributed uniformly in the domain."""

    @abc.abstractmethod
    def radius_uniform(self, uniforms: np.ndarray) -> np.ndarray:
        """Maps uniforms (n, dim + 1) to points (n, dim) whose :meth:`radius` is uniform in
        [0, ``radius_max``], with a uniform direction."""

    @abc.abstractmethod
    def radius(self, x: np.ndarray) -> np.ndarray:
        """The normalised radius (n,) of points x (n, dim): 0 at :attr:`centre`, 1 on the (outer)
        boundary of a bounded domain."""

    @property
    @abc.abstractmethod
    def centre(self) -> np.ndarray:
        """The point (dim,) a user asks about first: the centre (annulus: mid-shell on the diagonal)."""

    @property
    def radius_max(self) -> float:
        """The largest normalised radius of the ``radius_uniform`` law (1 for a bounded domain)."""
        return 1.0

    @abc.abstractmethod
    def boundary(self, uniforms: np.ndarray) -> np.ndarray:
        """Maps uniforms (n, dim + 1) to points (n, dim) on the boundary (uniform in area)."""

    @abc.abstractmethod
    def line(self, n: int) -> tuple[np.ndarray, np.ndarray]:
        """A segment through the domain for plots: (s (n,) arc parameter, points (n, dim))."""

    @abc.abstractmethod
    def describe(self) -> str:
        """One line for people."""

    def boundary_distance(self, x: np.ndarray) -> np.ndarray | None:
        """Euclidean distance (n,) from points x (n, dim) to the boundary (negative outside); None
        where the domain has no boundary or does not say."""
        return None

    def inside(self, x: np.ndarray, tolerance: float = 0.0) -> np.ndarray:
        """Boolean (n,): points x (n, dim) in the closed domain, ``tolerance`` outside it included
        (all points where the domain does not know its ``boundary_distance``)."""
        distance = self.boundary_distance(x)
        return np.ones(len(x), bool) if distance is None else distance >= -tolerance

    def extent(self, x_test: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(low (dim,), high (dim,), centre (dim,)) of the region plots show; by default the test
        points' x_test (n, dim) bounding box and mean."""
        return x_test.min(axis=0), x_test.max(axis=0), x_test.mean(axis=0)

    # The boundary geometry of the exact-condition ansatz (``pdesolve.models``); a domain without it
    # (``exact_boundary`` False) takes its Dirichlet data as a loss.
    exact_boundary = False  # class constant: whether it has ``boundary_factor`` and ``extension``

    def boundary_factor(self) -> Field:
        """A smooth field (x, t) -> (n,) that is 0 on the boundary and 1 at the centre (or mid-shell)."""
        raise TypeError(f"no boundary factor for {type(self).__name__}")

    def extension(self, b: Field) -> Field:
        """E[b]: boundary data b extended into the domain, reading b on the boundary only (E = b there)."""
        raise TypeError(f"no boundary extension for {type(self).__name__}")

    @property
    def extension_affordable(self) -> bool:
        """Whether ``extension`` is cheap enough for ``ansatz: auto`` to build x-dependent data in."""
        return True

    def outward_normal(self, x: Float[Array, "n d"]) -> Float[Array, "n d"]:
        """Unit outward normals (n, dim) at boundary points x (n, dim)."""
        raise TypeError(f"no boundary (so no normal) for {type(self).__name__}")

    @property
    def size(self) -> float:
        """The domain's length scale (the normal derivative's difference step is relative to it)."""
        raise TypeError(f"no boundary (so no normal) for {type(self).__name__}")


@dataclasses.dataclass(frozen=True)
class Box(Domain):
    """The box prod_i [low_i, high_i]; ``low`` and ``high`` have shape (dim,)."""

    low: np.ndarray
    high: np.ndarray
    exact_boundary = True

    def volume(self, uniforms):
        return self.low + (self.high - self.low) * uniforms[:, : self.dim]

    def radius_uniform(self, uniforms):
        # A point uniform in the cube [-1, 1]^d, projected along its ray to the cube's surface, is
        # uniform on it (every face is at distance 1 from the centre); then scaled to the radius.
        y = 2.0 * uniforms[:, : self.dim] - 1.0
        sup = np.max(np.abs(y), axis=1, keepdims=True)
        on_surface = y / np.where(sup > 0, sup, 1.0)
        return self.centre + uniforms[:, self.dim, None] * on_surface * (self.high - self.low) / 2

    def radius(self, x):
        return np.max(np.abs(x - self.centre) / ((self.high - self.low) / 2), axis=1)

    @property
    def centre(self):
        return (self.low + self.high) / 2

    def boundary(self, uniforms):
        points = self.volume(uniforms)
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

    def boundary_distance(self, x):
        return np.min(np.minimum(x - self.low, self.high - x), axis=1)

    def boundary_factor(self):
        return box_factor(self.low, self.high)

    def extension(self, b):
        return box_extension(self.low, self.high, b)

    @property
    def extension_affordable(self):
        """Up to ``COONS_MAX_DIM`` dimensions: the Boolean-sum extension reads b 3^dim - 1 times per point."""
        return self.dim <= COONS_MAX_DIM

    def outward_normal(self, x):
        return box_normal(self.low, self.high, x)

    @property
    def size(self):
        return float(np.mean(self.high - self.low))

    def extent(self, x_test):
        return self.low, self.high, (self.low + self.high) / 2

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
    exact_boundary = True

    def volume(self, uniforms):
        # Radius with density ~ r^(dim-1) on [inner, outer], by inverting its CDF.
        r_in, r_out = self.inner / self.outer, 1.0
        radius = self.outer * (r_in**self.dim + uniforms[:, -1] * (r_out - r_in**self.dim)) ** (1.0 / self.dim)
        return self.center + radius[:, None] * _directions(uniforms[:, : self.dim])

    def radius_uniform(self, uniforms):
        radius = self.inner + (self.outer - self.inner) * uniforms[:, -1]
        return self.center + radius[:, None] * _directions(uniforms[:, : self.dim])

    def radius(self, x):
        return (np.linalg.norm(x - self.center, axis=1) - self.inner) / (self.outer - self.inner)

    @property
    def centre(self):
        diagonal = np.ones(self.dim) / np.sqrt(self.dim)
        return self.center + (self.inner + self.outer) / 2 * diagonal if self.inner > 0 else self.center

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

    def boundary_distance(self, x):
        r = np.linalg.norm(x - self.center, axis=1)
        return self.outer - r if self.inner == 0.0 else np.minimum(r - self.inner, self.outer - r)

    def boundary_factor(self):
        return shell_factor(self.center, self.inner, self.outer)

    def extension(self, b):
        return sphere_extension(self.center, self.inner, self.outer, b)

    def outward_normal(self, x):
        return sphere_normal(self.center, self.inner, self.outer, x)

    @property
    def size(self):
        return float(self.outer)

    def extent(self, x_test):
        return self.center - self.outer, self.center + self.outer, self.center

    def describe(self):
        shape = "ball" if self.inner == 0.0 else f"annulus inner radius {self.inner:g},"
        centre = "origin" if not np.any(self.center) else "given centre"
        return f"{shape} radius {self.outer:g} about the {centre} in {self.dim}-d"


def Ball(dim: int, center: np.ndarray, radius: float) -> Annulus:  # a constructor, named as the class it stands for
    """The ball |x - center| <= radius."""
    return Annulus(dim, center, 0.0, radius)


#: The quantile of the normal law's radius up to which whole-space radius laws and bands reach.
RADIUS_QUANTILE = 0.999


@dataclasses.dataclass(frozen=True)
class WholeSpace(Domain):
    """All of R^dim, with points drawn from N(mean, diag(std^2)); ``mean``, ``std`` shape (dim,).

    For Cauchy (initial/terminal-value) problems: there is no boundary; the normal law says where
    collocation and evaluation points lie (and so where errors are measured).
    """

    mean: np.ndarray
    std: np.ndarray
    reach: float = 0.0  # added to the squared radius_max: how far diffusion carries (``diffusion_reach``)
    bounded = False

    def volume(self, uniforms):
        """Uniforms (n, dim + 1) -> points (n, dim) ~ N(mean, std^2) through the normal quantile."""
        return self.mean + self.std * ndtri(np.clip(uniforms[:, : self.dim], 1e-12, 1 - 1e-12))

    def radius_uniform(self, uniforms):
        """Points mean + std * sqrt(dim) * rho * theta, theta a uniform direction, rho uniform in
        [0, ``radius_max``]: the mean's neighbourhood, which the normal law never visits at large d."""
        rho = self.radius_max * uniforms[:, -1]
        return self.mean + self.std * np.sqrt(self.dim) * rho[:, None] * _directions(uniforms[:, : self.dim])

    def radius(self, x):
        """|(x - mean) / std| / sqrt(dim): about 1 for the normal law's points at large dim."""
        return np.linalg.norm((x - self.mean) / self.std, axis=1) / np.sqrt(self.dim)

    @property
    def centre(self):
        return self.mean

    @property
    def radius_max(self):
        """The normal law's 99.9 % quantile of :meth:`radius` (chi distribution with dim degrees),
        widened by ``reach`` in its square (a training domain's: see ``diffusion_reach``)."""
        return float(np.sqrt(chi2.ppf(RADIUS_QUANTILE, self.dim) / self.dim + self.reach))

    def boundary(self, uniforms):
        raise ValueError("a whole-space domain has no boundary: give no boundary condition")

    def line(self, n):
        """s in [-2, 2] standard deviations along the diagonal: points mean + s * std (n, dim)."""
        s = np.linspace(-2.0, 2.0, n)
        return s, self.mean + s[:, None] * self.std

    def extent(self, x_test):
        """mean +- 2 std, centred at the mean."""
        return self.mean - 2 * self.std, self.mean + 2 * self.std, self.mean

    def describe(self):
        if np.all(self.mean == self.mean[0]) and np.all(self.std == self.std[0]):
            return f"whole space R^{self.dim}, points ~ N({self.mean[0]:g}, {self.std[0]:g}^2) per component"
        return f"whole space R^{self.dim}, points ~ normal with per-component mean and std"
