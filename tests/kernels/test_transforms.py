"""BMDAL kernel transforms against their kernel-space definitions."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
import torch

from labelwise import InvalidParameterError
from labelwise.exceptions import NumericsWarning
from labelwise.kernels._transforms import (
    acs_grad,
    acs_rf,
    acs_rf_hyper,
    ensemble,
    posterior,
    product,
    robust_cholesky,
    scale,
    sketch,
)


def _data(seed=0, n_pool=30, n_train=8, p=5):
    rng = np.random.default_rng(seed)
    return rng.normal(size=(n_pool, p)), rng.normal(size=(n_train, p))


def _gram(a, b=None):
    a = np.asarray(a)
    return a @ (a if b is None else np.asarray(b)).T


def test_scale_gives_unit_mean_training_variance():
    pool, train = _data()
    fp, ft = scale(pool, train)
    assert float((ft**2).sum(1).mean()) == pytest.approx(1.0)
    c = fp.numpy() / pool
    assert np.allclose(c, c[0, 0])
    fp2, _ = scale(pool, train, factor=2.0)
    assert np.allclose(fp2.numpy(), 2 * pool)


def test_posterior_features_give_the_gp_posterior_kernel():
    pool, train = _data(1)
    sigma = 0.3
    fp, ft = posterior(pool, train, sigma)
    x = np.concatenate([pool, train])
    k = _gram(x)
    kxt = _gram(x, train)
    want = k - kxt @ np.linalg.solve(_gram(train) + sigma**2 * np.eye(8), kxt.T)
    got = _gram(np.concatenate([fp.numpy(), ft.numpy()]))
    assert np.allclose(got, want, atol=1e-10)
    with pytest.raises(InvalidParameterError, match="sigma > 0"):
        posterior(pool, train, 0.0)


def test_posterior_in_float32_is_the_float64_result_rounded_once():
    pool, train = _data(2, n_pool=70_000)  # more rows than one chunk
    pool = pool.astype(np.float32)
    f64 = posterior(pool, train, 0.1, prescale=0.5)
    f32 = posterior(pool, train, 0.1, prescale=0.5, dtype=torch.float32)
    for a, b in zip(f32, f64, strict=True):
        assert a.dtype == torch.float32
        assert torch.equal(a, b.to(torch.float32))
    with pytest.raises(InvalidParameterError, match="dtype"):
        posterior(pool, train, 0.1, dtype=torch.float16)


def test_robust_cholesky_adds_jitter_and_says_so():
    v = np.array([[1.0, 2.0, 3.0]])
    a = torch.as_tensor(v.T @ v)  # rank one
    a[2, 2] -= 1e-9  # slightly indefinite
    with pytest.warns(NumericsWarning, match="jitter"):
        factor = robust_cholesky(a)
    assert torch.allclose(factor @ factor.t(), a, atol=1e-3)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        robust_cholesky(torch.eye(3, dtype=torch.float64))
    with pytest.raises(InvalidParameterError, match="not positive semi-definite"):
        robust_cholesky(torch.full((2, 2), float("nan"), dtype=torch.float64))


def test_sketch_is_seeded_and_unbiased():
    pool, train = _data(2, p=50)
    a, _ = sketch(pool, train, 20, rng=0)
    b, _ = sketch(pool, train, 20, rng=0)
    assert a.shape == (30, 20) and torch.equal(a, b)
    big, _ = sketch(pool, train, 20000, rng=1)
    k, kb = _gram(pool), _gram(big.numpy())
    assert np.abs(kb - k).max() < 0.1 * np.abs(np.diag(k)).max()


def test_product_kernel_exact_and_sketched():
    pool, train = _data(3, p=3)
    fa = (torch.as_tensor(pool), torch.as_tensor(train))
    fb = scale(pool**2, train**2, factor=0.5)
    fp, ft = product(fa, fb)
    want = _gram(pool) * _gram(fb[0].numpy())
    assert np.allclose(_gram(fp.numpy()), want)
    assert ft.shape == (8, 9)
    sp, _ = product(fa, fb, max_dim=8, rng=0)  # 9 > 8: tensor sketch
    assert sp.shape == (30, 8)
    mean = np.mean(
        [_gram(product(fa, fb, max_dim=8, rng=s)[0].numpy()) for s in range(3000)],
        axis=0,
    )
    assert np.abs(mean - want).max() < 0.1 * np.abs(want).max()


def test_acs_grad_is_prior_times_posterior_over_sigma4():
    pool, train = _data(4, p=3)
    sigma = 0.5
    fp, _ = acs_grad(pool, train, sigma)
    post, _ = posterior(pool, train, sigma)
    want = _gram(pool) * _gram(post.numpy()) / sigma**4
    assert np.allclose(_gram(fp.numpy()), want)


def test_acs_rf_has_the_expected_mean_feature():
    pool, train = _data(5)
    sigma, dim = 0.7, 40000
    fp, ft = acs_rf(pool, train, dim, sigma, rng=0)
    assert fp.shape == (30, dim) and ft.shape == (8, dim)
    a = _gram(train.T) + sigma**2 * np.eye(5)
    ks = np.einsum("ij,jk,ik->i", pool, np.linalg.inv(a), pool)
    # E[(phi^T theta)^2] = k_Sigma, so E[psi_j] sqrt(dim) = log term - k/sigma^2
    want = 0.5 * np.log1p(ks / sigma**2) - ks / sigma**2
    got = fp.numpy().mean(1) * np.sqrt(dim)
    assert np.allclose(got, want, atol=0.05 * np.abs(want).max())
    again, _ = acs_rf(pool, train, dim, sigma, rng=0)
    assert torch.equal(fp, again)


def test_acs_rf_hyper_has_the_expected_mean_feature():
    pool, train = _data(6)
    y = np.random.default_rng(0).normal(size=8)
    dim = 40000
    fp, _ = acs_rf_hyper(pool, train, y, dim, rng=0)
    a = _gram(train.T) + np.eye(5)
    ainv = np.linalg.inv(a)
    tbar = ainv @ train.T @ y
    at, bt = 1 + 8 / 2, 1 + 0.5 * (y @ y - tbar @ a @ tbar)
    ks = np.einsum("ij,jk,ik->i", pool, ainv, pool)
    v = (bt / at) * (1 + ks)
    want = -0.5 * np.log(2 * np.pi) - 0.5 * (ks + v)
    got = fp.numpy().mean(1) * np.sqrt(dim)
    assert np.allclose(got, want, atol=0.05 * np.abs(want).max())
    with pytest.raises(InvalidParameterError, match="one target per training point"):
        acs_rf_hyper(pool, train, y[:3], 10)


def test_ensemble_sums_kernels():
    pool, train = _data(7)
    other = (torch.as_tensor(pool[:, :2]), torch.as_tensor(train[:, :2]))
    fp, _ = ensemble([(torch.as_tensor(pool), torch.as_tensor(train)), other])
    assert np.allclose(_gram(fp.numpy()), _gram(pool) + _gram(pool[:, :2]))
    with pytest.raises(InvalidParameterError, match="at least one"):
        ensemble([])


def test_prescale_folds_the_scale_into_the_transform_and_chunks_change_nothing():
    from labelwise.kernels._transforms import _rowwise, scale_factor

    pool, train = _data(5)
    c = scale_factor(train)
    want = posterior(*scale(pool, train), 0.2)
    got = posterior(pool.astype(np.float32), train, 0.2, prescale=c)
    assert np.allclose(got[0].numpy(), want[0].numpy(), atol=1e-5)
    assert np.allclose(got[1].numpy(), want[1].numpy(), atol=1e-5)
    want = acs_rf(*scale(pool, train, 0.7), 16, 0.3, rng=4)
    got = acs_rf(pool, train, 16, 0.3, rng=4, prescale=0.7)
    assert np.allclose(got[0].numpy(), want[0].numpy())
    y = np.arange(8.0)
    want = acs_rf_hyper(*scale(pool, train, 0.7), y, 16, rng=4)
    got = acs_rf_hyper(pool, train, y, 16, rng=4, prescale=0.7)
    assert np.allclose(got[0].numpy(), want[0].numpy())
    # row chunks give the same rows as one pass
    whole = _rowwise(pool, 5, lambda f: f * 2.0 + 1.0, 0.5, chunk=10_000)
    chunked = _rowwise(pool, 5, lambda f: f * 2.0 + 1.0, 0.5, chunk=7)
    assert torch.equal(whole, chunked) and np.allclose(whole.numpy(), pool + 1.0)


def test_square_transforms_refuse_features_too_wide_before_allocating(monkeypatch):
    # full-network gradient features (~10^5 wide) made acs-grad/acs-rf ask for
    # hundreds of GB and fail with a bare out-of-memory error
    from labelwise.kernels import _inputs

    # room for three 6 x 6 float64 matrices, not for three 7 x 7
    monkeypatch.setattr(_inputs, "available_bytes", lambda device: 3 * 6 * 6 * 8)
    wide_pool, wide_train = _data(p=7)
    calls = {
        "acs-grad": lambda p, t: acs_grad(p, t, 1.0),
        "acs-rf": lambda p, t: acs_rf(p, t, 4, 1.0, rng=0),
        "acs-rf-hyper": lambda p, t: acs_rf_hyper(p, t, np.zeros(len(t)), 4, rng=0),
        "train": lambda p, t: posterior(p, t, 1.0),
    }
    for name, call in calls.items():
        with pytest.raises(InvalidParameterError, match=rf"{name}.*7 x 7.*'rp', 512"):
            call(wide_pool, wide_train)
        call(*_data(p=6))  # at the limit: runs


def test_available_bytes_reads_this_machine_and_skips_unknown_devices():
    import math
    import sys

    from labelwise.kernels._inputs import available_bytes

    free = available_bytes(torch.device("cpu"))
    if sys.platform.startswith("linux"):
        assert 0 < free < math.inf
    assert available_bytes(torch.device("meta")) == math.inf


def test_available_bytes_on_cuda_counts_the_allocators_cached_blocks(monkeypatch):
    # PyTorch keeps freed blocks reserved: the driver reports them as used,
    # yet the next allocation reuses them. After a round of training the
    # cache can hold most of the device, and a valid width was refused.
    gib = 2**30
    monkeypatch.setattr(torch.cuda, "mem_get_info", lambda device=None: (gib, 80 * gib))
    monkeypatch.setattr(torch.cuda, "memory_reserved", lambda device=None: 10 * gib)
    monkeypatch.setattr(torch.cuda, "memory_allocated", lambda device=None: 2 * gib)

    from labelwise.kernels._inputs import available_bytes

    assert available_bytes(torch.device("cuda")) == 9 * gib
