"""Tensor-train layers, TT-SVD and the TT-MLP, checked against independent NumPy references."""

import dataclasses
import itertools
import math
from pathlib import Path

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from pdesolve.config import MlpConfig, load_config_file, resolve, resolve_config
from pdesolve.errors import ConfigError
from pdesolve.models import MLP, DenseLinear, TTLinear, factorise, tt_svd
from pdesolve.models._tt import padded_factorise
from pdesolve.run import build_network

REFERENCE_CONFIG = Path(__file__).parents[1] / "configs" / "tt_mlp_reference.yaml"


@pytest.fixture(autouse=True, scope="module")
def float64():
    with jax.enable_x64(True):
        yield


def dense_by_definition(cores, out_factors, in_factors) -> np.ndarray:
    """W[(i_1..i_L), (j_1..j_L)] = G_1[:, i_1, j_1, :] @ ... @ G_L[:, i_L, j_L, :], as one einsum."""
    n = len(cores)
    bonds, outs, ins = "abcdefgh"[: n + 1], "ijklmn"[:n], "opqrst"[:n]
    terms = [f"{bonds[k]}{outs[k]}{ins[k]}{bonds[k + 1]}" for k in range(n)]
    w = np.einsum(f"{','.join(terms)}->{bonds[0]}{outs}{ins}{bonds[n]}", *map(np.asarray, cores))
    return w.reshape(math.prod(out_factors), math.prod(in_factors))


def unfolding_tails(w, out_factors, in_factors, ranks) -> list[float]:
    """Best rank-r_k approximation errors of the unfoldings of the interleaved (m_1 n_1, ...) tensor."""
    shape = [d for pair in zip(out_factors, in_factors) for d in pair]
    tensor = np.zeros(shape)
    for i in itertools.product(*map(range, out_factors)):
        for j in itertools.product(*map(range, in_factors)):
            interleaved = tuple(x for pair in zip(i, j) for x in pair)
            tensor[interleaved] = w[np.ravel_multi_index(i, out_factors), np.ravel_multi_index(j, in_factors)]
    tails = []
    for k, r in enumerate(ranks):
        rows = math.prod(shape[: 2 * (k + 1)])
        s = np.linalg.svd(tensor.reshape(rows, -1), compute_uv=False)
        tails.append(float(np.sqrt(np.sum(s[r:] ** 2))))
    return tails


OUT, IN = (3, 4, 2), (2, 5, 3)


def test_tt_svd_full_rank_reconstructs():
    w = np.random.default_rng(0).standard_normal((24, 30))
    cores = tt_svd(w, OUT, IN)
    assert [c.shape for c in cores] == [(1, 3, 2, 6), (6, 4, 5, 6), (6, 2, 3, 1)]
    assert np.linalg.norm(dense_by_definition(cores, OUT, IN) - w) < 1e-12 * np.linalg.norm(w)


@pytest.mark.parametrize("ranks", [(1, 1), (2, 3), (4, 2), (5, 5)])
def test_tt_svd_truncation_meets_bound(ranks):
    w = np.random.default_rng(1).standard_normal((24, 30))
    cores = tt_svd(w, OUT, IN, rank=list(ranks))
    assert tuple(c.shape[3] for c in cores[:-1]) == ranks
    error = np.linalg.norm(w - dense_by_definition(cores, OUT, IN))
    bound = math.sqrt(sum(t**2 for t in unfolding_tails(w, OUT, IN, ranks)))
    assert 0 < error <= bound * (1 + 1e-10)


