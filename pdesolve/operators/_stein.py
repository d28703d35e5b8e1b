"""Stein estimators: operators of the Gaussian-smoothed field from evaluations of u only.

With ``f_s(z) = E f(z + s delta)``, ``delta ~ N(0, I_D)``, and a rule symmetric under
``delta -> -delta`` (centre weight ``w_0``, mirror pairs ``+-delta_p`` of weight ``w_p`` each),
the antithetic estimators of docs/methods.md#stein-estimators become sums over pairs of
``odd_p = f(z + s delta_p) - f(z - s delta_p)`` and ``even_p = f(z + s delta_p) + f(z - s delta_p) - 2 f(z)``:

    f_s         = w_0 f(z) + sum_p w_p (f(z + s delta_p) + f(z - s delta_p))
    d_i f_s     = sum_p w_p delta_pi odd_p / s
    d_ii f_s    = sum_p w_p (delta_pi^2 - 1) even_p / s^2
    lap_x f_s   = sum_p w_p (sum_{i in space} delta_pi^2 - d) even_p / s^2
    v^T H_s v   = sum_p w_p ((v . delta_p)^2 - |v|^2) even_p / s^2   (a Hessian contraction's directions)

Each node is evaluated once; its mirror is the antithetic sample. With time smoothed jointly,
z = (x, t) and D = d + 1; the Laplacian sums the space coordinates only (it is the sum of the
per-coordinate estimators, so unbiased for the spatial Laplacian of f_s).

With ``smooth = "network"`` and an ansatz ``u = g + phi * N`` (``Ansatz``) only the network is
smoothed: the engine returns the operators of ``g + phi * N_s``, with N_s's from the rule and
g's, phi's by forward-mode autodiff of those known functions (product rule, ``_product``). The
trained and reported field then meets the exact conditions, and has no O(s^2) smoothing bias of
g and phi (with ``smooth = "solution"``, u_s misses the boundary data by O(s^2)).
"""

import abc
from typing import Any

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
from jaxtyping import Array, Float, PRNGKeyArray

from ..fields import MAX_POINTS, Field
from ..problem import directional_derivatives, directions_in
from ._autodiff import AutodiffEngine
from ._base import AbstractOperatorEngine, Ansatz, BatchedField
from ._chunking import map_over_points
from ._product import expanded_needs, product_rule
from ._sparse_grid import SymmetricRule, symmetric_sparse_grid
from ._spec import SHARED_FIELDS, AbstractEngineSpec, engine_field

_SECOND_ORDER = frozenset({"u_xx", "lap_u"})
_TIME = frozenset({"u_t", "u_tt"})
SMOOTH = SHARED_FIELDS["smooth"].choices or ()
#: The central-difference step in t of the smoothed field when time is not smoothed (``smooth_time``
#: False) and ``operators.step`` is unset.
TIME_STEP = 1e-2
_LEVEL_RULE = "between 3 and 8 (level 2 is exact to degree 3 only; nodes grow fast with the level; 3 is the reference)"
LEVEL = Field((int,), 3, bounds=(3, 8, _LEVEL_RULE))
SAMPLES = Field((int,), 1024, bounds=(1, MAX_POINTS, f"between 1 and {MAX_POINTS}"))


