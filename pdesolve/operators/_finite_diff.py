"""Central finite differences on the 2d+1 (+ time) stencil, on k random coordinates per point, or
along a symmetry's directions for a network on its features (``_symmetric``, ``on_symmetry``).

Every stencil node is the point moved along one input coordinate, ``z + s e_j``. When the field
is a ``Solution`` whose network has ``stencil_values`` (the MLP), the first affine layer at a
node is ``(W z + b) + s W[:, j]``: it is computed once per point and one column is added per node
(O(w) per node instead of O(d w)), see ``_network_nodes``.
The ansatz's base and factor are still evaluated at the (n m, d) node coordinates: at large d
that memory traffic dominates an unchunked call, and ``operators.chunk_size`` of 5-20 points keeps
it in cache. They hold no parameters: ``prepare`` evaluates them once for a batch and key, in
cache-sized chunks, for a solver that evaluates the residual many times on it (Gauss-Newton: the
Jacobian and the line search). Measurements: benchmarks/results/finite_difference_defaults/.
"""

import dataclasses
from collections.abc import Callable

import equinox as eqx
import jax
import jax.numpy as jnp
from jaxtyping import Array, Float, Int, PRNGKeyArray

from ..problem import Subspace
from ._base import AbstractOperatorEngine, Ansatz, BatchedField
from ._chunking import map_over_points
from ._directional import directions_in, fd_directional, random_directions
from ._spec import COORDINATES, SHARED_FIELDS, AbstractEngineSpec, engine_field
from ._symmetric import SymmetryStencil, ansatz_at_nodes, field_at_nodes, time_operators

#: Default steps by precision (``operators.step`` unset). The central second difference has
#: error ~ h^2 |u''''| / 12 (truncation) + 4 eps |u| / h^2 (round-off), smallest near
#: h ~ (48 eps |u| / |u''''|)^(1/4). float64 steps above that optimum, a margin for solvers that
#: difference the residual again over parameters (Gauss-Newton); float32 where round-off stops
#: dominating. Measurements: benchmarks/results/finite_difference_defaults/.
DEFAULT_STEPS = {"float64": 1e-3, "float32": 3e-2}

#: Node coordinates (points x nodes x d) per chunk where ``prepare`` evaluates the ansatz's base and
#: factor without ``chunk_size``: 1 MB of float64 stays in cache (benchmarks/results/finite_difference_defaults/).
PREPARE_CHUNK_VALUES = 2**17


def default_step(dtype) -> float:
    """The finite-difference step used when ``operators.step`` is unset, by the points' dtype."""
    return DEFAULT_STEPS["float64" if jnp.dtype(dtype) == jnp.float64 else "float32"]


def _stencil_parts(needs: frozenset[str]) -> tuple[bool, bool, bool]:
    """Which stencil parts ``needs`` uses: (centre, space pairs, time pair)."""
    centre = bool(needs & {"u", "u_xx", "lap_u", "u_tt"})
    space = bool(needs & {"u_x", "u_xx", "lap_u"})
    time = bool(needs & {"u_t", "u_tt"})
    return centre, space, time


def _network_nodes(u: Ansatz, x, t, coords, shifts, aware: bool) -> Float[Array, "n m"]:
    """The ansatz's network at the nodes: through the stencil-aware first layer ``a0 + s W[:, j]``
    (the first layer at ``z + s e_j``, z = (x, t) or x) when ``aware`` and the network has
    ``stencil_values(z, coords, shifts)``, else at the node coordinates."""
    network = u.network
    if aware and hasattr(network, "stencil_values"):
        return network.stencil_values(jnp.concatenate([x, t[:, None]], axis=1) if u.has_time else x, coords, shifts)
    xs, ts = _node_points(x, t, coords, shifts)
    return network(jnp.concatenate([xs, ts[:, None]], axis=1) if u.has_time else xs).reshape(coords.shape)


def ansatz_parts(u: Ansatz, x, t, coords, shifts) -> tuple[Float[Array, "n m"], Float[Array, "n m"]]:
    """The ansatz's (base, factor) at the nodes: no parameters, so a solver can compute them once
    per batch and key (``FiniteDifferenceEngine.prepare``)."""
    xs, ts = _node_points(x, t, coords, shifts)
    return u.base(xs, ts).reshape(coords.shape), u.factor(xs, ts).reshape(coords.shape)


