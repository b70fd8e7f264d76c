"""Kernel-space BMDAL: the NNGP kernel, the kernel-space posterior, selection."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from labelwise import InvalidParameterError
from labelwise.kernels import (
    FeatureGram,
    NNGPGram,
    PosteriorGram,
    scale_gram,
    select_bmdal,
    select_bmdal_kernel,
)
from labelwise.kernels._transforms import posterior


def _nngp_reference(x, n_layers, sw, sb):
    """Entry by entry, straight from the recursion."""
    n, d = x.shape
    k = np.array(
        [[sw**2 * x[i] @ x[j] / d + sb**2 for j in range(n)] for i in range(n)]
    )
    for _ in range(n_layers - 1):
        new = np.empty_like(k)
        for i in range(n):
            for j in range(n):
                root = math.sqrt(k[i, i] * k[j, j])
                c = min(1.0, max(-1.0, k[i, j] / (root + 1e-30)))
                t = math.acos(c)
                new[i, j] = (
                    sw**2 / (2 * math.pi) * root * (math.sin(t) + (math.pi - t) * c)
                    + sb**2
                )
        k = new
    return k


@pytest.mark.parametrize(
    "n_layers,sw,sb", [(1, 0.3, 0.0), (3, 0.2, 0.0), (4, 1.3, 0.5)]
)
def test_nngp_matches_the_recursion_entry_by_entry(n_layers, sw, sb):
    x = np.random.default_rng(0).normal(size=(7, 3))
    g = NNGPGram(x, n_layers=n_layers, sigma_w=sw, sigma_b=sb)
    want = _nngp_reference(x, n_layers, sw, sb)
    assert np.allclose(g.dense().numpy(), want, rtol=1e-12, atol=1e-14)
    assert np.allclose(g.diag().numpy(), np.diag(want), rtol=1e-12)
    assert np.allclose(g.row(4).numpy(), want[:, 4], rtol=1e-12)


def test_nngp_is_the_covariance_of_a_wide_relu_layer():
    # one hidden layer of width m: given the first layer, the output covariance
    # is sw² mean_i relu(z_i(x)) relu(z_i(x')) + sb², which tends to the NNGP
    rng = np.random.default_rng(1)
    x = rng.normal(size=(5, 3))
    sw, sb, m = 1.2, 0.4, 400_000
    z = sw / math.sqrt(3) * x @ rng.normal(size=(3, m)) + sb * rng.normal(size=m)
    h = np.maximum(z, 0.0)
    empirical = sw**2 * h @ h.T / m + sb**2
    got = NNGPGram(x, n_layers=2, sigma_w=sw, sigma_b=sb).dense().numpy()
    assert np.allclose(got, empirical, rtol=0.03, atol=0.01)


def test_nngp_rejects_bad_parameters():
    with pytest.raises(InvalidParameterError, match="n_layers >= 1"):
        NNGPGram(np.ones((2, 2)), n_layers=0)
    with pytest.raises(InvalidParameterError, match="sigma_w > 0"):
        NNGPGram(np.ones((2, 2)), sigma_w=0.0)


def _eig_features(k):
    """Features with ``f fᵀ = k`` (for a PSD ``k``)."""
    w, v = np.linalg.eigh(k)
    return v * np.sqrt(np.clip(w, 0, None))


def test_posterior_gram_is_the_gp_posterior():
    rng = np.random.default_rng(2)
    x = rng.normal(size=(20, 4))
    base = NNGPGram(x, n_layers=3, sigma_w=0.9, sigma_b=0.1)
    k = base.dense().numpy()
    train = [3, 7, 11]
    sigma = 0.05
    want = k - k[:, train] @ np.linalg.solve(
        k[np.ix_(train, train)] + sigma**2 * np.eye(3), k[train, :]
    )
    post = PosteriorGram(base, train, sigma)
    assert np.allclose(post.dense().numpy(), want, atol=1e-10)
    assert np.allclose(post.diag().numpy(), np.diag(want), atol=1e-10)
    assert np.allclose(post.row(5).numpy(), want[:, 5], atol=1e-10)
    # the feature-space posterior of features of the same kernel agrees
    f = _eig_features(k)
    fp, _ = posterior(f, f[train], sigma)
    assert np.allclose(fp.numpy() @ fp.numpy().T, want, atol=1e-8)
    with pytest.raises(InvalidParameterError, match="sigma > 0"):
        PosteriorGram(base, train, 0.0)


@settings(max_examples=25, deadline=None)
@given(
    seed=st.integers(0, 10_000),
    n_train=st.integers(0, 6),
    sigma=st.floats(1e-3, 2.0),
)
def test_posterior_variance_lies_between_zero_and_the_prior(seed, n_train, sigma):
    x = np.random.default_rng(seed).normal(size=(12, 3))
    base = FeatureGram(x)
    post = PosteriorGram(base, np.arange(n_train), sigma)
    d = post.diag().numpy()
    assert np.all(d >= -1e-9)
    assert np.all(d <= base.diag().numpy() + 1e-12)
    assert np.allclose(np.diag(post.dense().numpy()), d, atol=1e-10)


def test_scale_gram_gives_unit_mean_training_variance():
    x = np.random.default_rng(3).normal(size=(10, 3))
    g = scale_gram(NNGPGram(x), [7, 8, 9])
    assert float(g.diag()[7:].mean()) == pytest.approx(1.0)
    assert np.allclose(scale_gram(FeatureGram(x), [], 2.0).dense().numpy(), 4 * x @ x.T)
    assert np.allclose(scale_gram(FeatureGram(x), []).dense().numpy(), x @ x.T)


@pytest.mark.parametrize("mode", ["p", "tp"])
@pytest.mark.parametrize("method", ["maxdiag", "maxdet", "maxdist", "kmeanspp", "lcmd"])
def test_kernel_space_picks_equal_the_feature_space_picks(method, mode):
    rng = np.random.default_rng(4)
    pool, train = rng.normal(size=(40, 5)), rng.normal(size=(6, 5))
    g = FeatureGram(np.concatenate([pool, train]))
    kw = {"method": method, "mode": mode, "sigma": 0.2, "rng": 9}
    got = select_bmdal_kernel(g, 40, 8, **kw)
    want = select_bmdal(pool, train, 8, **kw)
    assert got.indices.tolist() == want.indices.tolist()


@pytest.mark.parametrize("mode", ["p", "tp"])
@pytest.mark.parametrize("method", ["maxdet", "maxdist", "kmeanspp", "lcmd"])
def test_nngp_selection_equals_selection_on_its_eigenfeatures(method, mode):
    # the feature path is checked against brute-force references in test_bmdal
    x = np.random.default_rng(5).normal(size=(30, 4))
    g = NNGPGram(x, n_layers=3, sigma_w=1.0)
    post = PosteriorGram(g, np.arange(24, 30), 0.1)
    f = _eig_features(post.dense().numpy())
    kw = {"method": method, "mode": mode, "sigma": 0.1, "rng": 3}
    got = select_bmdal_kernel(post, 24, 6, **kw)
    want = select_bmdal(f[:24], f[24:], 6, **kw)
    assert got.indices.tolist() == want.indices.tolist()


def test_random_in_kernel_space_uses_the_generator():
    g = FeatureGram(np.random.default_rng(6).normal(size=(20, 2)))
    a = select_bmdal_kernel(g, 15, 5, method="random", rng=1).indices
    b = select_bmdal_kernel(g, 15, 5, method="random", rng=1).indices
    assert a.tolist() == b.tolist() and len(set(a.tolist())) == 5 and max(a) < 15


def test_kernel_space_rejects_feature_only_methods_and_bad_input():
    g = FeatureGram(np.ones((5, 2)))
    for method in ("bait", "fw"):
        with pytest.raises(InvalidParameterError, match="needs explicit features"):
            select_bmdal_kernel(g, 5, 2, method=method)
    with pytest.raises(InvalidParameterError, match="Gram"):
        select_bmdal_kernel(torch.ones(5, 5), 5, 2)  # type: ignore[arg-type]
    with pytest.raises(InvalidParameterError, match="n_pool"):
        select_bmdal_kernel(g, 6, 2)
    with pytest.raises(InvalidParameterError, match="n_select"):
        select_bmdal_kernel(g, 3, 4)


def test_exhausted_kernel_is_filled_at_random_and_said():
    # rank 2: maxdet (sigma = 0) cannot find a third direction
    x = np.random.default_rng(7).normal(size=(10, 2))
    with np.errstate(all="ignore"):
        res = select_bmdal_kernel(FeatureGram(x), 10, 4, method="maxdet", rng=0)
    assert res.n_random == 2 and "at random" in (res.message or "")
    assert len(set(res.indices.tolist())) == 4