@pytest.mark.parametrize("tolerance", [0.05, 0.2, 0.5, 0.9])
def test_tt_svd_tolerance(tolerance):
    rng = np.random.default_rng(2)
    w = rng.standard_normal((24, 30)) * np.logspace(0, -3, 30)  # decaying spectra, so truncation happens
    norm = np.linalg.norm(w)
    cores = tt_svd(w, OUT, IN, tolerance=tolerance)
    assert np.linalg.norm(w - dense_by_definition(cores, OUT, IN)) <= tolerance * norm
    ranks = [c.shape[3] for c in cores[:-1]]
    assert sum(ranks) < 12  # full ranks are (6, 6)
    # the first SVD sees the first unfolding of W itself: r_1 is the least rank within eps ||W|| / sqrt(L-1)
    delta = tolerance * norm / math.sqrt(2)
    assert unfolding_tails(w, OUT, IN, [ranks[0], 6])[0] <= delta
    assert ranks[0] == 1 or unfolding_tails(w, OUT, IN, [ranks[0] - 1, 6])[0] > delta


def test_tt_svd_recovers_exact_low_rank_tt():
    rng = np.random.default_rng(3)
    ranks = [1, 2, 3, 1]
    cores = [rng.standard_normal((ranks[k], m, n, ranks[k + 1])) for k, (m, n) in enumerate(zip(OUT, IN))]
    w = dense_by_definition(cores, OUT, IN)
    recovered = tt_svd(w, OUT, IN, tolerance=1e-12)
    assert [c.shape[3] for c in recovered[:-1]] == [2, 3]
    assert np.linalg.norm(dense_by_definition(recovered, OUT, IN) - w) < 1e-12 * np.linalg.norm(w)


@pytest.mark.parametrize(
    "in_size, out_size, in_factors, out_factors, rank",
    [(21, 512, [1, 1, 3, 7], [8, 4, 4, 4], 2), (30, 24, [2, 5, 3], [3, 4, 2], [3, 2]), (64, 8, None, None, 3)],
)
def test_forward_paths_agree(in_size, out_size, in_factors, out_factors, rank):
    def make(path):
        return TTLinear(
            in_size,
            out_size,
            key=jax.random.key(0),
            rank=rank,
            in_factors=in_factors,
            out_factors=out_factors,
            n_cores=3,
            path=path,
            dtype=jnp.float64,
        )

    layers = [make(path) for path in ("contract", "dense", "auto")]
    z = jax.random.normal(jax.random.key(1), (7, in_size), jnp.float64)
    w = dense_by_definition(layers[0].cores, layers[0].out_factors, layers[0].in_factors)
    expected = np.asarray(z) @ w.T + np.asarray(layers[0].bias)
    rebuilt, outs = eqx.filter_jit(lambda layers, z: (layers[0].to_dense(), [layer(z) for layer in layers]))(layers, z)
    np.testing.assert_allclose(rebuilt, w, rtol=1e-12, atol=1e-14)
    for out in outs:
        np.testing.assert_allclose(out, expected, rtol=1e-12, atol=1e-13)


def test_from_dense_matches_dense_layer():
    dense = DenseLinear(30, 24, key=jax.random.key(4), dtype=jnp.float64)
    layer = TTLinear.from_dense(dense.weight, dense.bias, in_factors=IN, out_factors=OUT, path="contract")
    z = jax.random.normal(jax.random.key(5), (6, 30), jnp.float64)
    np.testing.assert_allclose(
        eqx.filter_jit(layer)(z),
        np.asarray(z) @ np.asarray(dense.weight).T + np.asarray(dense.bias),
        rtol=1e-11,
        atol=1e-12,
    )
    truncated = TTLinear.from_dense(dense.weight, None, rank=2, in_factors=IN, out_factors=OUT)
    assert truncated.ranks == (2, 2) and truncated.bias is None


