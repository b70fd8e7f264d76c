"""EmbeddingClassifier / EmbeddingRegressor: the heads on precomputed embeddings."""

import pickle
import warnings

import numpy as np
import pytest
import torch
from scipy.optimize import minimize

from labelwise import InvalidParameterError, LabelState, LabelwiseWarning, get_strategy
from labelwise.exceptions import UnsupportedModelError
from labelwise.models import (
    EmbeddingClassifier,
    EmbeddingRegressor,
    SklearnClassifier,
    require,
)
from labelwise.models.base import (
    Embedder,
    Ensemble,
    MCDropoutSampler,
    ProbabilisticClassifier,
    TensorOutputs,
)
from labelwise.models.embedding import standardization
from labelwise.models.registry import check_model_params, make_model


def _emb(n=120, d=6, k=3, seed=0, scale=0.05):
    """Small-scale embeddings (as CLIP's) whose first dims carry the class."""
    rng = np.random.default_rng(seed)
    y = rng.integers(k, size=n)
    x = rng.normal(size=(n, d))
    x[:, :k] += 2.0 * np.eye(k)[y]
    return (scale * x + 0.3).astype(np.float32), y


def test_standardization_against_numpy():
    x = np.random.default_rng(0).normal(size=(50, 4)) * [1.0, 2.0, 3.0, 0.0] + 5
    t = torch.as_tensor(x)
    m, s = standardization(t, "global")
    assert np.allclose(m, x.mean(0), atol=1e-5)
    assert np.allclose(s, np.sqrt(x.var(0).mean()), rtol=1e-6)
    m, s = standardization(t, "per-feature")
    want = x.std(0)
    want[3] = 1.0  # a constant dimension is left unscaled
    assert np.allclose(s, want, rtol=1e-5)
    m, s = standardization(t, "none")
    assert np.all(m.numpy() == 0) and np.all(s.numpy() == 1)
    one_row = standardization(t[:1], "global")[1]
    assert np.all(one_row.numpy() == 1)
    with pytest.raises(InvalidParameterError, match="standardize"):
        standardization(t, "zscore")


def test_linear_head_embeds_the_standardised_input():
    x, y = _emb()
    clf = EmbeddingClassifier(max_epochs=3, device="cpu").fit(x, y, n_classes=3, rng=0)
    p = clf.predict_proba(x)
    assert p.shape == (120, 3) and np.allclose(p.sum(1), 1, atol=1e-5)
    x64 = x.astype(np.float64)
    want = (x64 - x64.mean(0)) / np.sqrt(x64.var(0).mean())
    assert np.allclose(clf.embed(x), want, atol=1e-4)
    hid = EmbeddingClassifier(hidden=16, max_epochs=3, device="cpu")
    assert hid.fit(x, y, n_classes=3, rng=0).embed(x).shape == (120, 16)


def test_linear_head_is_logistic_regression():
    """Trained with Adam, the linear head reaches the minimiser of the same
    objective (mean cross-entropy + weight_decay/2 * |params|^2) found by L-BFGS."""
    x, y = _emb(n=80, d=4, k=3, scale=1.0)
    wd = 1e-2
    clf = EmbeddingClassifier(
        standardize="none", weight_decay=wd, lr=0.05, max_epochs=800, batch_size=80
    ).fit(x, y, n_classes=3, rng=0)
    x64 = x.astype(np.float64)
    onehot = np.eye(3)[y]

    def objective(theta):
        w, b = theta[:12].reshape(3, 4), theta[12:]
        z = x64 @ w.T + b
        z -= z.max(1, keepdims=True)
        logp = z - np.log(np.exp(z).sum(1, keepdims=True))
        p = np.exp(logp)
        loss = -(onehot * logp).sum() / len(y) + 0.5 * wd * (theta**2).sum()
        gz = (p - onehot) / len(y)
        grad = np.concatenate([(gz.T @ x64).ravel(), gz.sum(0)]) + wd * theta
        return loss, grad

    theta = minimize(objective, np.zeros(15), jac=True, method="L-BFGS-B").x
    z = x64 @ theta[:12].reshape(3, 4).T + theta[12:]
    ref = np.exp(z - z.max(1, keepdims=True))
    ref /= ref.sum(1, keepdims=True)
    assert np.abs(clf.predict_proba(x) - ref).max() < 0.02


def test_seeded_and_pickled():
    x, y = _emb()
    kw = dict(hidden=8, max_epochs=5, device="cpu")
    a = EmbeddingClassifier(**kw).fit(x, y, n_classes=3, rng=1)
    b = EmbeddingClassifier(**kw).fit(x, y, n_classes=3, rng=1)
    c = EmbeddingClassifier(**kw).fit(x, y, n_classes=3, rng=2)
    assert np.array_equal(a.predict_proba(x), b.predict_proba(x))
    assert not np.allclose(a.predict_proba(x), c.predict_proba(x))
    d = pickle.loads(pickle.dumps(a))  # the statistics travel with the network
    assert np.array_equal(a.predict_proba(x), d.predict_proba(x))
    assert np.array_equal(a.embed(x), d.embed(x))


