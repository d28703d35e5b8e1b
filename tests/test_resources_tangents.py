"""Issue 40 (for issue 35's TT networks): a layerwise Gauss-Newton Jacobian pushes the columns of a
first layer without per-unit weights (tensor train) through ``jax.linearize`` as forward-mode
tangents, each holding the first pre-activation at every node of the batch. The training model
counts them (a ``solver.chunk_size`` of them at once, or all of them), and an unset chunk is fitted
to them (the constants: benchmarks/results/reliability_memory/)."""

import contextlib
import io
import re
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np

from pdesolve import cli, limits, resources
from pdesolve.config import resolve
from pdesolve.models import MLP, DenseLinear, ProjectedInput, TTLinear
from pdesolve.problem import Subspace
from pdesolve.solvers import solver_spec

ROOT = Path(__file__).resolve().parent.parent
GIB = 2.0**30
P1 = 188  # parameters of the TT first layer of tt_mlp(64, 64) on 100 coordinates and time
NODES = 100 * 203  # batch x FD nodes per point at d = 100 with time


def _gn(**settings):
    return resolve(
        {
            "model": {"type": "tt_mlp", "widths": [64, 64]},
            "solver": {"name": "gauss_newton", "jacobian": "layerwise", **settings},
            "precision": "float64",
            "train": {"batch_size": 100},
        }
    )


def test_the_columns_at_once_are_a_chunk_or_all_where_one_chunk_covers_more_than_half():
    spec = solver_spec("gauss_newton")
    chunks = (None, 47, 64, 94, 95, 256)
    columns = {chunk: spec.tangent_columns(_gn(chunk_size=chunk).solver.settings, P1) for chunk in chunks}
    assert columns == {None: P1, 47: 47, 64: 64, 94: 94, 95: P1, 256: P1}
    assert spec.tangent_columns(_gn(chunk_size=None, jacobian="forward_difference").solver.settings, P1) == 0
    assert solver_spec("adam").tangent_columns(resolve({}).solver.settings, P1) == 0


def test_a_column_holds_copies_of_the_first_pre_activation_at_every_node_of_a_call():
    per_column = limits.TANGENT_COPIES * NODES * 64 * 8
    assert limits.tangent_column_bytes(_gn(chunk_size=None), 203) == per_column
    assert limits.tangent_bytes(_gn(chunk_size=None), 203, P1) == P1 * per_column
    assert limits.tangent_bytes(_gn(chunk_size=None), 203, 0) == 0  # a dense first layer has none
    assert limits.tangent_bytes(_gn(chunk_size=None, accumulate=4), 203, P1) == P1 * per_column / 4


def test_a_tensor_train_first_layer_is_counted_and_dense_ones_are_not():
    """A first layer on the symmetry features is a dense layer on each node's features."""
    key = jax.random.PRNGKey(0)
    readout = DenseLinear(16, 1, key=key)
    tt = MLP([TTLinear(101, 16, key=key), readout], "tanh")
    subspace = Subspace(np.eye(5)[:, :1], np.zeros(5), 1.0, 5.0)
    projected = MLP([ProjectedInput(subspace, 6, 16, key=key, dtype=jnp.float32), readout], "tanh")
    assert limits.first_layer_params(tt) == tt.layers[0].n_params > 0
    assert limits.first_layer_params(projected) == 0
    assert limits.first_layer_params(MLP([DenseLinear(101, 16, key=key), readout], "tanh")) == 0


def test_an_unset_chunk_is_fitted_to_the_first_layers_tangents(monkeypatch):
    """The chunk fits the first layer's tangent columns, not the whole network's parameters; a
    dense first layer (no tangents) leaves it unset."""
    per_column = limits.tangent_column_bytes(_gn(chunk_size=None), 203)
    monkeypatch.setattr(limits, "device_memory", lambda: (2.0**50, "test memory"))
    monkeypatch.setattr(limits, "AUTO_CHUNK_BYTES", 100 * per_column)
    fitted = limits.fit_solver_chunk(_gn(chunk_size=None), 203, 10**6, 413)
    assert fitted.solver.settings.chunk_size == 50  # all columns at once where 2 x 50 > them
    assert limits.tangent_bytes(fitted, 203, 413) <= limits.AUTO_CHUNK_BYTES
    assert limits.fit_solver_chunk(_gn(chunk_size=None), 203, 10**6, 100) == _gn(chunk_size=None)  # all fit
    assert limits.fit_solver_chunk(_gn(chunk_size=None), 203, 10**6, 0) == _gn(chunk_size=None)  # dense first
    assert limits.fit_solver_chunk(_gn(chunk_size=64), 203, 10**6, 413) == _gn(chunk_size=64)  # a chunk set is kept
    monkeypatch.setattr(limits, "AUTO_CHUNK_BYTES", per_column)  # not even two columns: one at a time
    assert limits.fit_solver_chunk(_gn(chunk_size=None), 203, 10**6, 413).solver.settings.chunk_size == 1


def _check(memory, monkeypatch, *sets):
    monkeypatch.setattr(resources, "device_memory", lambda: memory)
    monkeypatch.setattr(limits, "device_memory", lambda: memory)
    args = ["check", ROOT / "problems/poisson2d.yaml"]
    for item in ("solver.name=gauss_newton", "solver.jacobian=layerwise", "operators.method=fd", *sets):
        args += ["--set", item]
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = cli.main([str(a) for a in args])
    return code, out.getvalue(), err.getvalue()


def test_check_refuses_a_tt_first_layers_tangents_and_passes_with_the_chunk_it_names(monkeypatch):
    """poisson2d's tt_mlp(64, 64) at 10,000 points (5 FD nodes each): a chunk of 64 columns and its
    remainder are beyond the 1.5 GiB memory beside the rest of the step."""
    memory = (1.5 * GIB, "test memory")
    code, _, err = _check(memory, monkeypatch, "train.batch_size=10000", "solver.chunk_size=64")
    assert code == 2 and "first-layer tangent columns" in err and "solver.chunk_size" in err, err
    fits = int(re.search(r"set solver\.chunk_size to at most (\d+)", err).group(1))
    code, out, err = _check(memory, monkeypatch, "train.batch_size=10000", f"solver.chunk_size={fits}")
    assert code == 0 and out.strip().endswith("ok"), err


def test_check_fits_an_unset_chunk_to_the_tangents(monkeypatch):
    """Unset, every column at once would not fit: the chunk ``build`` fits passes the same check."""
    code, out, err = _check((1.5 * GIB, "test memory"), monkeypatch, "train.batch_size=10000", "solver.chunk_size=null")
    assert code == 0 and out.strip().endswith("ok"), err
    training = float(re.search(r"training ([\d.]+) GiB", out).group(1))
    assert training < 1.5 / 8 + 0.5  # the fitted tangents within an eighth of the memory, the rest below 0.5 GiB
