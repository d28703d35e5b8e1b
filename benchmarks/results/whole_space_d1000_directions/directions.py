"""Scratch (issue 34): first-layer rows initialised along the directions that the problem's data
(initial/terminal condition, source) carry under the normal law (Stein moments), then the default.

Usage: python directions.py problem.yaml key=value ...  (env: ALIGN=0 for the plain default,
ROWS = fraction of first-layer rows aligned, NDIR = most directions per data function, NS = samples,
TRUE=1 prints the overlap with (1, ..., 1) / sqrt(d), the direction of nt_heat1000_whole).
The aligned rows are set through a patched warm start (train.init_from), so the rest is the package's
own solve. Appends one JSON line per run to /work/scratch/directions.jsonl."""

import json
import os
import sys
import time

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import yaml

import pdesolve
import pdesolve.run._solve as S
from pdesolve.problem import compile_problem, load_problem

jax.config.update("jax_enable_x64", True)

path = sys.argv[1]
over = {}
for a in sys.argv[2:]:
    k, v = a.split("=", 1)
    d = over
    ks = k.split(".")
    for kk in ks[:-1]:
        d = d.setdefault(kk, {})
    d[ks[-1]] = yaml.safe_load(v)
problem = load_problem(path)
compiled = compile_problem(problem)
dom = problem.domain
dim = problem.dimension
N = int(os.environ.get("NS", 20000))
rng = np.random.default_rng(0)
z = rng.standard_normal((N, dim))
x = dom.mean + dom.std * z
funcs = []
for kind, fn in compiled.conditions.items():
    tt = problem.time[0] if kind == "initial" else problem.time[1]
    funcs.append(np.asarray(fn(jnp.asarray(x), jnp.full(N, tt))))
if compiled.source is not None:
    for tt in np.linspace(*problem.time, 3):
        funcs.append(np.asarray(compiled.source(jnp.asarray(x), jnp.full(N, tt))))
dirs, info = [], []
for g in funcs:
    g = g - g.mean()
    s = g.std()
    if s < 1e-12:
        continue
    g = g / s
    v1 = z.T @ g / N
    if np.linalg.norm(v1) > 3 * np.sqrt(dim / N):
        dirs.append(v1 / np.linalg.norm(v1))
        info.append(("lin", float(np.linalg.norm(v1))))
    M = (z * g[:, None]).T @ z / N
    M -= np.trace(M) / dim * np.eye(dim)
    lam, vec = np.linalg.eigh(M)
    thr = 4 * np.sqrt(dim / N)
    order = np.argsort(-np.abs(lam))[: int(os.environ.get("NDIR", 4))]
    for i in order:
        if abs(lam[i]) > thr:
            dirs.append(vec[:, i])
            info.append(("hess", float(lam[i])))
# orthonormalise
if dirs:
    Q, R = np.linalg.qr(np.array(dirs).T)
    keep = np.abs(np.diag(R)) > 0.3
    Q = Q[:, keep]
else:
    Q = np.zeros((dim, 0))
print("directions", Q.shape[1], info, "threshold", 4 * np.sqrt(dim / N), flush=True)
if os.environ.get("TRUE"):
    print("overlap with ones/sqrt(d):", np.abs(Q.T @ (np.ones(dim) / np.sqrt(dim))), flush=True)


def aligned(solution, folder):
    net = solution.network
    W = np.asarray(net.layers[0].weight)  # (width, d [+1])
    width = W.shape[0]
    k = round(float(os.environ.get("ROWS", 0.5)) * width) if Q.shape[1] else 0
    r = np.random.default_rng(1)
    scales = np.array([0.5, 1.0, 2.0])
    W = W.copy()
    for j in range(k):
        q = Q[:, j % Q.shape[1]] / dom.std  # a row w with w.x = s q.z
        W[j, :dim] = r.choice([-1, 1]) * scales[(j // Q.shape[1]) % 3] * q
    new = eqx.tree_at(lambda n: n.layers[0].weight, net, jnp.asarray(W, dtype=net.layers[0].weight.dtype))
    return eqx.tree_at(lambda s: s.network, solution, new)


if os.environ.get("ALIGN", "1") == "1":
    S.warm_start = aligned
    over.setdefault("train", {})["init_from"] = "/work/scratch"
t0 = time.time()
res = pdesolve.solve(problem, None, overrides=[over, {"train": {"progress": False}}])
out = {
    "problem": problem.name,
    "over": over,
    "align": os.environ.get("ALIGN", "1"),
    "rows": os.environ.get("ROWS", 0.5),
    "ndirs": int(Q.shape[1]),
    "steps": res.report["steps"],
    "train_time": res.report["train_time_s"],
    "vol": res.report["rel_l2"],
    "ru": res.report.get("radius_uniform", {}).get("rel_l2"),
    "centre": res.report.get("centre"),
    "baselines": res.report.get("baselines"),
    "wall": time.time() - t0,
    "load": os.getloadavg()[0],
}
print(json.dumps(out, default=str), flush=True)
with open("/work/scratch/directions.jsonl", "a") as f:
    f.write(json.dumps(out, default=str) + "\n")