def test_reference_network_parameter_count():
    model = resolve(load_config_file(REFERENCE_CONFIG)).model
    assert set(model.to_dict()) == {
        "type",
        "widths",
        "activation",
        "init",
        "rank",
        "n_cores",
        "in_factors",
        "out_factors",
        "dense_layers",
        "path",
        "inputs",
    }
    net = build_network(model, 21, key=jax.random.key(0))
    first, second, last = net.layers
    assert (first.in_factors, first.out_factors) == ((1, 1, 3, 7), (8, 4, 4, 4))
    assert (second.in_factors, second.out_factors) == ((4, 4, 4, 8), (8, 4, 4, 4))
    assert first.ranks == second.ranks == (2, 2, 2) and isinstance(last, DenseLinear)
    assert net.n_params == 1929  # docs/methods.md#tensor-train-layers
    assert net.dense_n_params == 274_433 == 22 * 512 + 513 * 512 + 513
    # the automatic factorisation chooses the reference factors
    auto = build_network(dataclasses.replace(model, in_factors=None, out_factors=None), 21, key=jax.random.key(0))
    assert [(layer.in_factors, layer.out_factors) for layer in auto.layers[:2]] == [
        (first.in_factors, first.out_factors),
        (second.in_factors, second.out_factors),
    ]


@pytest.mark.parametrize("init, variance", [("lecun", 1 / (3 * 21)), ("siren", 2 / 21)])
def test_init_variance_matches_dense(init, variance):
    """E[W_ij^2] over initialisations equals the dense bound^2/3 (lecun 1/(3 in), siren 2/in)."""
    layers = [TTLinear(21, 512, key=jax.random.key(s), rank=2, in_factors=[1, 1, 3, 7], init=init) for s in range(300)]
    second_moments = np.array(
        [np.mean(dense_by_definition(layer.cores, layer.out_factors, layer.in_factors) ** 2) for layer in layers]
    )
    sampling_error = second_moments.std(ddof=1) / math.sqrt(len(layers))
    assert abs(second_moments.mean() - variance) < 4 * sampling_error
    assert sampling_error < 0.05 * variance  # the check is sharp enough to matter


def test_sine_tt_network_activations_match_dense():
    """Pre-activation scale of every hidden layer of the reference sin network is that of the dense one."""
    config = resolve(load_config_file(REFERENCE_CONFIG)).model
    dense_config = MlpConfig(widths=config.widths, activation=config.activation, init=config.init)
    x = jax.random.uniform(jax.random.key(7), (256, 21), jnp.float32, -1, 1)

    def hidden_rms(net: MLP) -> list[float]:
        z, rms = x, []
        for layer in net.layers[:-1]:
            z = layer(z)
            rms.append(float(jnp.sqrt(jnp.mean(z**2))))
            z = jnp.sin(z)
        return rms

    seeds = range(20)
    tt = np.mean([hidden_rms(build_network(config, 21, key=jax.random.key(s))) for s in seeds], axis=0)
    dense = np.mean([hidden_rms(build_network(dense_config, 21, key=jax.random.key(s))) for s in seeds], axis=0)
    np.testing.assert_allclose(tt, dense, rtol=0.15)


@pytest.mark.parametrize("n_factors", [1, 2, 3, 4])
def test_factorise_round_trips(n_factors):
    for size in [*range(1, 130), 512, 768, 1000, 1024]:
        try:
            factors = factorise(size, n_factors)
        except ValueError as err:
            assert str(size) in str(err) and "factors explicitly" in str(err)
            continue
        assert len(factors) == n_factors and math.prod(factors) == size and list(factors) == sorted(factors)
        assert factorise(size, n_factors, descending=True) == factors[::-1]
        # balanced: no factorisation into n_factors factors has a smaller largest factor (brute force)
        divisors = [d for d in range(1, size + 1) if size % d == 0]
        best = (
            min(max(t) for t in itertools.product(divisors, repeat=n_factors) if math.prod(t) == size)
            if n_factors <= 3 or size <= 130
            else max(factors)
        )
        assert max(factors) == best


def test_factorise_examples():
    assert factorise(512, 4, descending=True) == (8, 4, 4, 4)
    assert factorise(21, 4) == (1, 1, 3, 7)
    with pytest.raises(ValueError, match="509"):
        factorise(509, 4)