def test_capabilities():
    x, y = _emb()
    clf = EmbeddingClassifier(max_epochs=2, device="cpu").fit(x, y, n_classes=3, rng=0)
    for cap in (ProbabilisticClassifier, Embedder, TensorOutputs):
        require(clf, cap, "test")
    with pytest.raises(UnsupportedModelError):
        require(clf, MCDropoutSampler, "bald")
    with pytest.raises(UnsupportedModelError):
        require(clf, Ensemble, "variation-ratio")
    rich = EmbeddingClassifier(dropout=0.3, n_members=2, max_epochs=2, device="cpu")
    rich.fit(x, y, n_classes=3, rng=0)
    require(rich, MCDropoutSampler, "bald")
    require(rich, Ensemble, "variation-ratio")
    assert rich.predict_proba_samples(x, 4, rng=0).shape == (4, 120, 3)
    t = clf.tensor_outputs(x, "embed")
    assert torch.allclose(t, torch.as_tensor(clf.embed(x)))


def test_bad_input_and_parameters():
    x, y = _emb()
    clf = EmbeddingClassifier(max_epochs=1, device="cpu")
    with pytest.raises(InvalidParameterError, match=r"\(n_items, n_dims\)"):
        clf.fit(x.reshape(120, 2, 3), y, n_classes=3)
    with pytest.raises(InvalidParameterError, match="hidden"):
        EmbeddingClassifier(hidden=-1)
    with pytest.raises(InvalidParameterError, match="dropout"):
        EmbeddingClassifier(dropout=1.0)
    with pytest.raises(InvalidParameterError, match="standardize"):
        EmbeddingRegressor(standardize="l2")
    with pytest.raises(InvalidParameterError, match="standardize"):
        check_model_params("embedding-head", {"standardize": "l2"})


def test_vectors_of_another_width_are_refused_by_name():
    # both failed deep in torch ("The size of tensor a (4) must match ...")
    x, y = _emb()
    clf = EmbeddingClassifier(max_epochs=1, device="cpu").fit(x, y, n_classes=3, rng=0)
    reg = EmbeddingRegressor(max_epochs=1, device="cpu").fit(x, x[:, 0], rng=0)
    for call in (clf.predict_proba, clf.embed, reg.predict, reg.grad_features):
        with pytest.raises(
            InvalidParameterError,
            match=r"rows of shape \(4,\), but the model was fitted on rows of shape \(6,\)",
        ):
            call(x[:, :4])
    with pytest.raises(
        InvalidParameterError,
        match=r"y must hold real numbers \(regression targets\); got dtype <U1",
    ):
        EmbeddingRegressor(max_epochs=1, device="cpu").fit(x, np.array(["a"] * 120))


@pytest.mark.parametrize("name", ["margin", "coreset", "badge", "bait"])
def test_strategies_select_through_it(name):
    x, y = _emb(n=90)
    state = LabelState(90, classes=["a", "b", "c"])
    state.teach(np.arange(12), y[:12], round=0)
    clf = EmbeddingClassifier(max_epochs=20, device="cpu")
    clf.fit(x[:12], y[:12], n_classes=3, rng=0)
    sel = get_strategy(name).select(clf, x, state, 6, rng=0)
    assert len(set(sel.indices.tolist())) == 6
    assert np.all(sel.indices >= 12)
    again = get_strategy(name).select(clf, x, state, 6, rng=0)
    assert np.array_equal(sel.indices, again.indices)


def test_coreset_runs_on_the_given_vectors():
    """Global standardisation keeps the geometry: Core-Set through the linear
    head picks what Core-Set on the raw vectors (a model whose embedding is its
    input) picks."""
    x, y = _emb(n=150, d=8, seed=3)
    state = LabelState(150, classes=["a", "b", "c"])
    state.teach(np.arange(10), y[:10], round=0)
    head = EmbeddingClassifier(max_epochs=2, device="cpu")
    head.fit(x[:10], y[:10], n_classes=3, rng=0)
    raw = SklearnClassifier().fit(x[:10], y[:10], n_classes=3, rng=0)
    a = get_strategy("coreset").select(head, x, state, 8, rng=0).indices
    b = get_strategy("coreset").select(raw, x, state, 8, rng=0).indices
    assert np.array_equal(a, b)