class AbstractSteinEngine(AbstractOperatorEngine):
    """Operators of the smoothed field ``f_s`` from a symmetric rule for N(0, I_D).

    ``smooth_time``: smooth t jointly with x (D = d + 1); otherwise only x is smoothed
    (D = d) and ``u_t``, ``u_tt`` are central differences of ``f_s`` in t with step ``time_step``
    (``step``, or ``TIME_STEP`` when it is None).
    ``chunk_size`` bounds the points per vectorised call (``jax.lax.map`` over chunks).
    ``smooth``: ``network`` (an ansatz's network only, see the module docstring) or ``solution``.
    """

    sigma: eqx.AbstractVar[float]
    smooth: eqx.AbstractVar[str]
    smooth_time: eqx.AbstractVar[bool]
    step: eqx.AbstractVar[float | None]
    chunk_size: eqx.AbstractVar[int | None]

    @property
    def time_step(self) -> float:
        """The central-difference step in t of the smoothed field (when ``smooth_time`` is False)."""
        return TIME_STEP if self.step is None else self.step

    @property
    def differentiates_network(self) -> bool:
        return False

    @property
    def point_chunk(self) -> int | None:
        return self.chunk_size

    @abc.abstractmethod
    def rule(self, dim: int, key: PRNGKeyArray | None) -> SymmetricRule:
        """The symmetric rule over ``dim`` smoothed coordinates."""

    @abc.abstractmethod
    def rule_size(self, dim: int) -> tuple[int, bool]:
        """(number of mirror pairs, whether the centre has nonzero weight) of ``rule(dim, .)``."""

    def _plan(self, needs: frozenset[str], dim: int) -> tuple[tuple[float, ...], bool, frozenset[str]]:
        """(time shifts evaluated, whether the centre is evaluated, operators wanted at shift 0)."""
        _, centre_weighted = self.rule_size(dim + int(self.smooth_time))
        time_fd = not self.smooth_time and bool(needs & _TIME)
        at_t = needs - _TIME if time_fd else needs
        if time_fd and "u_tt" in needs:
            at_t = at_t | {"u"}
        shifts = ((0.0,) if at_t else ()) + ((self.time_step, -self.time_step) if time_fd else ())
        second = at_t & (_SECOND_ORDER | ({"u_tt"} if self.smooth_time else set())) or directions_in(at_t)
        smoothed_value = "u" in at_t or time_fd
        centre = bool(second) or (smoothed_value and centre_weighted)
        return shifts, centre, at_t

    def evals_per_point(self, needs: frozenset[str], dim: int) -> int:
        needs = expanded_needs(needs) if self.smooth == "network" else needs
        shifts, centre, _ = self._plan(needs, dim)
        n_pairs, _ = self.rule_size(dim + int(self.smooth_time))
        return len(shifts) * (2 * n_pairs + int(centre))

    def __call__(
        self,
        u: BatchedField,
        x: Float[Array, "n d"],
        t: Float[Array, " n"],
        needs: frozenset[str],
        key: PRNGKeyArray | None = None,
    ) -> dict[str, Array]:
        if self.smooth == "network" and isinstance(u, Ansatz):
            return self._ansatz(u, x, t, needs, key)
        out = self._operators(u, x, t, needs, key)
        return {k: v for k, v in out.items() if isinstance(k, str)}

    def _operators(self, u, x, t, needs, key) -> dict:
        """The operators, and for each Hessian contraction its k directional values under ``(name, "each")``."""
        rule = self.rule(x.shape[1] + int(self.smooth_time), key)
        return map_over_points(lambda xc, tc: self._evaluate(u, xc, tc, needs, rule), x, t, self.chunk_size)

    def _ansatz(self, u: Ansatz, x, t, needs, key) -> dict[str, Array]:
        """Operators of ``g + phi * N_s`` (n,) / (n, d): N_s's from the rule, g's and phi's exact; a
        Hessian contraction direction by direction, ``D_vv u = D_vv g + D_vv phi N + 2 D_v phi D_v N + phi D_vv N``."""
        hessians = directions_in(needs)
        names = frozenset(n for n in needs if isinstance(n, str))
        wanted = expanded_needs(names) | ({"u_x"} if hessians else set()) | set(hessians)

        def network(xs, ts):
            return u.network(jnp.concatenate([xs, ts[:, None]], axis=1) if u.has_time else xs)

        exact = AutodiffEngine()
        net = self._operators(network, x, t, wanted, key)
        factor = exact(u.factor, x, t, expanded_needs(names))
        out = product_rule(exact(u.base, x, t, names), factor, net, names)
        for hessian in hessians:
            v = hessian.directions(x, t)
            _, base_second = directional_derivatives(u.base, x, t, v)
            factor_first, factor_second = directional_derivatives(u.factor, x, t, v)
            net_first = jnp.einsum("nkd,nd->nk", v, net["u_x"])
            each = (
                base_second
                + factor_second * net["u"][:, None]
                + 2 * factor_first * net_first
                + factor["u"][:, None] * net[(hessian.name, "each")]
            )
            out[hessian.name] = each @ jnp.asarray(hessian.weights, x.dtype)
        return out

    def solution(self, u: BatchedField) -> BatchedField:
        """The smoothed field (``g + phi * N_s`` for an ansatz with ``smooth = "network"``, else
        ``f_s``), computed with the same rule as the operators (a random rule with the fixed key
        ``jax.random.key(0)``)."""
        return lambda x, t: self(u, x, t, frozenset({"u"}), jax.random.key(0))["u"]

    @property
    def prediction(self) -> str:
        return "ansatz with smoothed network (Stein)" if self.smooth == "network" else "smoothed model (Stein)"

    def _evaluate(self, u, x, t, needs, rule: SymmetricRule) -> dict[str, Array]:
        n, d = x.shape
        s, dtype = self.sigma, x.dtype
        shifts, centre, at_t = self._plan(needs, d)
        coords = jnp.asarray(rule.coords)
        values = jnp.asarray(rule.values, dtype)
        weights = jnp.asarray(rule.weights, dtype)
        n_pairs, dim = len(rule.weights), d + int(self.smooth_time)

        # Nodes (k, D) = [centre], +delta_p, -delta_p, built here from the sparse rule.
        half = jnp.zeros((n_pairs, dim), dtype).at[jnp.arange(n_pairs)[:, None], coords].add(values)
        nodes = jnp.concatenate([jnp.zeros((int(centre), dim), dtype), half, -half])
        k, n_shifts = len(nodes), len(shifts)
        z = jnp.concatenate([x, t[:, None]], axis=1) if self.smooth_time else x
        z = jnp.broadcast_to(z[:, None, None, :] + s * nodes[None, None], (n, n_shifts, k, dim))
        tz = jnp.broadcast_to(t[:, None, None] + jnp.asarray(shifts, dtype)[None, :, None], (n, n_shifts, k))
        if self.smooth_time:
            z, tz = z[..., :d], z[..., d]
        f = u(z.reshape(-1, d), tz.reshape(-1)).reshape(n, n_shifts, k)

        def smoothed(i):
            f_pm = f[:, i, int(centre) :]
            value = (f_pm[:, :n_pairs] + f_pm[:, n_pairs:]) @ weights
            return value + rule.centre_weight * f[:, i, 0] if rule.centre_weight != 0.0 else value

        out: dict[Any, Array] = {}  # also (name, "each"): a Hessian contraction per direction
        if "u" in at_t:
            out["u"] = smoothed(0)
        if at_t - {"u"}:
            plus, minus = f[:, 0, int(centre) : int(centre) + n_pairs], f[:, 0, int(centre) + n_pairs :]
            odd = (plus - minus) * weights[None, :]  # w_p odd_p, (n, p)
            # w_p even_p, read only with the centre f[:, 0, 0] (which _plan evaluates for second derivatives)
            even = (plus + minus - 2 * f[:, 0, :1]) * weights[None, :]
            squares = values**2
            is_time = coords == d  # the jointly smoothed t; padding entries have coordinate 0
            if "u_x" in at_t:
                grad = jnp.zeros((n, dim), dtype).at[:, coords].add(odd[:, :, None] * values[None]) / s
                out["u_x"] = grad[:, :d]
            if "u_xx" in at_t:
                diag = jnp.zeros((n, dim), dtype).at[:, coords].add(even[:, :, None] * squares[None])
                out["u_xx"] = (diag[:, :d] - jnp.sum(even, axis=1, keepdims=True)) / s**2
            if "lap_u" in at_t:
                space_squares = jnp.sum(jnp.where(is_time, 0.0, squares), axis=1)
                out["lap_u"] = even @ (space_squares - d) / s**2
            if self.smooth_time and "u_t" in at_t:
                out["u_t"] = odd @ jnp.sum(jnp.where(is_time, values, 0.0), axis=1) / s
            if self.smooth_time and "u_tt" in at_t:
                out["u_tt"] = even @ (jnp.sum(jnp.where(is_time, squares, 0.0), axis=1) - 1) / s**2
            for hessian in directions_in(at_t):
                out[(hessian.name, "each")] = _along_directions(hessian.directions(x, t), half[:, :d], even, s)
                out[hessian.name] = out[(hessian.name, "each")] @ jnp.asarray(hessian.weights, dtype)
        if not self.smooth_time and needs & _TIME:
            later, earlier = smoothed(len(shifts) - 2), smoothed(len(shifts) - 1)
            if "u_t" in needs:
                out["u_t"] = (later - earlier) / (2 * self.time_step)
            if "u_tt" in needs:
                out["u_tt"] = (later + earlier - 2 * out["u"]) / self.time_step**2
        if "u" not in needs:
            out.pop("u", None)
        return out


