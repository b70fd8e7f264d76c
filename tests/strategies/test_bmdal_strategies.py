"""BMDAL strategies: presets, the feature pipeline, failures, regression runs."""

from __future__ import annotations

import functools
import warnings

import numpy as np
import pytest

from labelwise import InvalidParameterError, UnsupportedModelError
from labelwise._validation import child_seed
from labelwise.exceptions import NumericsWarning
from labelwise.kernels import (
    NNGPGram,
    PosteriorGram,
    scale_gram,
    select_bmdal,
    select_bmdal_kernel,
)
from labelwise.kernels import _transforms as tf
from labelwise.loop import ResultStore, RunConfig, run_simulation
from labelwise.models import (
    SklearnRegressor,
    TorchClassifier,
    TorchRegressor,
    bmdal_mlp,
)
from labelwise.pool import LabelState
from labelwise.strategies import get_strategy
from labelwise.testing import MockRegressor, make_pool

PRESETS = {
    "lcmd": ("lcmd", "tp", [("rp", 512)]),
    "maxdet": ("maxdet", "p", [("rp", 512), ("train", 1e-3, "auto")]),
    "maxdiag": ("maxdiag", None, [("rp", 512), ("acs-rf", 512, 1e-3, "auto")]),
    "fw": ("fw", "p", [("rp", 512), ("acs-rf-hyper", 512, "auto")]),
    "maxdist": ("maxdist", "p", [("rp", 512), ("train", 1e-3, "auto")]),
    "kmeanspp": ("kmeanspp", "p", [("rp", 512), ("acs-rf", 512, 1e-3, "auto")]),
    "bmdal-bait": ("bait", "p", [("rp", 512), ("train", 1e-3, "auto")]),
}


@pytest.mark.parametrize("name", sorted(PRESETS))
def test_presets_are_the_papers_preferred_configurations(name):
    s = get_strategy(name)
    selection, mode, transforms = PRESETS[name]
    assert (s.selection, s.mode, s.base_kernel) == (selection, mode, "grad")
    assert s.transforms == transforms and s.sigma == 1e-3 and s.overselection == 1.0
    # a preset's settings can be overridden
    assert get_strategy(name, sigma=0.1).sigma == 0.1


def test_pipeline_is_transforms_then_select_bmdal():
    X, state = make_pool(n_samples=80, regression=True)
    s = get_strategy(
        "bmdal",
        selection="maxdist",
        base_kernel="linear",
        transforms=[["train", 0.1, "auto"]],
    )
    sel = s.select(MockRegressor(), X, state, 6, rng=0)
    pool, train = state.unlabeled_indices(), state.labeled_indices()
    fp, ft = tf.posterior(*tf.scale(X[pool], X[train]), 0.1)
    want = select_bmdal(fp, ft, 6, method="maxdist", rng=np.random.default_rng(0))
    assert sel.indices.tolist() == pool[want.indices].tolist()
    assert sel.info["random_fill"] == 0 and sel.info["warnings"] == []


@pytest.mark.parametrize(
    ("selection", "stored"),
    [("maxdet", "float32"), ("maxdist", "float32"), ("bait", "float64")],
)
def test_last_posterior_is_stored_in_the_selections_dtype(selection, stored):
    # maxdet (σ > 0) and the float32 methods get float32 posterior features
    # (half the memory of float64) and pick as on the float64 ones
    from unittest import mock

    import torch

    from labelwise.strategies import regression

    X, state = make_pool(n_samples=300, n_features=6, regression=True)
    s = get_strategy(
        "bmdal",
        selection=selection,
        base_kernel="linear",
        transforms=[["train", 1e-3, "auto"]],
    )
    seen = []
    real = regression.select_bmdal

    def spy(pool, *args, **kw):
        seen.append(pool.dtype)
        return real(pool, *args, **kw)

    with mock.patch.object(regression, "select_bmdal", spy):
        sel = s.select(MockRegressor(), X, state, 12, rng=0)
    assert seen == [getattr(torch, stored)]
    pool, train = state.unlabeled_indices(), state.labeled_indices()
    fp, ft = s.features(
        MockRegressor(), X[pool], X[train], None, np.random.default_rng(0)
    )
    assert fp.dtype == torch.float64  # features() keeps float64
    want = select_bmdal(
        fp, ft, 12, method=selection, sigma=1e-3, rng=np.random.default_rng(0)
    )
    assert sel.indices.tolist() == pool[want.indices].tolist()


def test_grad_kernel_with_rp_is_a_per_layer_sketch():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(60, 3)).astype(np.float32)
    state = LabelState(60)
    state.teach(np.arange(10), X[:10, 0], round=0)
    reg = TorchRegressor(functools.partial(bmdal_mlp, widths=(8,)), max_epochs=2)
    reg.fit(X[:10], X[:10, 0], rng=0)
    s = get_strategy("bmdal", transforms=[["rp", 16]])
    fp, ft = s.features(reg, X[10:], X[:10], X[:10, 0], np.random.default_rng(5))
    both = reg.grad_features(
        np.concatenate([X[10:], X[:10]]),
        sketch_dim=16,
        rng=child_seed(np.random.default_rng(5)),
    )
    assert np.allclose(fp.numpy(), both[:50]) and np.allclose(ft.numpy(), both[50:])


