"""Reference values for problems without a closed form (``reference:`` in a problem file).

``monte_carlo``: Feynman-Kac estimates at the evaluation points, for equations identified from the
compiled residual (in the direction of the data: terminal data, or initial data with time reversed)

- linear parabolic: ``u_t + a lap_u + b.grad_u - c u + f = 0`` (a > 0, c constants; b, f may
  depend on x and t): u(x, t) = E[exp(-c tau) g(X_tau) + int_0^tau exp(-c s) f(X_s, r_s) ds],
  dX = b ds + sqrt(2 a) dW, tau the time to the data. Constant b and f: X_tau is sampled exactly
  (Gaussian); otherwise Euler-Maruyama with ``steps`` steps (trapezoidal rule for the f integral);
- HJB: ``u_t + a lap_u - lam grad_u_sq = 0`` (a > 0, lam != 0 constants) by Cole-Hopf:
  u = -(a / lam) log E[exp(-(lam / a) g(x + sqrt(2 a) W_tau))] (exact on the whole space), with the
  delta-method standard error.

``values``: published values at listed points (the evaluation points of such a problem).
Samples are drawn in chunks of at most ``CHUNK_NUMBERS`` normals, so memory stays bounded.
"""

import dataclasses
import time as clock
from collections.abc import Callable

import jax
import jax.numpy as jnp
import numpy as np

from .errors import ProblemError
from .problem import CompiledProblem, Problem, WholeSpace

FIELD = "reference.monte_carlo"
SUPPORTED = (
    "supported forms (with terminal data; with initial data the same with u_t -> -u_t): "
    "u_t + a lap_u + b.grad_u - c u + f = 0 with constants a > 0 and c, drift b (u_x terms) and "
    "source f expressions of x and t; and u_t + a lap_u - lam grad_u_sq = 0 with constants a > 0, "
    "lam != 0 (Cole-Hopf)"
)
CHUNK_NUMBERS = 2**22  # normals (points x paths x d) per jitted call: about 32 MB per array in float64
PATH_CHUNK = 2**13  # paths per jitted call (at most)
DEFAULT_STEPS = 100  # Euler-Maruyama steps when the drift or source varies and none are given
PROBES = 16  # points at which the residual is probed for its form


@dataclasses.dataclass(frozen=True)
class Reference:
    """Reference values ``u`` (n,) at the evaluation points, their standard errors (n,) (None for
    listed values), the ``errors_against`` text and the report entries ``info``."""

    u: np.ndarray
    stderr: np.ndarray | None
    label: str
    info: dict


@dataclasses.dataclass(frozen=True)
class FeynmanKac:
    """The identified equation, normalised in the direction of the data (see the module doc).

    ``direction``: +1 for terminal data (r_s = t + s), -1 for initial data (r_s = t - s);
    ``drift`` (d,) and ``source`` are set when constant, else None (``coefficients`` gives them:
    (x (n, d), r (n,)) -> (b (n, d), f (n,)))."""

    kind: str  # "linear" | "cole_hopf"
    a: float
    c: float
    lam: float
    direction: int
    data_time: float
    drift: np.ndarray | None
    source: float | None
    coefficients: Callable

    @property
    def exact_sampling(self) -> bool:
        return self.kind == "cole_hopf" or (self.drift is not None and self.source is not None)


def _refuse(problem: Problem, message: str) -> ProblemError:
    return ProblemError(FIELD, f"{message}; {SUPPORTED}", source=problem.source_file)


def _residual_of(compiled: CompiledProblem, x, t) -> Callable:
    """z (n, 3 + d) = (u, u_t, lap_u, u_x) at points x (n, d), t (n,) -> residual (n,)."""
    f = jnp.zeros_like(t) if compiled.source is None else compiled.source(x, t)

    def residual(z):
        ops = {"u": z[:, 0], "u_t": z[:, 1], "lap_u": z[:, 2], "u_x": z[:, 3:]}
        return compiled.residual(ops, x, t, f)

    return residual