def _along_directions(
    v: Float[Array, "n k d"], half: Float[Array, "p d"], even: Float[Array, "n p"], s: float
) -> Float[Array, "n k"]:
    """``v^T H_s v = sum_p w_p ((v . delta_p)^2 - |v|^2) even_p / s^2`` per direction (``even``
    holds ``w_p even_p``; ``half`` the space part of each pair's delta_p)."""
    along = jnp.einsum("nkd,pd->nkp", v, half) ** 2 - jnp.sum(v**2, axis=-1)[..., None]
    return jnp.einsum("nkp,np->nk", along, even) / s**2


def _check(engine: AbstractSteinEngine) -> None:
    if not engine.sigma > 0:
        raise ValueError(f"the Stein smoothing scale sigma must be > 0, got {engine.sigma}")
    if engine.step is not None and not engine.step > 0:
        raise ValueError(f"the time finite-difference step must be > 0, got {engine.step}")
    if engine.smooth not in SMOOTH:
        raise ValueError(f"smooth must be one of {', '.join(SMOOTH)}, got {engine.smooth!r}")


class SparseGridSteinEngine(AbstractSteinEngine):
    """Stein estimators with the level-``level`` Smolyak sparse Gauss-Hermite rule (deterministic).

    Exact for the smoothed field of polynomials: the value up to degree 2 level - 1, first
    derivatives up to 2 level - 2, second derivatives up to 2 level - 3.
    """

    sigma: float = engine_field(SHARED_FIELDS["sigma"])
    level: int = engine_field(LEVEL)
    smooth_time: bool = eqx.field(static=True, default=True)
    step: float | None = engine_field(SHARED_FIELDS["step"])
    chunk_size: int | None = engine_field(SHARED_FIELDS["chunk_size"])
    smooth: str = engine_field(SHARED_FIELDS["smooth"])

    def __check_init__(self):
        _check(self)
        if self.level < 3:
            raise ValueError(
                f"the sparse-grid level must be >= 3 (level 2 integrates degree 3 only, too low for "
                f"second derivatives), got {self.level}"
            )

    @property
    def name(self) -> str:
        return "sg"

    def rule(self, dim: int, key: PRNGKeyArray | None) -> SymmetricRule:
        return symmetric_sparse_grid(dim, self.level)

    def rule_size(self, dim: int) -> tuple[int, bool]:
        rule = symmetric_sparse_grid(dim, self.level)
        return len(rule.weights), rule.centre_weight != 0.0