def test_numerical_failure_warns_and_is_recorded():
    X, state = make_pool(n_samples=40, n_features=2, regression=True)
    s = get_strategy(
        "bmdal", selection="maxdet", base_kernel="linear", transforms=[], sigma=0.0
    )
    with pytest.warns(NumericsWarning, match="maxdet"):
        sel = s.select(MockRegressor(), X, state, 5, rng=0)
    assert sel.info["random_fill"] == 3
    assert "filled 3 of 5 slots at random" in sel.info["failure"]
    assert any("maxdet" in w for w in sel.info["warnings"])
    assert np.unique(sel.indices).size == 5


def test_capabilities_and_parameters_are_checked():
    X, state = make_pool(regression=True)
    with pytest.raises(UnsupportedModelError, match="Regressor"):
        get_strategy("lcmd").select(TorchClassifier(), X, state, 3, rng=0)
    with pytest.raises(UnsupportedModelError, match="GradientFeatures"):
        get_strategy("lcmd").select(SklearnRegressor(), X, state, 3, rng=0)
    linear = get_strategy("bmdal", base_kernel="linear", transforms=[])
    sel = linear.select(SklearnRegressor().fit(X, X[:, 0]), X, state, 3, rng=0)
    assert sel.indices.size == 3
    with pytest.raises(InvalidParameterError, match="Unknown base kernel 'ntk'"):
        get_strategy("bmdal", base_kernel="ntk")
    with pytest.raises(InvalidParameterError, match="Unknown kernel transform"):
        get_strategy("bmdal", transforms=[["sketchy", 3]])
    with pytest.raises(InvalidParameterError, match="takes 2-3 arguments"):
        get_strategy("bmdal", transforms=[["acs-rf", 3]])
    with pytest.raises(InvalidParameterError, match="Unknown selection"):
        get_strategy("bmdal", selection="lcdm")


def test_regression_simulation_records_error_metrics(tmp_path):
    rng = np.random.default_rng(0)
    X = rng.normal(size=(500, 4)).astype(np.float32)
    y = np.sin(2 * X[:, 0]) + X[:, 1] ** 2
    store = ResultStore(tmp_path / "r.sqlite")
    net = functools.partial(bmdal_mlp, widths=(32, 32))
    for name in ["random", "lcmd"]:
        cfg = RunConfig("toy", "bmdal-mlp", name, 0, 20, 20, 2)
        status = run_simulation(
            cfg,
            TorchRegressor(net, max_epochs=30),
            get_strategy(name),
            X[:400],
            y[:400],
            X[400:],
            y[400:],
            classes=None,
            store=store,
            valid=(X[380:400], y[380:400]),
        )
        assert status == "finished", store.runs()["error"].tolist()
    df = store.measurements()
    assert {"rmse", "mae", "max_error", "q95_error", "q99_error"} <= set(df["metric"])
    rmse = df[df["metric"] == "rmse"]
    assert len(rmse) == 2 * 3 and (rmse["value"] > 0).all()
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        labels = store.resume_point(store.runs()["run_id"].iloc[0])[1]
    assert labels.size == 60


def test_bait_on_regression_is_the_rank_one_design():
    from labelwise.kernels import greedy_a_optimal_rank_one

    X, state = make_pool(n_samples=70, regression=True)
    model = MockRegressor()
    sel = get_strategy("bait").select(model, X, state, 5, rng=0)
    phi = model.grad_features(X, last_layers=1)
    lab, pool = state.labeled_indices(), state.unlabeled_indices()
    m = np.eye(phi.shape[1]) + phi[lab].T @ phi[lab] / (len(lab) + 5)
    want, _ = greedy_a_optimal_rank_one(
        phi[pool] * np.sqrt(5 / (len(lab) + 5)),
        5,
        fisher=phi.T @ phi / 70,
        precision=m,
        n_forward=10,
    )
    assert sel.indices.tolist() == pool[want].tolist()
    # a scikit-learn regressor has no gradient features: BAIT uses the inputs
    reg = SklearnRegressor().fit(X, X[:, 0])
    assert get_strategy("bait").select(reg, X, state, 5, rng=0).indices.size == 5