def stencil_points(
    z: Float[Array, "n k"], coords: Int[Array, "n m"], shifts: Float[Array, "n m"]
) -> Float[Array, "nm k"]:
    """The nodes ``z[p] + shifts[p, j] e_coords[p, j]`` as rows (n m, k); an index >= k moves nothing."""
    move = shifts[..., None] * jax.nn.one_hot(coords, z.shape[1], dtype=z.dtype)
    return (z[:, None, :] + move).reshape(-1, z.shape[1])


def _node_points(x, t, coords, shifts):
    """Node coordinates ``(n m, d)`` and times ``(n m,)``; coordinate index d is time."""
    ts = (t[:, None] + jnp.where(coords == x.shape[1], shifts, 0.0)).reshape(-1)
    return stencil_points(x, coords, shifts), ts


def node_values(
    u: BatchedField,
    x,
    t,
    coords: Int[Array, "n m"],
    shifts: Float[Array, "n m"],
    aware: bool = True,
    parts: tuple[Array, Array] | None = None,
) -> Float[Array, "n m"]:
    """``u`` at the nodes ``(x, t) + shifts e_coords`` (coordinate d is t): shape (n, m).

    ``aware``: use the stencil-aware first layer when ``u`` exposes it (same numbers, less work).
    ``parts``: an ansatz's ``ansatz_parts`` at these nodes, computed before (else computed here).
    """
    if not isinstance(u, Ansatz):
        xs, ts = _node_points(x, t, coords, shifts)
        return u(xs, ts).reshape(coords.shape)
    base, factor = parts if parts is not None else ansatz_parts(u, x, t, coords, shifts)
    return base + factor * _network_nodes(u, x, t, coords, shifts, aware)


def _scatter(values: Float[Array, "n k"], coords: Int[Array, "n k"], d: int) -> Float[Array, "n d"]:
    """(n, d) zeros with ``values`` placed at ``coords`` (row-wise)."""
    return jnp.zeros((values.shape[0], d), values.dtype).at[jnp.arange(values.shape[0])[:, None], coords].set(values)


def _draw_coordinates(key: PRNGKeyArray, n: int, d: int, k: int) -> Int[Array, "n k"]:
    """k distinct coordinates of 0..d-1 per point, uniformly without replacement."""
    return jax.lax.top_k(jax.random.uniform(key, (n, d)), k)[1]


def _average(a: dict, b: dict) -> dict:
    return {name: (a[name] + b[name]) / 2 for name in a}