class MonteCarloSteinEngine(AbstractSteinEngine):
    """Stein estimators with ``samples`` antithetic pairs ``+-delta``, ``delta ~ N(0, I_D)``.

    Each call draws fresh samples from ``key``, shared by all points of the call. ``solution``
    uses one fixed sample set (``jax.random.key(0)``), so it is a deterministic field.
    """

    sigma: float = engine_field(SHARED_FIELDS["sigma"])
    samples: int = engine_field(SAMPLES)
    smooth_time: bool = eqx.field(static=True, default=True)
    step: float | None = engine_field(SHARED_FIELDS["step"])
    chunk_size: int | None = engine_field(SHARED_FIELDS["chunk_size"])
    smooth: str = engine_field(SHARED_FIELDS["smooth"])

    def __check_init__(self):
        _check(self)
        if self.samples < 1:
            raise ValueError(f"the Monte Carlo sample count must be >= 1, got {self.samples}")

    @property
    def name(self) -> str:
        return "se"

    def rule(self, dim: int, key: PRNGKeyArray | None) -> SymmetricRule:
        if key is None:
            raise ValueError("the Monte Carlo Stein engine needs a PRNG key")
        delta = jax.random.normal(key, (self.samples, dim))
        coords = np.broadcast_to(np.arange(dim), (self.samples, dim))
        return SymmetricRule(0.0, coords, delta, jnp.full(self.samples, 0.5 / self.samples))

    def rule_size(self, dim: int) -> tuple[int, bool]:
        return self.samples, False


def _stein_fields(own: str, field: Field) -> dict[str, Field]:
    """The keys of a Stein kind, its own rule's key ``own`` second."""
    shared = SHARED_FIELDS
    rest = {key: shared[key] for key in ("step", "time", "smooth", "chunk_size")}
    return {"sigma": shared["sigma"], own: field, **rest}


def _stein_settings(settings, has_time: bool) -> dict:
    """The engine arguments both Stein kinds take from their validated section."""
    return dict(
        sigma=settings.sigma,
        step=settings.step,
        smooth_time=has_time and settings.time == "joint",
        chunk_size=settings.chunk_size,
        smooth=settings.smooth,
    )


class SparseGridSteinSpec(AbstractEngineSpec):
    """``sg``: Gaussian-smoothed (Stein) derivatives on a symmetric sparse grid."""

    method = "sg"
    fields = _stein_fields("level", LEVEL)

    def build(self, settings, *, dim, has_time):
        return SparseGridSteinEngine(level=settings.level, **_stein_settings(settings, has_time))


class MonteCarloSteinSpec(AbstractEngineSpec):
    """``se``: Gaussian-smoothed (Stein) derivatives from Monte Carlo samples."""

    method = "se"
    fields = _stein_fields("samples", SAMPLES)

    def build(self, settings, *, dim, has_time):
        return MonteCarloSteinEngine(samples=settings.samples, **_stein_settings(settings, has_time))
