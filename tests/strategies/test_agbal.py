"""AGBAL (grad-aux kernel): estimators, the constant ablation, density ratios."""

from __future__ import annotations

import functools

import numpy as np
import pytest
import torch
from scipy.stats import spearmanr

from labelwise import InvalidParameterError
from labelwise.kernels._ratio import density_ratio
from labelwise.models import TorchRegressor, bmdal_mlp
from labelwise.pool import LabelState
from labelwise.strategies import get_strategy
from labelwise.strategies.auxiliary_kernel import phi2_scale

METHODS = ["lcmd", "maxdet", "maxdiag", "fw", "maxdist", "kmeanspp", "bait"]


def _task(seed=0, n=300, n_aux=80):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, 3)).astype(np.float32)
    y = np.sin(2 * x[:, 0]) + x[:, 1]
    x_aux = (rng.normal(size=(n_aux, 3)) + 0.7).astype(np.float32)
    y_aux = np.sin(2 * x_aux[:, 0]) + x_aux[:, 1] + 0.3 * x_aux[:, 2]
    state = LabelState(n)
    state.teach(np.arange(30), y[:30], round=0)
    net = functools.partial(bmdal_mlp, widths=(16,))
    model = TorchRegressor(net, lr=0.05, max_epochs=30).fit(x[:30], y[:30], rng=0)
    return x, y, x_aux, y_aux, state, model


@pytest.mark.parametrize("method", METHODS)
def test_constant_estimator_reproduces_bmdal(method):
    x, _, x_aux, y_aux, state, model = _task()
    plain = "bmdal-bait" if method == "bait" else method
    transforms = [
        ["rp" if t[0] == "rp" else t[0], *t[1:]] for t in get_strategy(plain).transforms
    ]
    small = [[t[0], 32 if t[0] in ("rp",) else t[1], *t[2:]] for t in transforms]
    small = [
        [t[0], 32, *t[2:]] if t[0] in ("acs-rf", "acs-rf-hyper") else t for t in small
    ]
    base = get_strategy(plain, transforms=small).select(model, x, state, 8, rng=3)
    agbal = get_strategy(
        f"agbal-{method}",
        transforms=small,
        auxiliary=(x_aux, y_aux),
        aux_estimator="constant",
    ).select(model, x, state, 8, rng=3)
    assert sorted(agbal.indices.tolist()) == sorted(base.indices.tolist())


def test_krr_estimator_is_kernel_ridge_regression_of_weighted_residuals():
    x, y, x_aux, y_aux, _, model = _task()
    s = get_strategy(
        "agbal-lcmd", auxiliary=(x_aux, y_aux), aux_ridge=0.5, ratio="classifier"
    )
    rng = np.random.default_rng(0)
    feats = torch.as_tensor(rng.normal(size=(300 + 80, 6)))
    pool, train = np.arange(30, 300), np.arange(30)
    X = np.concatenate([x[pool], x[train]])
    got = phi2_scale(
        s, model, feats, X, y[train], 270, 30, (x_aux, y_aux), np.random.default_rng(1)
    )
    z_t = np.concatenate([x[train], y[train, None]], 1)
    z_a = np.concatenate([x_aux, y_aux[:, None]], 1)
    w = density_ratio(z_t, z_a)  # the classifier estimator is deterministic
    v = w * (model.predict(x_aux) - y_aux)
    fa = feats[300:].numpy()
    k = fa @ fa.T
    alpha = np.linalg.solve(k + 0.5 * np.diag(k).mean() * np.eye(80), v)
    phi2 = feats[:300].numpy() @ fa.T @ alpha
    want = np.abs(phi2) + 0.01 * np.abs(phi2).mean()
    assert np.allclose(got, want, rtol=1e-6)


def test_per_input_estimator_averages_matching_rows():
    x, y, _, _, _, model = _task()
    x_aux = np.concatenate([x[40:50], x[40:50]])  # two noisy labels per input
    y_aux = np.concatenate([y[40:50] + 0.5, y[40:50] - 0.1])
    s = get_strategy(
        "agbal-maxdist",
        auxiliary=(x_aux, y_aux),
        aux_estimator="per-input",
        ratio="ulsif",
    )
    feats = torch.zeros(300 + 20, 4)
    X = np.concatenate([x[30:], x[:30]])
    got = phi2_scale(
        s, model, feats, X, y[:30], 270, 30, (x_aux, y_aux), np.random.default_rng(0)
    )
    z_t = np.concatenate([x[:30], y[:30, None]], 1)
    z_a = np.concatenate([x_aux, y_aux[:, None]], 1)
    w = density_ratio(
        z_t, z_a, method="ulsif", rng=np.random.default_rng(0).integers(2**63)
    )
    assert got.shape == (300,)
    v = w * (model.predict(x_aux) - y_aux)
    raw = np.full(300, v.mean())
    raw[10:20] = (v[:10] + v[10:]) / 2  # pool rows 10..19 are inputs 40..49
    want = np.abs(raw) + 0.01 * np.abs(raw).mean()
    # the ratio's centre subsample uses the strategy's child seed: compare shapes
    assert np.corrcoef(got, want)[0, 1] > 0.99


def test_grad_aux_needs_auxiliary_data_and_checks_it():
    x, _, _, _, state, model = _task()
    with pytest.raises(InvalidParameterError, match="needs auxiliary data"):
        get_strategy("agbal-lcmd").select(model, x, state, 5, rng=0)
    with pytest.raises(InvalidParameterError, match="pair"):
        get_strategy("agbal-lcmd", auxiliary=np.zeros(3))
    with pytest.raises(InvalidParameterError, match="one per row"):
        get_strategy("agbal-lcmd", auxiliary=(np.zeros((4, 2)), np.zeros(3)))
    with pytest.raises(InvalidParameterError, match="aux_estimator"):
        get_strategy("agbal-lcmd", aux_estimator="knn")


@pytest.mark.parametrize("method", ["classifier", "ulsif", "kliep"])
def test_density_ratio_recovers_a_gaussian_shift(method):
    rng = np.random.default_rng(0)
    t = rng.normal(1, 1, (500, 1))
    a = rng.normal(0, 1, (800, 1))
    true = np.exp(a[:, 0] - 0.5)  # N(1,1) / N(0,1)
    w = density_ratio(t, a, method=method, rng=0)
    assert w.shape == (800,) and w.mean() == pytest.approx(1.0)
    assert (w >= 0).all() and spearmanr(w, true)[0] > 0.95
    clipped = density_ratio(t, a, method=method, clip=1.5, rng=0)
    assert clipped.mean() == pytest.approx(1.0)
    top = np.isclose(clipped, clipped.max())
    assert top.sum() > 10  # the largest raw weights are cut at one value
    assert (w[top].min() >= w[~top]).all()  # and they are the largest ones
    with pytest.raises(InvalidParameterError, match="density-ratio method"):
        density_ratio(t, a, method="knn")