def test_registry_builds_them():
    clf = make_model("embedding-head", device="cpu", hidden=8, standardize="none")
    assert isinstance(clf, EmbeddingClassifier)
    assert (clf.hidden, clf.standardize, clf.max_epochs) == (8, "none", 100)
    reg = make_model("embedding-regressor", device="cpu", epochs=3)
    assert isinstance(reg, EmbeddingRegressor) and reg.max_epochs == 3


def test_regressor_grad_features_are_the_standardised_input():
    rng = np.random.default_rng(0)
    x = (0.1 * rng.normal(size=(64, 5)) + 1).astype(np.float32)
    t = x @ np.arange(1.0, 6.0)
    reg = EmbeddingRegressor(max_epochs=5, device="cpu").fit(x, t, rng=0)
    assert reg.predict(x).shape == (64,)
    x64 = x.astype(np.float64)
    xs = (x64 - x64.mean(0)) / np.sqrt(x64.var(0).mean())
    want = np.hstack([xs, np.ones((64, 1))])  # d f / d (W, b) of a linear head
    assert np.allclose(reg.grad_features(x), want, atol=1e-4)
    sel = get_strategy("lcmd").select(reg, x, _numeric_state(64, t), 5, rng=0)
    assert len(set(sel.indices.tolist())) == 5


def test_regressor_learns_a_linear_target():
    rng = np.random.default_rng(1)
    x = (0.05 * rng.normal(size=(200, 4))).astype(np.float32)
    t = 40 * x[:, 0] - 20 * x[:, 1] + 1
    reg = EmbeddingRegressor(device="cpu").fit(x, t, rng=0)
    assert np.sqrt(np.mean((reg.predict(x) - t) ** 2)) < 0.1 * t.std()


def _numeric_state(n, t):
    state = LabelState(n)
    state.teach(np.arange(10), t[:10], round=0)
    return state


def test_on_a_device_agrees_with_the_cpu(device):
    """Same seed, same initial weights: the device's fit matches the CPU's up to
    float rounding; outputs stay on the device; a pickle loads on the CPU."""
    x, y = _emb(n=100)
    kw = dict(hidden=8, max_epochs=10, n_members=2)
    ref = EmbeddingClassifier(device="cpu", **kw).fit(x, y, n_classes=3, rng=0)
    clf = EmbeddingClassifier(device=device, **kw).fit(x, y, n_classes=3, rng=0)
    t = clf.tensor_outputs(x, "embed")
    assert t.device.type == device and t.shape == (100, 8)
    np.testing.assert_allclose(clf.predict_proba(x), ref.predict_proba(x), atol=1e-3)
    loaded = pickle.loads(pickle.dumps(clf))
    assert {b.device.type for m in loaded.members_ for b in m.buffers()} == {"cpu"}
    np.testing.assert_allclose(loaded.embed(x), clf.embed(x), atol=1e-5)
    reg = EmbeddingRegressor(device=device, max_epochs=3).fit(x, x[:, 0], rng=0)
    assert reg.grad_feature_tensor(x).device.type == device


def test_the_guide_example_runs_as_written(tmp_path, monkeypatch):
    import re
    from pathlib import Path

    page = Path(__file__).resolve().parents[2] / "docs" / "guide" / "embeddings.md"
    code = re.findall(r"```python\n(.*?)```", page.read_text(), flags=re.S)[0]
    lines = [
        ln for ln in code.splitlines() if ln and not ln.startswith(("import", "from"))
    ]
    assert len(lines) <= 5  # five lines from np.load to a selected batch
    x, _ = _emb(n=60, d=8, k=2)
    monkeypatch.chdir(tmp_path)
    np.save("emb.npy", x)
    scope: dict = {}
    exec(compile(code, str(page), "exec"), scope)
    batch = scope["batch"].indices
    assert len(set(batch.tolist())) == 10 and not set(batch.tolist()) & {0, 1, 2, 3}


@pytest.mark.parametrize(
    ("name", "kw"),
    [
        ("lhd", {"ema_alpha": 0.9, "hidden": 8}),  # a linear head has no
        # hidden state for the EMA to differ in: LHD needs hidden > 0
        ("bald", {"dropout": 0.3}),
        ("variation-ratio", {"n_members": 2}),
    ],
)
def test_the_other_capabilities_serve_their_strategies(name, kw):
    x, y = _emb(n=60)
    state = LabelState(60, classes=["a", "b", "c"])
    state.teach(np.arange(9), y[:9], round=0)
    clf = EmbeddingClassifier(max_epochs=10, device="cpu", **kw)
    clf.fit(x[:9], y[:9], n_classes=3, rng=0)
    with warnings.catch_warnings():
        warnings.simplefilter("error", LabelwiseWarning)  # no degenerate fallback
        sel = get_strategy(name).select(clf, x, state, 4, rng=0)
    assert len(set(sel.indices.tolist())) == 4 and np.all(sel.indices >= 9)
