"""Fine-tuning on confident pool samples (LHD §4.4)."""

from __future__ import annotations

import functools

import numpy as np
import pytest
import torch

from labelwise import InvalidParameterError, UnsupportedModelError
from labelwise.loop import ActiveLearner, ResultStore, RunConfig, run_simulation
from labelwise.models import FineTune, SklearnClassifier, TorchClassifier, mlp
from labelwise.models.finetune import confident_items
from labelwise.strategies import get_strategy


def _blobs(n=300, seed=0):
    rng = np.random.default_rng(seed)
    y = rng.integers(3, size=n)
    x = (np.eye(3)[y] * 3 + rng.normal(size=(n, 3))).astype(np.float32)
    return x, y


def _model(**kw):
    return TorchClassifier(
        functools.partial(mlp, hidden=16), max_epochs=200, lr=1e-2, **kw
    )


def _weights(clf):
    return [p.detach().clone() for p in clf.members_[0].parameters()]


def test_confident_items_matches_a_loop():
    p = np.random.default_rng(0).dirichlet(np.ones(4) * 0.3, size=200)
    rows, labels = confident_items(p, 0.8)
    want = [i for i in range(200) if max(p[i]) > 0.8]
    assert rows.tolist() == want
    assert labels.tolist() == [int(np.argmax(p[i])) for i in want]


@pytest.mark.parametrize(
    ("kw", "match"),
    [
        ({"threshold": 1.0}, "threshold"),
        ({"min_size": -1}, "min_size"),
        ({"max_epochs": 0}, "max_epochs"),
        ({"lr_factor": 0}, "learning rate"),
        ({"lr": -1.0}, "learning rate"),
    ],
)
def test_finetune_settings_are_checked(kw, match):
    with pytest.raises(InvalidParameterError, match=match):
        FineTune(**kw)


def test_skipped_below_min_size_leaves_the_model_alone():
    x, y = _blobs()
    clf = _model().fit(x[:20], y[:20], n_classes=3, rng=0)
    before = _weights(clf)
    n_conf = confident_items(clf.predict_proba(x[20:]), 0.8)[0].size
    res = clf.finetune(x[:20], y[:20], x[20:], config=FineTune(min_size=10_000), rng=0)
    assert res.skipped and res.epochs == 0
    assert res.size == 20 + n_conf and res.n_pseudo == n_conf
    assert all(torch.equal(a, b) for a, b in zip(before, _weights(clf), strict=True))


def test_finetune_trains_on_labeled_plus_confident_and_is_seeded():
    x, y = _blobs()
    base = _model().fit(x[:30], y[:30], n_classes=3, rng=0)
    n_conf = confident_items(base.predict_proba(x[30:]), 0.8)[0].size
    assert n_conf > 50
    cfg = FineTune(min_size=50, max_epochs=3, lr_factor=1.0)
    runs = []
    for _ in range(2):
        clf = _model().fit(x[:30], y[:30], n_classes=3, rng=0)
        res = clf.finetune(x[:30], y[:30], x[30:], config=cfg, rng=7)
        runs.append(clf.predict_proba(x))
        assert not res.skipped and 1 <= res.epochs <= 3
        assert res.size == 30 + n_conf and res.n_pseudo == n_conf
    assert np.allclose(runs[0], runs[1])
    assert not np.allclose(runs[0], base.predict_proba(x))
    other = _model().fit(x[:30], y[:30], n_classes=3, rng=0)
    other.finetune(x[:30], y[:30], x[30:], config=cfg, rng=8)
    assert not np.allclose(other.predict_proba(x), runs[0])


def test_finetune_reaches_every_ensemble_member():
    x, y = _blobs()
    clf = _model(n_members=2).fit(x[:30], y[:30], n_classes=3, rng=0)
    before = [[p.clone() for p in m.parameters()] for m in clf.members_]
    clf.finetune(x[:30], y[:30], x[30:], config=FineTune(min_size=10, max_epochs=2))
    for m, old in zip(clf.members_, before, strict=True):
        assert any(
            not torch.equal(a, b) for a, b in zip(m.parameters(), old, strict=True)
        )


def test_lhd_takes_hidden_states_before_and_losses_after_finetuning():
    x, y = _blobs()
    clf = _model(ema_alpha=0.99).fit(x[:30], y[:30], n_classes=3, rng=0)
    h_m, h_e, p_m, p_e = clf.ema_outputs(x)
    clf.finetune(x[:30], y[:30], x[30:], config=FineTune(min_size=10, max_epochs=3))
    h_m2, h_e2, p_m2, p_e2 = clf.ema_outputs(x)
    assert np.array_equal(h_m, h_m2) and np.array_equal(h_e, h_e2)
    assert not np.allclose(p_m, p_m2) and not np.allclose(p_e, p_e2)
    # the loss pair is the fine-tuned main network, and the EMA kept tracking it
    assert np.allclose(p_m2, clf.predict_proba(x), atol=1e-6)


def test_learner_finetunes_after_every_fit_and_rejects_sklearn():
    x, y = _blobs()
    with pytest.raises(UnsupportedModelError, match="FineTunable"):
        ActiveLearner(
            SklearnClassifier(),
            get_strategy("random"),
            x,
            classes=[0, 1, 2],
            finetune=FineTune(),
        )
    learner = ActiveLearner(
        _model(),
        get_strategy("margin"),
        x,
        classes=[0, 1, 2],
        finetune=FineTune(min_size=10, max_epochs=2),
    )
    learner.teach(np.arange(20), y[:20])
    learner.fit()
    assert learner.last_finetune is not None and not learner.last_finetune.skipped
    assert learner.last_finetune.size >= 20


def test_simulation_records_finetune_metrics(tmp_path):
    x, y = _blobs()
    store = ResultStore(tmp_path / "r.sqlite")
    cfg = RunConfig("blobs", "mlp", "margin+finetune", 0, 20, 10, 2)
    status = run_simulation(
        cfg,
        _model(),
        get_strategy("margin"),
        x[:200],
        y[:200],
        x[200:],
        y[200:],
        classes=[0, 1, 2],
        store=store,
        finetune=FineTune(min_size=10, max_epochs=2),
    )
    assert status == "finished"
    df = store.measurements()
    sizes = df[df["metric"] == "finetune_size"].sort_values("round")["value"]
    assert len(sizes) == 3 and (sizes >= [20, 30, 40]).all()
    assert set(df["metric"]) >= {
        "finetune_pseudo",
        "finetune_epochs",
        "finetune_seconds",
    }