@pytest.mark.parametrize(
    "kwargs, field",
    [
        (dict(in_factors=[1, 1, 3, 6]), "in_factors"),
        (dict(out_factors=[8, 4, 4, 2]), "out_factors"),
        (dict(in_factors=[3, 7], out_factors=[8, 4, 4, 4]), "in_factors/out_factors"),
        (dict(in_factors=[1, 1, 3, 7], rank=[2, 2]), "rank"),
        (dict(in_factors=[1, 1, 3, 7], rank=0), "rank"),
        (dict(in_factors=[1, 1, 3, 7], rank=[9, 2, 2]), "rank"),  # r_1 <= m_1 n_1 = 8
        (dict(in_factors=[1, 1, 3, 7], path="fast"), "path"),
    ],
)
def test_bad_shapes_name_the_field(kwargs, field):
    with pytest.raises(ValueError, match=f"^{field}: "):
        TTLinear(21, 512, key=jax.random.key(0), **kwargs)


def test_unfactorable_size_is_padded():
    layer = TTLinear(509, 512, key=jax.random.key(0))
    assert layer.in_factors == (4, 4, 4, 8) and layer.to_dense().shape == (512, 509)
    assert padded_factorise(51, 4) == (2, 3, 3, 3) and padded_factorise(1001, 4) == (4, 6, 6, 7)
    assert padded_factorise(512, 4) == factorise(512, 4)
    with pytest.raises(ValueError, match=r"^in_factors: .* multiply to 52"):  # given factors must match
        TTLinear(51, 512, key=jax.random.key(0), in_factors=[1, 4, 13, 1])


@pytest.mark.parametrize("in_size, widths", [(51, [51, 64]), (1001, [64, 64])])
def test_tt_network_for_any_input_size_matches_dense(in_size, widths):
    """A TT network on a size with no balanced factorisation (padded inputs, and outputs for the
    width 51) equals the dense network built from its reconstructed weights, on both TT paths."""
    config = resolve({"model": {"type": "tt_mlp", "widths": widths}}).model
    tt = build_network(config, in_size, key=jax.random.key(0), dtype=jnp.float64)
    assert math.prod(tt.layers[0].in_factors) > in_size
    dense = MLP(
        [DenseLinear(layer.in_size, layer.out_size, key=jax.random.key(1), dtype=jnp.float64) for layer in tt.layers],
        tt.activation,
    )
    for i, layer in enumerate(tt.layers):
        weight = layer.to_dense() if isinstance(layer, TTLinear) else layer.weight
        assert weight.shape == (layer.out_size, layer.in_size)
        dense = eqx.tree_at(lambda m: (m.layers[i].weight, m.layers[i].bias), dense, (weight, layer.bias))  # noqa: B023 (called at once)
    for n in (7, 150):  # below and above AUTO_DENSE_MIN_BATCH: contracted cores, rebuilt weight
        z = jax.random.normal(jax.random.key(2), (n, in_size), jnp.float64)
        np.testing.assert_allclose(tt(z), dense(z), rtol=1e-12, atol=1e-12)
    weight = jax.random.normal(jax.random.key(3), (64, in_size), jnp.float64)
    exact = TTLinear.from_dense(weight, tolerance=1e-12)  # full-rank TT-SVD of the padded weight
    np.testing.assert_allclose(exact.to_dense(), weight, atol=1e-10)


def test_config_errors_name_the_field():
    def network(**model):  # settings whose fit depends on the input size: checked when the network is built
        config = resolve({"model": {"type": "tt_mlp", **model}}).model
        return build_network(config, 21, key=jax.random.key(0))

    with pytest.raises(ConfigError, match=r"layer 0: 21 -> 512.*in_factors"):
        network(in_factors=[[1, 1, 3, 8], None])
    with pytest.raises(ConfigError, match=r"model\.rank"):
        network(rank=[2, 2, 2])
    with pytest.raises(ConfigError, match=r"model\.dense_layers"):
        network(dense_layers=[3])
    with pytest.raises(ConfigError, match=r"model\.ranks"):
        resolve_config({"model": {"type": "tt_mlp", "ranks": 2}})