# ------------------------------------------------------------ kernel space
def test_nngp_kernel_runs_in_kernel_space_with_the_networks_architecture():
    rng = np.random.default_rng(1)
    X = rng.normal(size=(70, 3)).astype(np.float32)
    state = LabelState(70)
    state.teach(np.arange(10), X[:10, 0], round=0)
    reg = TorchRegressor(
        functools.partial(bmdal_mlp, widths=(8, 8), sigma_w=0.7), max_epochs=1
    )
    reg.fit(X[:10], X[:10, 0], rng=0)
    s = get_strategy(
        "bmdal", selection="maxdiag", base_kernel="nngp", transforms=[["train", 0.1]]
    )
    assert s.transforms == [("train", 0.1)]
    sel = s.select(reg, X, state, 5, rng=0)
    pool, train = state.unlabeled_indices(), state.labeled_indices()
    gram = NNGPGram(np.concatenate([X[pool], X[train]]), n_layers=3, sigma_w=0.7)
    post = PosteriorGram(gram, np.arange(60, 70), 0.1)
    want = np.argsort(-post.diag().numpy()[:60], kind="stable")[:5]
    assert sel.indices.tolist() == pool[want].tolist()
    # without a network (scikit-learn) the defaults are L = 3, sigma_w = 0.25;
    # nngp needs no gradient features
    s = get_strategy("bmdal", selection="lcmd", base_kernel="nngp")
    assert s.transforms == []
    sel = s.select(SklearnRegressor(), X, state, 5, rng=0)
    want = select_bmdal_kernel(
        NNGPGram(np.concatenate([X[pool], X[train]]), n_layers=3, sigma_w=0.25),
        60,
        5,
        method="lcmd",
    )
    assert sel.indices.tolist() == pool[want.indices].tolist()
    # scale in kernel space (bmdal_reg's maxdet-tp nngp scale configuration)
    s = get_strategy(
        "bmdal",
        selection="maxdet",
        mode="tp",
        base_kernel="nngp",
        transforms=[["scale"]],
        nngp_layers=2,
    )
    sel = s.select(SklearnRegressor(), X, state, 4, rng=0)
    g = scale_gram(
        NNGPGram(np.concatenate([X[pool], X[train]]), n_layers=2),
        np.arange(60, 70),
    )
    want = select_bmdal_kernel(g, 60, 4, method="maxdet", mode="tp", sigma=1e-3)
    assert sel.indices.tolist() == pool[want.indices].tolist()


def test_wide_features_take_the_kernel_space_posterior():
    # 2000 features > max(1024, 3 n_train): the posterior runs in kernel space
    # and selects what the feature-space posterior selects
    rng = np.random.default_rng(2)
    X = rng.normal(size=(50, 2000))
    state = LabelState(50)
    state.teach(np.arange(8), X[:8, 0], round=0)
    s = get_strategy(
        "bmdal",
        selection="maxdist",
        base_kernel="linear",
        transforms=[["train", 0.5, "auto"]],
    )
    pool, train = state.unlabeled_indices(), state.labeled_indices()
    rep = s.kernel(MockRegressor(), X[pool], X[train], X[train, 0], rng)
    assert not isinstance(rep, tuple)
    with pytest.raises(InvalidParameterError, match="no explicit features"):
        s.features(MockRegressor(), X[pool], X[train], X[train, 0], rng)
    sel = s.select(MockRegressor(), X, state, 6, rng=0)
    fp, ft = tf.posterior(*tf.scale(X[pool], X[train]), 0.5)
    want = select_bmdal(fp, ft, 6, method="maxdist", rng=0)
    assert sel.indices.tolist() == pool[want.indices].tolist()
    bait = get_strategy(
        "bmdal", selection="bait", base_kernel="linear", transforms=[["train", 0.5]]
    )
    with pytest.raises(InvalidParameterError, match="rp"):
        bait.select(MockRegressor(), X, state, 3, rng=0)


def test_nngp_refuses_what_needs_features():
    with pytest.raises(InvalidParameterError, match="needs features"):
        get_strategy("bmdal", selection="bait", base_kernel="nngp")
    with pytest.raises(InvalidParameterError, match="'rp' cannot transform"):
        get_strategy("bmdal", base_kernel="nngp", transforms=[["rp", 64]])
    with pytest.raises(InvalidParameterError, match="acs-rf"):
        get_strategy("bmdal", base_kernel="nngp", transforms=[["acs-rf", 64, 0.1]])


@pytest.mark.parametrize(
    ("transforms", "selection"),
    [([["acs-grad", 1.0]], "lcmd"), ([["acs-rf-hyper", 16]], "lcmd"), ([], "bait")],
)
def test_full_gradient_features_without_a_sketch_are_refused_clearly(
    transforms, selection, monkeypatch
):
    # a network's whole gradient without ['rp', 512] first asked for p x p
    # matrices (564 GB on a bmdal-mlp) and died of it; here 16 641 wide (2 GiB
    # a matrix) on a machine said to have 1 GiB free
    from labelwise.kernels import _inputs

    monkeypatch.setattr(_inputs, "available_bytes", lambda device: 2.0**30)
    rng = np.random.default_rng(0)
    X = rng.normal(size=(40, 128)).astype(np.float32)
    state = LabelState(40)
    state.teach(np.arange(10), X[:10, 0], round=0)
    reg = TorchRegressor(functools.partial(bmdal_mlp, widths=(128,)), max_epochs=1)
    reg.fit(X[:10], X[:10, 0], rng=0)
    s = get_strategy("bmdal", transforms=transforms, selection=selection)
    with pytest.raises(InvalidParameterError, match=r"16641 x 16641.*'rp', 512"):
        s.select(reg, X, state, 3, rng=0)
