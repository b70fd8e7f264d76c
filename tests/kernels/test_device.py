"""Kernels run on the device of their input and agree with the NumPy path.

Each test runs with a CPU tensor and, where CUDA exists, a CUDA tensor
(``device`` fixture); the NumPy input is the reference. Inputs are random
continuous data, so no two candidates tie within float rounding.
"""

import numpy as np
import pytest
import torch

from labelwise import InvalidParameterError
from labelwise.kernels import (
    FeatureGram,
    NNGPGram,
    PosteriorGram,
    greedy_a_optimal,
    greedy_a_optimal_rank_one,
    kcenter_greedy,
    kmeans_plusplus,
    kmeans_plusplus_factored,
    kron_gram,
    select_bmdal,
    select_bmdal_kernel,
)
from labelwise.kernels import _transforms as tf
from labelwise.kernels._bmdal import METHODS
from labelwise.strategies.design import fisher_factors


def _on(x, device):
    return torch.as_tensor(x).to(device)


def _same(got, ref):
    assert isinstance(got, np.ndarray) and got.dtype == np.int64
    assert got.tolist() == ref.tolist()


@pytest.fixture
def x():
    return np.random.default_rng(0).normal(size=(300, 6)).astype(np.float32)


def test_kcenter_on_device(device, x):
    lab = [3, 50, 77]
    _same(
        kcenter_greedy(_on(x, device), 12, labeled=lab),
        kcenter_greedy(x, 12, labeled=lab),
    )
    _same(kcenter_greedy(_on(x, device), 5, rng=4), kcenter_greedy(x, 5, rng=4))


def test_kmeanspp_on_device(device, x):
    _same(kmeans_plusplus(_on(x, device), 15, rng=1), kmeans_plusplus(x, 15, rng=1))
    a = np.abs(x[:, :3])
    got = kmeans_plusplus_factored(_on(a, device), _on(x, device), 15, rng=2)
    _same(got, kmeans_plusplus_factored(a, x, 15, rng=2))


def test_non_finite_tensor_is_refused_where_it_lives(device, x):
    bad = _on(x, device)
    bad[7, 2] = float("nan")
    with pytest.raises(InvalidParameterError, match="first at row 7"):
        kcenter_greedy(bad, 3)
    with pytest.raises(InvalidParameterError, match="NaN or infinite"):
        select_bmdal(bad, None, 3, method="maxdist")


def test_greedy_a_optimal_on_device(device):
    rng = np.random.default_rng(1)
    h = rng.normal(size=(120, 4))
    z = rng.normal(size=(120, 3))
    p = np.exp(z) / np.exp(z).sum(1, keepdims=True)
    left = fisher_factors(p)
    fisher = kron_gram(torch.as_tensor(left), torch.as_tensor(h)) / 120
    prec = torch.eye(12, dtype=torch.float64)
    ref, gains = greedy_a_optimal(left, h, 8, fisher=fisher, precision=prec)
    got, got_gains = greedy_a_optimal(
        fisher_factors(_on(p, device)), _on(h, device), 8, fisher=fisher, precision=prec
    )
    _same(got, ref)
    np.testing.assert_allclose(got_gains, gains, rtol=1e-9)


def test_rank_one_on_device(device, x):
    f = x.astype(np.float64)
    fisher = f.T @ f / len(f)
    prec = np.eye(6)
    ref, _ = greedy_a_optimal_rank_one(f, 10, fisher=fisher, precision=prec)
    got, _ = greedy_a_optimal_rank_one(
        _on(f, device), 10, fisher=fisher, precision=prec
    )
    _same(got, ref)


@pytest.mark.parametrize("method", METHODS)
def test_select_bmdal_on_device(device, x, method):
    pool, train = x[:250], x[250:]
    kw = {"method": method, "sigma": 0.1, "rng": 3}
    if method == "bait":
        kw["overselection"] = 2.0
    ref = select_bmdal(pool, train, 9, **kw)
    got = select_bmdal(_on(pool, device), _on(train, device), 9, **kw)
    _same(got.indices, ref.indices)
    assert got.n_random == ref.n_random


@pytest.mark.parametrize("method", ["maxdet", "maxdist", "kmeanspp", "lcmd", "maxdiag"])
def test_select_bmdal_kernel_on_device(device, x, method):
    train = np.arange(250, 300)

    def grams(data):
        return [
            FeatureGram(data),
            PosteriorGram(NNGPGram(data), train, 0.1),
        ]

    for ref_g, got_g in zip(grams(x), grams(_on(x, device)), strict=True):
        ref = select_bmdal_kernel(ref_g, 250, 9, method=method, sigma=0.1, rng=3)
        got = select_bmdal_kernel(got_g, 250, 9, method=method, sigma=0.1, rng=3)
        _same(got.indices, ref.indices)


def test_transforms_on_device(device, x):
    pool, train = x[:250], x[250:]
    y = np.random.default_rng(5).normal(size=50)
    cases = [
        lambda p, t: tf.scale(p, t),
        lambda p, t: tf.posterior(p, t, 0.1, prescale=0.5),
        lambda p, t: tf.sketch(p, t, 4, rng=1),
        lambda p, t: tf.acs_grad(p, t, 0.5),
        lambda p, t: tf.acs_rf(p, t, 5, 0.5, rng=2),
        lambda p, t: tf.acs_rf_hyper(p, t, y, 5, rng=3),
        lambda p, t: tf.ensemble([(p, t), (p, t)]),
    ]
    for case in cases:
        ref = case(pool, train)
        got = case(_on(pool, device), _on(train, device))
        for r, g in zip(ref, got, strict=True):
            assert g.device.type == torch.device(device).type
            np.testing.assert_allclose(
                g.cpu().numpy(), r.numpy(), rtol=1e-9, atol=1e-12
            )