def _probe(compiled: CompiledProblem, x: np.ndarray, t: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
    """Residual at zero operators r0 (n,), its gradient in (u, u_t, lap_u, u_x) (n, 3 + d), and the
    coefficient q (n,) of |u_x|^2; None for q when R is not affine in them plus q |u_x|^2."""
    residual = _residual_of(compiled, jnp.asarray(x), jnp.asarray(t))
    n, d = x.shape
    z0 = jnp.zeros((n, 3 + d))
    r0 = residual(z0)
    grad = jax.grad(lambda z: jnp.sum(residual(z)))(z0)
    rng = np.random.default_rng(0)
    rem_rows, sq_rows = [], []
    for _ in range(3):
        z = jnp.asarray(rng.standard_normal((n, 3 + d)))
        rem_rows.append(np.asarray(residual(z) - r0 - jnp.sum(grad * z, axis=1)))
        sq_rows.append(np.asarray(jnp.sum(z[:, 3:] ** 2, axis=1)))
    rem, sq = np.array(rem_rows), np.array(sq_rows)
    q = np.sum(rem * sq, axis=0) / np.sum(sq * sq, axis=0)
    scale = 1.0 + np.max(np.abs(r0)) + np.max(np.abs(grad)) * (3 + d) + np.max(np.abs(q)) * np.max(sq)
    affine = np.all(np.isfinite(rem)) and np.max(np.abs(rem - q * sq)) <= 1e-8 * scale
    return np.asarray(r0), np.asarray(grad), (q if affine else None)


def _constant(values: np.ndarray, tol: float = 1e-10) -> bool:
    """Whether ``values`` (n, ...) are the same at every probe point (relative ``tol``)."""
    return bool(np.max(np.abs(values - values[0])) <= tol * (1.0 + np.max(np.abs(values))))


def _probe_points(problem: Problem) -> tuple[np.ndarray, np.ndarray]:
    """``PROBES`` points x (n, d), t (n,) from the domain's law widened up to 3 standard deviations."""
    rng = np.random.default_rng(12345)
    domain = problem.domain
    assert isinstance(domain, WholeSpace) and problem.time is not None  # parse_reference's rule for monte_carlo
    t0, t1 = problem.time
    spread = np.linspace(0.5, 3.0, PROBES)[:, None]
    x = domain.mean + domain.std * spread * rng.standard_normal((PROBES, problem.dimension))
    return x, rng.uniform(t0, t1, PROBES)


def identify(compiled: CompiledProblem) -> FeynmanKac:
    """The Feynman-Kac form of ``compiled``'s equation (probed numerically in float64); raises a
    ProblemError naming ``reference.monte_carlo`` and the supported forms when it has none."""
    problem = compiled.problem
    extra = compiled.needs - {"u", "u_t", "lap_u", "u_x"}
    if extra:
        raise _refuse(problem, f"the equation uses {', '.join(sorted(str(n) for n in extra))}")
    with jax.enable_x64(True):
        r0, grad, q = _probe(compiled, *_probe_points(problem))
    if q is None or not np.all(np.isfinite(grad)):
        raise _refuse(problem, "the equation is not linear in u, u_t, lap_u and u_x (up to a grad_u_sq term)")
    gamma, alpha, beta, b = grad[:, 0], grad[:, 1], grad[:, 2], grad[:, 3:]
    for name, values in (("u_t", alpha), ("lap_u", beta), ("u", gamma), ("grad_u_sq", q)):
        if not _constant(values, 1e-9):
            raise _refuse(
                problem,
                f"the coefficient of {name} varies with x or t (from {values.min():.6g} "
                f"to {values.max():.6g}); it must be a constant",
            )
    if alpha[0] == 0:
        raise _refuse(problem, "the equation has no u_t term")
    terminal = "terminal" in problem.conditions
    direction = 1 if terminal else -1
    s = direction / alpha[0]
    a = s * beta[0]
    if not a > 0:
        raise _refuse(
            problem,
            f"with {'terminal' if terminal else 'initial'} data the coefficient of lap_u must be "
            f"> 0 in u_t {'+' if terminal else '='} a lap_u + ..., got a = {a:.6g} (ill posed)",
        )
    assert problem.time is not None  # parse_reference's rule for monte_carlo
    data_time = problem.time[1] if terminal else problem.time[0]
    coefficients = _coefficients(compiled, s)
    tol = 1e-9 * (abs(alpha[0]) + abs(beta[0]))
    if abs(q[0]) > tol:
        if np.max(np.abs(b)) > tol or abs(gamma[0]) > tol or np.max(np.abs(r0)) > tol:
            raise _refuse(problem, "an equation with grad_u_sq is supported without u, u_x or source terms")
        return FeynmanKac(
            "cole_hopf", a, 0.0, -s * q[0], direction, data_time, np.zeros(problem.dimension), 0.0, coefficients
        )
    drift = s * b[0] if _constant(b) else None
    source = float(s * r0[0]) if _constant(r0) else None
    return FeynmanKac("linear", a, float(-s * gamma[0]), 0.0, direction, data_time, drift, source, coefficients)


def _coefficients(compiled: CompiledProblem, s: float) -> Callable:
    """(x (n, d), r (n,)) -> drift b (n, d), source f (n,) of the normalised equation (x s)."""

    def coefficients(x, r):
        z0 = jnp.zeros((x.shape[0], 3 + x.shape[1]), x.dtype)
        residual = _residual_of(compiled, x, r)

        def total(z):
            values = residual(z)
            return jnp.sum(values), values

        grad, r0 = jax.grad(total, has_aux=True)(z0)
        return s * grad[:, 3:], s * r0

    return coefficients


def _moments(y: jnp.ndarray, w: jnp.ndarray) -> tuple[jnp.ndarray, jnp.ndarray]:
    """Weighted mean (p,) and sum of squared deviations (p,) of samples y (p, m), weights w (m,) in {0, 1}."""
    mean = jnp.sum(y * w[None, :], axis=1) / jnp.sum(w)
    return mean, jnp.sum(w[None, :] * (y - mean[:, None]) ** 2, axis=1)


def _discounted_integral(c: float, tau: jnp.ndarray) -> jnp.ndarray:
    """int_0^tau exp(-c s) ds for tau (p,)."""
    return tau if c == 0 else -jnp.expm1(-c * tau) / c


def _exact_chunk(fk: FeynmanKac, g: Callable, m: int) -> Callable:
    """Jitted (x (p, d), tau (p,), key, w (m,)) -> statistics per point from exactly sampled X_tau:
    (mean, M2) of the Feynman-Kac samples, or (max, sum, sum of squares) of exp(-lam g / a - max)."""

    @jax.jit
    def chunk(x, tau, key, w):
        p, d = x.shape
        z = jax.random.normal(key, (p, m, d), x.dtype)
        end = (
            x[:, None, :]
            + jnp.asarray(fk.drift, x.dtype)[None, None, :] * tau[:, None, None]
            + jnp.sqrt(2 * fk.a * tau)[:, None, None] * z
        )
        gx = g(end.reshape(p * m, d), jnp.full((p * m,), fk.data_time, x.dtype)).reshape(p, m)
        if fk.kind == "linear":
            y = jnp.exp(-fk.c * tau)[:, None] * gx + (fk.source * _discounted_integral(fk.c, tau))[:, None]
            return _moments(y, w)
        expo = jnp.where(w[None, :] > 0, -(fk.lam / fk.a) * gx, -jnp.inf)
        top = jnp.max(expo, axis=1)
        e = jnp.exp(expo - top[:, None])
        return top, jnp.sum(e, axis=1), jnp.sum(e * e, axis=1)

    return chunk


def _euler_chunk(fk: FeynmanKac, g: Callable, m: int, steps: int) -> Callable:
    """Jitted (x (p, d), t (p,), tau (p,), key, w (m,)) -> (mean, M2) of Feynman-Kac samples from
    Euler-Maruyama paths with ``steps`` steps of tau / steps (trapezoidal rule for the f integral)."""

    @jax.jit
    def chunk(x, t, tau, key, w):
        p, d = x.shape
        dt = tau / steps

        def at(k, paths):  # drift (p, m, d) and discounted, weighted source (p, m) at step k
            s = k * dt
            b, f = fk.coefficients(paths.reshape(p * m, d), jnp.repeat(t + fk.direction * s, m))
            weight = jnp.where((k == 0) | (k == steps), 0.5, 1.0) * dt * jnp.exp(-fk.c * s)
            return b.reshape(p, m, d), weight[:, None] * f.reshape(p, m)

        def body(k, carry):
            paths, acc = carry
            b, f = at(k, paths)
            z = jax.random.normal(jax.random.fold_in(key, k), (p, m, d), x.dtype)
            return paths + b * dt[:, None, None] + jnp.sqrt(2 * fk.a * dt)[:, None, None] * z, acc + f

        start = (jnp.broadcast_to(x[:, None, :], (p, m, d)), jnp.zeros((p, m), x.dtype))
        paths, acc = jax.lax.fori_loop(0, steps, body, start)
        acc = acc + at(steps, paths)[1]
        gx = g(paths.reshape(p * m, d), jnp.full((p * m,), fk.data_time, x.dtype)).reshape(p, m)
        return _moments(jnp.exp(-fk.c * tau)[:, None] * gx + acc, w)

    return chunk


def _chunk_sizes(n: int, paths: int, d: int) -> tuple[int, int]:
    """(points, paths) per jitted call: at most ``CHUNK_NUMBERS`` normals."""
    m = min(paths, PATH_CHUNK, max(1, CHUNK_NUMBERS // d))
    return max(1, min(n, CHUNK_NUMBERS // (m * d))), m


def _combine_linear(total, part, count: int):
    """Chan's parallel update of (n, mean, M2) with a chunk's (mean, M2) of ``count`` samples."""
    if total is None:
        return (count, *part)
    n, mean, m2 = total
    delta = part[0] - mean
    new = n + count
    return new, mean + delta * count / new, m2 + part[1] + delta**2 * n * count / new


def _combine_exp(total, part, count: int):
    """Merges (n, max, sum, sum of squares) of exponentials with a chunk's (max, sum, sum of squares)."""
    if total is None:
        return (count, *part)
    n, top, s1, s2 = total
    new_top = np.maximum(top, part[0])
    a, b = np.exp(top - new_top), np.exp(part[0] - new_top)
    return n + count, new_top, s1 * a + part[1] * b, s2 * a * a + part[2] * b * b


def _estimates(fk: FeynmanKac, total) -> tuple[np.ndarray, np.ndarray]:
    """(u (p,), standard error (p,)) from the merged statistics of all paths."""
    if fk.kind == "linear":
        n, mean, m2 = total
        return mean, np.sqrt(m2 / (n - 1) / n)
    n, top, s1, s2 = total
    kappa = fk.lam / fk.a
    mean = s1 / n  # E[exp(-kappa g)] / exp(top)
    var = np.maximum(s2 / n - mean**2, 0.0) * n / (n - 1)
    return -(top + np.log(mean)) / kappa, np.sqrt(var / n) / (abs(kappa) * mean)  # delta method


def _point_chunk(fk, chunk, x, t, tau, key, paths: int, m: int) -> tuple[np.ndarray, np.ndarray]:
    """Estimates and standard errors at points x (p, d) from ``paths`` paths in chunks of m."""
    total, combine = None, _combine_linear if fk.kind == "linear" else _combine_exp
    for j, start in enumerate(range(0, paths, m)):
        count = min(m, paths - start)
        w = jnp.asarray(np.arange(m) < count, x.dtype)
        sub = jax.random.fold_in(key, j)
        part = chunk(x, tau, sub, w) if fk.exact_sampling else chunk(x, t, tau, sub, w)
        total = combine(total, tuple(np.asarray(v, np.float64) for v in part), count)
    return _estimates(fk, total)


def monte_carlo(
    compiled: CompiledProblem, x: np.ndarray, t: np.ndarray, *, paths: int, seed: int, steps: int | None = None
) -> Reference:
    """Feynman-Kac (or Cole-Hopf) estimates at x (n, d), t (n,) from ``paths`` paths per point
    (float64; independent paths per point); raises ProblemError when the equation has no such form."""
    fk = identify(compiled)
    g = compiled.conditions["terminal" if fk.direction == 1 else "initial"]
    euler_steps = steps or DEFAULT_STEPS
    steps = None if fk.exact_sampling else euler_steps
    start, (n, d) = clock.perf_counter(), x.shape
    p, m = _chunk_sizes(n, paths, d)
    u, se = np.empty(n), np.empty(n)
    with jax.enable_x64(True):
        chunk = _exact_chunk(fk, g, m) if fk.exact_sampling else _euler_chunk(fk, g, m, euler_steps)
        key = jax.random.PRNGKey(seed)
        for i in range(0, n, p):
            rows = np.minimum(np.arange(i, i + p), n - 1)  # the last chunk repeats its last point
            xi, ti = jnp.asarray(x[rows], jnp.float64), jnp.asarray(t[rows], jnp.float64)
            tau = jnp.maximum(fk.direction * (fk.data_time - ti), 0.0)
            ui, si = _point_chunk(fk, chunk, xi, ti, tau, jax.random.fold_in(key, i // p), paths, m)
            keep = min(p, n - i)
            u[i : i + keep], se[i : i + keep] = ui[:keep], si[:keep]
    info = {
        "kind": "monte_carlo",
        "method": _method(fk, steps),
        "paths": int(paths),
        "seed": int(seed),
        "steps": steps,
        "points": int(n),
        "stderr_mean": float(np.mean(se)),
        "stderr_max": float(np.max(se)),
        "time_s": clock.perf_counter() - start,
        "form": _form(fk),
    }
    label = f"Monte Carlo reference ({paths} paths, mean standard error {info['stderr_mean']:.2e})"
    return Reference(u, se, label, info)


def _method(fk: FeynmanKac, steps: int | None) -> str:
    if fk.kind == "cole_hopf":
        return "Cole-Hopf transform, exact Gaussian sampling, delta-method standard error"
    if steps is None:
        return "Feynman-Kac, exact Gaussian sampling"
    return f"Feynman-Kac, Euler-Maruyama with {steps} steps"


def _form(fk: FeynmanKac) -> str:
    """The identified equation, for the report."""
    ut = "u_t" if fk.direction == 1 else "-u_t"
    if fk.kind == "cole_hopf":
        return f"{ut} + {fk.a:.6g} lap_u - {fk.lam:.6g} grad_u_sq = 0"
    drift = "b(x, t)" if fk.drift is None else ("0" if not np.any(fk.drift) else "constant b")
    source = "f(x, t)" if fk.source is None else f"{fk.source:.6g}"
    return f"{ut} + {fk.a:.6g} lap_u + ({drift}).grad_u - {fk.c:.6g} u + {source} = 0"


def check_reference(compiled: CompiledProblem) -> str | None:
    """Validates a problem's ``reference:`` before a solve (identifies a Monte Carlo form); returns
    one line for people, or None without a reference."""
    spec = compiled.problem.reference
    if spec is None:
        return None
    if spec["kind"] == "values":
        return f"values at {len(spec['u'])} listed points (the evaluation points)"
    fk = identify(compiled)
    steps = None if fk.exact_sampling else (spec["steps"] or DEFAULT_STEPS)
    return f"Monte Carlo, {spec['paths']} paths, seed {spec['seed']}: {_method(fk, steps)}; {_form(fk)}"


def reference_points(problem: Problem) -> tuple[np.ndarray, np.ndarray] | None:
    """The listed points x (m, d), t (m,) of ``reference.values`` (t = 0 without time), else None."""
    spec = problem.reference
    if spec is None or spec["kind"] != "values":
        return None
    return spec["x"], (np.zeros(len(spec["x"])) if spec["t"] is None else spec["t"])


def compute_reference(compiled: CompiledProblem, x: np.ndarray, t: np.ndarray) -> Reference | None:
    """The reference at the evaluation points x (n, d), t (n,) (for ``values``: the listed points)."""
    spec = compiled.problem.reference
    if spec is None:
        return None
    if spec["kind"] == "values":
        return Reference(
            np.asarray(spec["u"], np.float64), None, "reference values", {"kind": "values", "points": len(spec["u"])}
        )
    return monte_carlo(
        compiled,
        np.asarray(x, np.float64),
        np.asarray(t, np.float64),
        paths=spec["paths"],
        seed=spec["seed"],
        steps=spec["steps"],
    )
