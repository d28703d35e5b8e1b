"""Scratch: solve a problem with overrides, then measure rel L2 under volume / radius-uniform laws,
radius bands and the centre. Usage: python laws.py problem.yaml 'train.steps=50' ..."""

import itertools
import json
import os
import sys
import time

import jax
import jax.numpy as jnp
import numpy as np
import yaml

import pdesolve
from pdesolve.problem import compile_problem, load_problem
from pdesolve.sampling import PointSampler


def setpath(d, path, v):
    keys = path.split(".")
    for k in keys[:-1]:
        d = d.setdefault(k, {})
    d[keys[-1]] = v


path = sys.argv[1]
over = {}
for a in sys.argv[2:]:
    k, v = a.split("=", 1)
    setpath(over, k, yaml.safe_load(v))
dim = os.environ.get("DIM")
problem = load_problem(path, overrides={"dimension": int(dim)} if dim else None)
exact_problem = problem
if os.environ.get("FIT"):
    sys.path.insert(0, "/work/main")
    from benchmarks.nontrivial import fitted_to_exact

    problem = fitted_to_exact(problem)
t0 = time.time()
res = pdesolve.solve(problem, None, overrides=[over, {"train": {"progress": False}}])
wall = time.time() - t0
compiled = compile_problem(exact_problem)
u = res.model
dom = problem.domain
out = {
    "problem": problem.name,
    "over": over,
    "steps": res.report["steps"],
    "train_time": res.report["train_time_s"],
    "vol_report": res.report["rel_l2"],
}
jax.config.update("jax_enable_x64", True)
for law in ["volume", "radius_uniform"]:
    x, t = PointSampler.for_law(dom, problem.time, "uniform", 777, law).interior(4000)
    up = np.asarray(u(jnp.asarray(x), jnp.asarray(t)))
    ue = np.asarray(compiled.exact(jnp.asarray(x), jnp.asarray(t)))
    out[law] = float(np.linalg.norm(up - ue) / np.linalg.norm(ue))
    if law == "radius_uniform":
        r = dom.radius(x)
        edges = np.linspace(0, dom.radius_max, 6)
        out["bands"] = [
            float(np.linalg.norm((up - ue)[(r >= a) & (r < b)]) / np.linalg.norm(ue[(r >= a) & (r < b)]))
            for a, b in itertools.pairwise(edges)
        ]
        scale = float(np.sqrt(np.mean(ue**2)))
tt = [0.0] if problem.time is None else [problem.time[0], sum(problem.time) / 2, problem.time[1]]
xc = np.tile(dom.centre, (len(tt), 1))
up = np.asarray(u(jnp.asarray(xc), jnp.asarray(tt, dtype=float)))
ue = np.asarray(compiled.exact(jnp.asarray(xc), jnp.asarray(tt, dtype=float)))
out["centre_abs"] = float(np.max(np.abs(up - ue)))
out["centre_scaled"] = out["centre_abs"] / scale
out["baselines"] = res.report.get("baselines")
out["wall"] = wall
out["load"] = os.getloadavg()[0]
print(json.dumps(out))
with open("/work/scratch/laws.jsonl", "a") as f:
    f.write(json.dumps(out) + "\n")