class FiniteDifferenceEngine(AbstractOperatorEngine):
    """Second-order central differences with step ``step`` in space coordinates and in t.

    Stencil: the point, ``x +- h e_i`` and ``t +- h``, all evaluated in one call:
    ``u_x = (u+ - u-) / 2h``, ``u_xx = (u+ + u- - 2u) / h^2``, ``lap_u = sum_i u_xx``.
    ``step=None`` picks ``default_step`` for the points' dtype.

    ``coordinates=k < d``: only k coordinates per point (``all``: every one), drawn from ``key`` without replacement,
    and scaled by d/k, so that ``u_x``, ``u_xx`` (zero off the drawn set) and ``lap_u`` are
    unbiased; ``residual`` combines two independent sets so that residuals quadratic in them
    (``grad_u_sq = sum u_x[i]^2``) are unbiased too. ``aware`` switches the stencil-aware first
    layer (same numbers) on or off. A Hessian contraction (``SecondDirections`` in ``needs``) is
    differenced along its k directions (``_directional``): 2k + 1 nodes, or Hutchinson directions
    (``coordinates`` per sign, unbiased) when ``coordinates`` is below its rank.
    """

    step: float | None = engine_field(SHARED_FIELDS["step"])
    coordinates: str | int = engine_field(COORDINATES)
    chunk_size: int | None = engine_field(SHARED_FIELDS["chunk_size"])
    aware: bool = eqx.field(static=True, default=True)
    symmetry: SymmetryStencil | None = eqx.field(static=True, default=None)

    def __check_init__(self):
        if self.step is not None and not self.step > 0:
            raise ValueError(f"the finite-difference step must be > 0, got {self.step}")
        if self.coordinates != "all" and not (isinstance(self.coordinates, int) and self.coordinates >= 1):
            raise ValueError(f"coordinates must be an integer >= 1 or 'all', got {self.coordinates!r}")

    @property
    def name(self) -> str:
        if self.symmetry is not None:
            return "fd-symmetric"
        return "fd" if self.coordinates == "all" else f"fd{self.coordinates}"

    def on_symmetry(self, subspace: Subspace) -> "FiniteDifferenceEngine":
        """Differences along the symmetry's directions (``_symmetric``) instead of coordinates:
        exact for a field of its features at 2 (k + 2) + 1 nodes, so ``coordinates`` is not drawn."""
        return dataclasses.replace(self, symmetry=SymmetryStencil.of(subspace))

    @property
    def differentiates_network(self) -> bool:
        return False

    @property
    def point_chunk(self) -> int | None:
        return self.chunk_size

    def _k(self, dim: int) -> int | None:
        """Coordinates drawn per point, or None for all (also when k >= d, or along a symmetry's directions)."""
        if self.symmetry is not None or not isinstance(self.coordinates, int) or self.coordinates >= dim:
            return None
        return self.coordinates

    def evals_per_point(self, needs: frozenset[str], dim: int) -> int:
        """Nodes per point; with random coordinates, the two sets ``residual`` evaluates."""
        return len(self._set_keys(dim, needs, None)) * self._nodes_per_set(needs, dim)

    def _nodes_per_set(self, needs: frozenset[str], dim: int) -> int:
        centre, space, time = _stencil_parts(needs)
        hessians = sum(2 * h.count(self._k(dim)) + 1 for h in directions_in(needs))
        pairs = self.symmetry.count if self.symmetry is not None else (self._k(dim) or dim)
        return int(centre) + 2 * pairs * int(space) + 2 * int(time) + hessians

    def __call__(
        self,
        u: BatchedField,
        x: Float[Array, "n d"],
        t: Float[Array, " n"],
        needs: frozenset[str],
        key: PRNGKeyArray | None = None,
        parts: tuple[Array, Array] | None = None,
    ) -> dict[str, Array]:
        """The operators (see the base class); ``parts``: the ansatz's base and factor at this
        call's nodes, from ``prepare`` (else computed at the nodes here)."""
        chosen = self._draw(x, needs, key)
        extra = () if chosen is None else (chosen,)

        def evaluate(xc, tc, *rest):
            cc = rest[0] if chosen is not None else None
            return self._evaluate(u, xc, tc, needs, cc, rest[len(extra) :] or None)

        named = {n for n in needs if isinstance(n, str)}
        out = map_over_points(evaluate, x, t, self.chunk_size, *extra, *(parts or ())) if named else {}
        samples = self._k(x.shape[1])
        for m, hessian in enumerate(directions_in(needs)):
            sub = None if key is None else jax.random.fold_in(key, 1 + m)
            out[hessian.name] = fd_directional(u, x, t, hessian, self._step(x.dtype), samples, sub)
        return out

    def residual(self, residual: Callable, u, x, t, f, needs, key=None, prepared=None) -> Float[Array, " n"]:
        """Unbiased residual for random coordinates: ``2 R((a + b) / 2) - (R(a) + R(b)) / 2`` from
        two independent coordinate sets a, b; exact for R affine, unbiased for R quadratic in the
        drawn operators (HJB's grad_u_sq); biased (bias ~ Var/k) for other nonlinearities.
        ``prepared``: ``prepare``'s output for the same points and key."""
        keys = self._set_keys(x.shape[1], needs, key)
        ops = [self(u, x, t, needs, k, p) for k, p in zip(keys, prepared or (None,) * len(keys))]
        if len(ops) == 1:
            return residual(ops[0], x, t, f)
        mean = residual(_average(*ops), x, t, f)
        return 2 * mean - (residual(ops[0], x, t, f) + residual(ops[1], x, t, f)) / 2

    def prepare(self, u, x, t, needs, key=None):
        """The ansatz's (base, factor) at the nodes of each operator evaluation of ``residual``
        (one, or one per random coordinate set), each (n, m); None when ``u`` is no ansatz."""
        if not isinstance(u, Ansatz):
            return None
        h = self._step(x.dtype)
        _n, d = x.shape
        chunk = self.chunk_size or max(1, PREPARE_CHUNK_VALUES // (self._nodes_per_set(needs, d) * d))

        def at_nodes(xc, tc, *cc):
            if self.symmetry is not None:
                return ansatz_at_nodes(u, *self.symmetry.nodes(xc, tc, _stencil_parts(needs), h)[:2])
            return ansatz_parts(u, xc, tc, *self._nodes(xc, tc, needs, cc[0] if cc else None, h))

        def parts(k):
            chosen = self._draw(x, needs, k)
            extra = () if chosen is None else (chosen,)
            return map_over_points(
                at_nodes,
                x,
                t,
                chunk,
                *extra,
            )

        return tuple(parts(k) for k in self._set_keys(d, needs, key))

    def _draw(self, x, needs, key) -> Int[Array, "n k"] | None:
        """The random coordinates of one operator evaluation, or None for all coordinates."""
        n, d = x.shape
        k = self._k(d)
        if k is None or not _stencil_parts(needs)[1]:
            return None
        if key is None:
            raise ValueError("random finite-difference coordinates need a key")
        return _draw_coordinates(key, n, d, k)

    def _set_keys(self, dim: int, needs, key) -> tuple:
        """The keys of the operator evaluations ``residual`` combines: one, or two independent ones
        (with ``key`` None: as many Nones)."""
        if self._k(dim) is None or not (_stencil_parts(needs)[1] or random_directions(needs, dim, self._k(dim))):
            return (key,)
        return (None, None) if key is None else tuple(jax.random.split(key))

    def _step(self, dtype) -> float:
        return self.step if self.step is not None else default_step(dtype)

    def _nodes(self, x, t, needs, chosen, h):
        """(coordinates (n, m), shifts (n, m)) of the stencil: [centre], +h, -h, [t + h, t - h]."""
        n, d = x.shape
        centre, space, time = _stencil_parts(needs)
        cols = chosen if chosen is not None else jnp.broadcast_to(jnp.arange(d), (n, d))
        coords, shifts = [], []
        parts = [(centre, jnp.zeros((n, 1), int), 0.0)]
        parts += [(space, cols, h), (space, cols, -h), (time, jnp.full((n, 2), d), jnp.array([h, -h]))]
        for used, c, s in parts:
            if used:
                coords.append(c)
                shifts.append(jnp.broadcast_to(jnp.asarray(s, x.dtype), c.shape))
        return jnp.concatenate(coords, axis=1), jnp.concatenate(shifts, axis=1)

    def _evaluate(self, u, x, t, needs, chosen, parts):
        _n, d = x.shape
        h = self._step(x.dtype)
        if self.symmetry is not None:
            xs, ts, directions = self.symmetry.nodes(x, t, _stencil_parts(needs), h)
            values = field_at_nodes(u, xs, ts, parts)
            return self.symmetry.operators(values, directions, _stencil_parts(needs), needs, h)
        centre, space, time = _stencil_parts(needs)
        values = node_values(u, x, t, *self._nodes(x, t, needs, chosen, h), aware=self.aware, parts=parts)
        f0 = values[:, 0] if centre else None
        out: dict[str, Array] = {}
        if "u" in needs:
            out["u"] = f0
        if space:
            k = d if chosen is None else chosen.shape[1]
            plus, minus = values[:, int(centre) : int(centre) + k], values[:, int(centre) + k : int(centre) + 2 * k]
            scale = 1.0 if chosen is None else d / k  # unbiased: each coordinate drawn with probability k/d
            spread = (lambda v: v) if chosen is None else (lambda v: _scatter(v, chosen, d))
            if "u_x" in needs:
                out["u_x"] = spread(scale * (plus - minus) / (2 * h))
            if needs & {"u_xx", "lap_u"}:
                diag = scale * (plus + minus - 2 * f0[:, None]) / h**2
                if "u_xx" in needs:
                    out["u_xx"] = spread(diag)
                if "lap_u" in needs:
                    out["lap_u"] = jnp.sum(diag, axis=1)
        if time:
            out.update(time_operators(values, f0, needs, h))
        return out


class FiniteDifferenceSpec(AbstractEngineSpec):
    """``fd``: central differences, on all coordinates or on k random ones per point (unbiased)."""

    method = "fd"
    fields = {"step": SHARED_FIELDS["step"], "coordinates": COORDINATES, "chunk_size": SHARED_FIELDS["chunk_size"]}

    def build(self, settings, *, dim, has_time):
        return FiniteDifferenceEngine(
            step=settings.step, coordinates=settings.coordinates, chunk_size=settings.chunk_size
        )
