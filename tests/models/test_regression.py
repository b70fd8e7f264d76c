"""Regression models and the NTK gradient features of the BMDAL base kernels."""

from __future__ import annotations

import functools
import math

import numpy as np
import pytest
import torch
from torch import nn

from labelwise import InvalidParameterError, NotFittedError
from labelwise.models.regression import (
    NTKLinear,
    SklearnRegressor,
    TorchRegressor,
    bmdal_mlp,
)


def _data(n=200, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, 3)).astype(np.float32)
    y = np.sin(x[:, 0]) + 0.5 * x[:, 1] ** 2
    return x, y


def _small(widths=(8, 6)):
    return functools.partial(bmdal_mlp, widths=widths)


def test_ntk_linear_is_scaled_standard_gaussian():
    layer = NTKLinear(400, 300, sigma_w=0.2, sigma_b=0.5)
    assert float(layer.weight.detach().std()) == pytest.approx(1.0, abs=0.02)
    assert torch.equal(layer.bias, torch.zeros(300))
    x = torch.randn(5, 400)
    with torch.no_grad():
        layer.bias.fill_(1.0)
        want = 0.2 / math.sqrt(400) * x @ layer.weight.t() + 0.5
        assert torch.allclose(layer(x), want, atol=1e-6)


def _per_sample_gradients(net, x):
    rows = []
    for xi in x:
        net.zero_grad()
        net(xi[None])[0, 0].backward()
        rows.append(torch.cat([p.grad.reshape(-1) for p in net.parameters()]))
    return torch.stack(rows).double()


@pytest.mark.parametrize("layer", ["ntk", "standard"])
def test_grad_features_reproduce_the_empirical_ntk(layer):
    x, y = _data(40)
    if layer == "ntk":
        net = _small()
    else:

        def net(shape):
            return nn.Sequential(nn.Linear(3, 7), nn.Tanh(), nn.Linear(7, 1))

    reg = TorchRegressor(net, lr=1e-2, max_epochs=3).fit(x, y, rng=0)
    feats = reg.grad_features(x[:10])
    grads = _per_sample_gradients(reg.members_[0], torch.as_tensor(x[:10]))
    assert np.allclose(feats @ feats.T, (grads @ grads.T).numpy(), atol=1e-8)


def test_last_layer_features_are_the_scaled_hidden_layer_and_bias():
    x, y = _data(30)
    reg = TorchRegressor(_small(), max_epochs=2).fit(x, y, rng=0)
    feats = reg.grad_features(x, last_layers=1)
    net = reg.members_[0]
    with torch.no_grad():
        h = net[:-1](torch.as_tensor(x)).double()
    want = np.concatenate([h.numpy() * 0.2 / math.sqrt(6), np.full((30, 1), 0.2)], 1)
    assert np.allclose(feats, want, atol=1e-6)


def test_sketched_features_are_seeded_and_unbiased():
    x, y = _data(20)
    reg = TorchRegressor(_small((5, 4)), max_epochs=2).fit(x, y, rng=0)
    exact = reg.grad_features(x)
    k = exact @ exact.T
    a = reg.grad_features(x, sketch_dim=32, rng=1)
    b = reg.grad_features(x, sketch_dim=32, rng=1)
    assert a.shape == (20, 32) and np.array_equal(a, b)
    mean = np.mean(
        [(f := reg.grad_features(x, sketch_dim=64, rng=s)) @ f.T for s in range(400)],
        axis=0,
    )
    assert np.abs(mean - k).max() < 0.1 * np.abs(np.diag(k)).max()


def test_fit_learns_and_epoch_selection_keeps_the_best_epoch():
    x, y = _data(600)
    xt, yt = _data(300, seed=1)
    reg = TorchRegressor(lr=0.1, max_epochs=40, batch_size=64)
    reg.fit(x[:400], y[:400], rng=0, X_valid=x[400:], y_valid=y[400:])
    rmse = np.sqrt(np.mean((reg.predict(xt) - yt) ** 2))
    assert rmse < 0.5 * np.std(yt)
    best = reg.best_epochs_[0]
    assert 1 <= best <= 40
    # same seed, same trajectory: the kept epoch is at least as good on the
    # validation set as the last one
    val = np.sqrt(np.mean((reg.predict(x[400:]) - y[400:]) ** 2))
    last = TorchRegressor(lr=0.1, max_epochs=40, batch_size=64).fit(
        x[:400], y[:400], rng=0
    )
    val_last = np.sqrt(np.mean((last.predict(x[400:]) - y[400:]) ** 2))
    assert val <= val_last + 1e-6


def test_same_seed_same_regressor_and_errors():
    x, y = _data(64)
    a = TorchRegressor(_small(), max_epochs=3).fit(x, y, rng=4).predict(x)
    b = TorchRegressor(_small(), max_epochs=3).fit(x, y, rng=4).predict(x)
    assert np.array_equal(a, b)
    ens = TorchRegressor(_small(), max_epochs=3, n_members=2).fit(x, y, rng=4)
    assert ens.grad_features(x, sketch_dim=8, rng=0).shape == (64, 16)
    with pytest.raises(NotFittedError):
        TorchRegressor().predict(x)
    with pytest.raises(InvalidParameterError, match="y must have shape"):
        TorchRegressor().fit(x, y[:3])
    with pytest.raises(InvalidParameterError, match="NaN"):
        TorchRegressor().fit(x, np.full(64, np.nan))
    with pytest.raises(InvalidParameterError, match="lr_schedule"):
        TorchRegressor(lr_schedule="cosine")
    with pytest.raises(InvalidParameterError, match="last_layers"):
        TorchRegressor(_small(), max_epochs=1).fit(x, y).grad_features(x, last_layers=9)


def test_sklearn_regressor():
    x, y = _data(100)
    reg = SklearnRegressor().fit(x, y, rng=0)
    assert reg.predict(x).shape == (100,)
    with pytest.raises(NotFittedError):
        SklearnRegressor().predict(x)
    with pytest.raises(InvalidParameterError, match="fit and predict"):
        SklearnRegressor(object())
