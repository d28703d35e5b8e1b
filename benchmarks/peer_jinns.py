"""The jinns runner of the ``peers`` suite: run as a script in the environment that has jinns
(``pip install -e ".[peers]"`` or a separate venv), never imported by pdesolve.

``python benchmarks/peer_jinns.py SPEC.json OUT.npz``. SPEC holds ``problem`` (a key of
:data:`PROBLEMS`), ``dim``, ``optimizer`` (``adam``, ``ngd`` or ``lbfgs``), ``budget_s``, ``seed``
and ``points`` (the npz file of evaluation points ``x`` (n, d) the suite measures the error on).
Writes ``times`` (m,) training seconds at each check, ``u`` (m, n) the network there, ``iterations``
(m,) and ``peak_rss_mb``. The problems are written here the jinns way (a ``PDEStatio`` dynamic loss,
Dirichlet data as an observation loss at points on the cube's faces, since jinns samples the faces
of a cube only up to d = 2); the settings follow the jinns docs (tanh MLP,
Adam 1e-3, its vanilla NGD with the backtracking line search, optax L-BFGS).
"""

import json
import resource
import sys
import time
from pathlib import Path

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import optax

jax.config.update("jax_enable_x64", True)

import jinns  # noqa: E402 (after x64)


def _poisson5(x):
    return jnp.sum(jnp.cos(jnp.pi * x)), jnp.pi**2 * jnp.sum(jnp.cos(jnp.pi * x))


def _poisson10(x):
    return jnp.sum(x[0::2] * x[1::2]), 0.0


def _poisson100(x):
    return jnp.sum(x**2), -2.0 * x.shape[0]


#: problem -> x (d,) -> (exact u, f) of -lap u = f on [0, 1]^d with the exact u as Dirichlet data.
PROBLEMS = {
    "pub_engd_poisson5_box": _poisson5,
    "pub_kfac_poisson10_box": _poisson10,
    "pub_kfac_poisson100_box": _poisson100,
}
#: Points per step (interior, boundary) and the iterations of the first ``jinns.solve`` call; each
#: later call doubles them. jinns compiles its loop in every call, so the clock (the time in
#: ``jinns.solve``) includes one compilation per call, log2(iterations / CHUNK) + 1 of them.
BATCH, BORDER, CHUNK = 1000, 500, 50


class Poisson(jinns.loss.PDEStatio):
    """-lap u - f = 0."""

    problem: str = eqx.field(static=True, kw_only=True)

    def equation(self, x, u, params):
        lap = jinns.loss.laplacian_rev(x, u, params, eq_type="PDEStatio")
        return jnp.atleast_1d(-lap - PROBLEMS[self.problem](x)[1])


def boundary_points(key, dim: int, n: int):
    """n points (n, d) uniform on the faces of [0, 1]^d (jinns samples cube faces only up to d = 2)."""
    k1, k2, k3 = jax.random.split(key, 3)
    x = jax.random.uniform(k1, (n, dim))
    face = jax.random.randint(k2, (n,), 0, dim)
    side = jax.random.bernoulli(k3, 0.5, (n,)).astype(x.dtype)
    return x.at[jnp.arange(n), face].set(side)


def optimizer(name: str):
    if name == "adam":
        return optax.adam(1e-3)
    if name == "ngd":
        return jinns.optimizers.vanilla_ngd(
            linesearch=optax.scale_by_backtracking_linesearch(max_backtracking_steps=15, verbose=False)
        )
    if name == "lbfgs":
        return optax.lbfgs()
    raise ValueError(f"optimizer {name!r}: give adam, ngd or lbfgs")


def build(spec: dict):
    dim, key = spec["dim"], jax.random.PRNGKey(spec["seed"])
    keys = jax.random.split(key, 3)
    eqx_list = (
        (eqx.nn.Linear, dim, 64),
        (jax.nn.tanh,),
        (eqx.nn.Linear, 64, 64),
        (jax.nn.tanh,),
        (eqx.nn.Linear, 64, 1),
    )
    u, nn_params = jinns.nn.PINN_MLP.create(key=keys[0], eqx_list=eqx_list, eq_type="PDEStatio")
    params = jinns.parameters.Params(nn_params=nn_params, eq_params={})
    data = jinns.data.CubicMeshPDEStatio(
        key=keys[1],
        n=BATCH * 10,
        omega_batch_size=BATCH,
        dim=dim,
        min_pts=(0.0,) * dim,
        max_pts=(1.0,) * dim,
        method="uniform",
    )
    xb = boundary_points(keys[2], dim, BORDER * 10)
    ub = jax.vmap(lambda x: PROBLEMS[spec["problem"]](x)[0])(xb)[:, None]
    obs = jinns.data.DataGeneratorObservations(
        key=keys[2], obs_batch_size=BORDER, observed_pinn_in=xb, observed_values=ub
    )
    weights = jinns.loss.LossWeightsPDEStatio(dyn_loss=1.0, observations=1.0)
    loss = jinns.loss.LossPDEStatio(
        u=u, dynamic_loss=Poisson(problem=spec["problem"]), loss_weights=weights, params=params
    )
    return u, params, data, obs, loss, jax.random.fold_in(key, 1)


def main(spec_path: str, out_path: str) -> None:
    spec = json.loads(Path(spec_path).read_text())
    x_eval = jnp.asarray(np.load(spec["points"])["x"])
    u, params, data, obs, loss, key = build(spec)
    predict = jax.jit(jax.vmap(lambda x, p: u(x, p)[0], in_axes=(0, None)))
    tx, opt_state = optimizer(spec["optimizer"]), None
    times, preds, iters, trained, done, chunk = [], [], [], 0.0, 0, CHUNK
    while trained < spec["budget_s"]:
        start = time.perf_counter()
        params, _, _, data, loss, opt_state, _, _, obs, *_ = jinns.solve(
            n_iter=chunk,
            init_params=params,
            data=data,
            loss=loss,
            optimizer=tx,
            opt_state=opt_state,
            obs_data=obs,
            verbose=False,
            key=key,
        )
        jax.block_until_ready(params)
        trained += time.perf_counter() - start
        done += chunk
        chunk *= 2
        times.append(trained)
        iters.append(done)
        preds.append(np.asarray(predict(x_eval, params)))
        key = jax.random.fold_in(key, done)
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    np.savez(out_path, times=np.array(times), u=np.array(preds), iterations=np.array(iters), peak_rss_mb=peak)


if __name__ == "__main__":
    main(*sys.argv[1:3])
