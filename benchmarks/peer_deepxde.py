"""The DeepXDE runner of the ``peers`` suite: run as a script (``DDE_BACKEND=pytorch``) in the
environment that has DeepXDE and PyTorch, never imported by pdesolve.

``python benchmarks/peer_deepxde.py SPEC.json OUT.npz`` (SPEC as for ``peer_jinns.py``; ``optimizer``
``adam_lbfgs``): DeepXDE's recipe from its docs, Adam (1e-3) for the first half of the budget, then
L-BFGS for the rest, a 64 x 64 tanh FNN, float64, Dirichlet data as DeepXDE's boundary loss on the
hypercube. Writes ``times``, ``u`` (m, n) at the points, ``iterations`` and ``peak_rss_mb``.
"""

import json
import os
import resource
import sys
import time
from pathlib import Path

import numpy as np

os.environ.setdefault("DDE_BACKEND", "pytorch")
import deepxde as dde  # after DDE_BACKEND is set: deepxde reads it on import
import torch

dde.config.set_default_float("float64")


def _poisson5(x, lib):
    u = lib.sum(lib.cos(np.pi * x), 1, keepdims=True) if lib is np else torch.sum(torch.cos(np.pi * x), 1, keepdim=True)
    return u, np.pi**2 * u


def _poisson10(x, lib):
    u = (
        lib.sum(x[:, 0::2] * x[:, 1::2], 1, keepdims=True)
        if lib is np
        else torch.sum(x[:, 0::2] * x[:, 1::2], 1, keepdim=True)
    )
    return u, 0.0 * u


def _poisson100(x, lib):
    u = lib.sum(x**2, 1, keepdims=True) if lib is np else torch.sum(x**2, 1, keepdim=True)
    return u, -2.0 * x.shape[1] + 0.0 * u


#: problem -> (x (n, d), np or torch) -> (exact u (n, 1), f (n, 1)) of -lap u = f on [0, 1]^d.
PROBLEMS = {
    "pub_engd_poisson5_box": _poisson5,
    "pub_kfac_poisson10_box": _poisson10,
    "pub_kfac_poisson100_box": _poisson100,
}
BATCH, BORDER, CHECK_EVERY = 1000, 500, 50


class Clock(dde.callbacks.Callback):
    """Stops at ``deadline`` seconds of training; records the network at the points every
    ``every`` epochs of ``per_epoch`` iterations (the evaluation time is not counted)."""

    def __init__(self, deadline, x, log, every, per_epoch=1):
        super().__init__()
        self.deadline, self.x, self.log, self.every, self.per_epoch = deadline, x, log, every, per_epoch
        self.epochs = 0

    def on_epoch_end(self):
        self.epochs += 1
        self.log["epochs"] += self.per_epoch
        if self.epochs % self.every == 0 or self.log["trained"]() >= self.deadline:
            paused = time.perf_counter()
            self.log["u"].append(self.model.predict(self.x)[:, 0])
            self.log["times"].append(self.log["trained"]())
            self.log["iterations"].append(self.log["epochs"])
            self.log["skip"] += time.perf_counter() - paused
        if self.log["trained"]() >= self.deadline:
            self.model.stop_training = True


def main(spec_path: str, out_path: str) -> None:
    spec = json.loads(Path(spec_path).read_text())
    dim, exact = spec["dim"], PROBLEMS[spec["problem"]]
    torch.manual_seed(spec["seed"])
    np.random.seed(spec["seed"])
    geom = dde.geometry.Hypercube([0.0] * dim, [1.0] * dim)

    def pde(x, y):
        lap = sum(dde.grad.hessian(y, x, i=i, j=i) for i in range(dim))
        return -lap - exact(x, torch)[1]

    bc = dde.icbc.DirichletBC(geom, lambda x: exact(x, np)[0], lambda _, on_boundary: on_boundary)
    data = dde.data.PDE(geom, pde, bc, num_domain=BATCH, num_boundary=BORDER)
    model = dde.Model(data, dde.nn.FNN([dim, 64, 64, 1], "tanh", "Glorot normal"))
    x = np.load(spec["points"])["x"]
    model.compile("adam", lr=1e-3)
    start = time.perf_counter()  # after compile (set-up), as the other runners' clocks
    log = {"epochs": 0, "u": [], "times": [], "iterations": [], "skip": 0.0}
    log["trained"] = lambda: time.perf_counter() - start - log["skip"]
    model.train(iterations=10**9, callbacks=[Clock(spec["budget_s"] / 2, x, log, CHECK_EVERY)], display_every=10**9)
    dde.optimizers.config.set_LBFGS_options(maxiter=10**9)
    dde.optimizers.config.LBFGS_options["iter_per_step"] = CHECK_EVERY  # PyTorch: L-BFGS iterations per epoch
    model.compile("L-BFGS")
    model.train(callbacks=[Clock(spec["budget_s"], x, log, 1, CHECK_EVERY)], display_every=10**9)
    np.savez(
        out_path,
        times=np.array(log["times"]),
        u=np.array(log["u"]),
        iterations=np.array(log["iterations"]),
        peak_rss_mb=resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
    )


if __name__ == "__main__":
    main(*sys.argv[1:3])
