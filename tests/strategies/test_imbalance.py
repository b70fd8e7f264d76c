"""The learning-AL baselines and the myopic oracle against direct computations."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.linear_model import LogisticRegression

from labelwise import InvalidParameterError, UnsupportedModelError
from labelwise.kernels import kcenter_greedy
from labelwise.loop import ActiveLearner
from labelwise.models import SklearnClassifier
from labelwise.models.registry import make_model
from labelwise.pool import LabelState
from labelwise.strategies import get_strategy
from labelwise.strategies.lookahead import logistic_C, myopic_improvements
from labelwise.testing import MockModel, make_pool


def _tiny():
    """1-D: truth is class 1 iff x > 2; the labeled points put the boundary at 0."""
    X = np.array([[-3.0], [3.0], [1.8], [-1.0], [5.0], [-0.5], [2.6]])
    truth = np.array([0, 1, 0, 0, 1, 0, 1])
    state = LabelState(7, classes=["a", "b"])
    state.teach([0, 1], [0, 1], round=0)
    X_eval = np.array([[0.5], [1.0], [1.5], [2.5], [3.0]])
    y_eval = np.array([0, 0, 0, 1, 1])
    return X, truth, state, X_eval, y_eval


def test_oracle_picks_the_point_whose_label_helps_most():
    X, truth, state, X_eval, y_eval = _tiny()
    model = SklearnClassifier(LogisticRegression(C=100))
    oracle = get_strategy("oracle")
    with pytest.raises(InvalidParameterError, match="set_simulation"):
        oracle.select(model, X, state, 1, rng=0)
    oracle.set_simulation(truth, X_eval, y_eval)
    sel = oracle.select(model, X, state, 2, rng=0)
    # x = 1.8 (class 0) moves the boundary past 1.5: 2/5 -> 5/5 on the eval set
    assert sel.indices.tolist() == [2, 5]
    assert sel.scores.tolist() == pytest.approx([0.6, 0.4])
    assert sel.info["fits"] == 6


def test_myopic_improvements_equal_a_direct_loop_in_parallel():
    X, state = make_pool(n_samples=40, n_features=3, n_classes=2, n_labeled=8, seed=4)
    truth = (X[:, 0] > np.median(X[:, 0])).astype(int)
    lab = state.labeled_indices()
    y_lab = np.asarray(state.labels(lab))
    pool = state.unlabeled_indices()

    def score(rows, ys):
        m = LogisticRegression(max_iter=1000, random_state=0).fit(X[rows], ys)
        return float(np.mean(m.predict(X[:15]) == truth[:15]))

    base = score(lab, y_lab)
    want = [score(np.append(lab, i), np.append(y_lab, truth[i])) - base for i in pool]
    got = myopic_improvements(
        SklearnClassifier(LogisticRegression(max_iter=1000)), X, lab, y_lab,
        pool, truth[pool], X[:15], truth[:15], n_classes=2, n_jobs=2, batched=False,
    )  # fmt: skip
    assert got == pytest.approx(want)
    # the batched fits solve the same problems (tighter than scikit-learn's
    # default tol=1e-4, so compare with a tight scikit-learn fit)
    tight = SklearnClassifier(LogisticRegression(tol=1e-10, max_iter=10_000))
    args = (tight, X, lab, y_lab, pool, truth[pool], X[:15], truth[:15])
    refit = myopic_improvements(*args, n_classes=2, batched=False)
    batched = myopic_improvements(*args, n_classes=2, batched=True)
    assert batched == pytest.approx(refit)
    # weighted score: the (balanced) weighted accuracy
    w = np.array([3.0, 1.0])
    got_w = myopic_improvements(
        SklearnClassifier(LogisticRegression(max_iter=1000)), X, lab, y_lab,
        pool[:3], truth[pool[:3]], X[:15], truth[:15], n_classes=2, weights=w,
    )  # fmt: skip
    assert got_w.shape == (3,)


def test_hal_follows_the_paper_or_the_code():
    X, state = make_pool(n_samples=50, n_classes=2, seed=1)
    model = MockModel(n_classes=2)
    pool = state.unlabeled_indices()
    p = model.predict_proba(X[pool])
    gap = np.abs(p[:, 0] - p[:, 1])
    paper = get_strategy("hal-uniform", p_exploit=1.0).select(model, X, state, 3, rng=0)
    code = get_strategy("hal-uniform", p_exploit=1.0, follow="code").select(
        model, X, state, 3, rng=0
    )
    assert paper.indices.tolist() == pool[np.argsort(gap, kind="stable")[:3]].tolist()
    assert code.indices[0] == pool[np.argmax(gap)]
    # Gaussian exploration: least (paper) / most (code) similar to the labeled set
    lab = X[state.labeled_indices()]
    sim = np.exp(-((X[pool][:, None] - lab[None]) ** 2).sum(-1) / 10.0).sum(1)
    g = get_strategy("hal-gaussian", p_exploit=0.0).select(model, X, state, 2, rng=0)
    assert g.indices.tolist() == pool[np.argsort(sim, kind="stable")[:2]].tolist()
    g = get_strategy("hal-gaussian", p_exploit=0.0, follow="code").select(
        model, X, state, 1, rng=0
    )
    assert g.indices[0] == pool[np.argmax(sim)]
    with pytest.raises(InvalidParameterError, match="follow"):
        get_strategy("hal-uniform", follow="both")


def test_cbal_equals_its_objective_slot_by_slot():
    X, state = make_pool(n_samples=40, n_classes=3, seed=2)
    model = MockModel(n_classes=3)
    sel = get_strategy("cbal", lam=1.0).select(model, X, state, 4, rng=0)
    pool = state.unlabeled_indices()
    p = model.predict_proba(X[pool])
    h = -(p * np.log(p + 1e-8)).sum(1)
    counts = np.bincount(state.labels(state.labeled_indices()), minlength=3)
    n_l, picks = counts.sum(), []
    for _ in range(4):
        omega = np.maximum(0, n_l / 3 - counts)
        obj = [
            np.inf if j in picks else -h[j] + np.abs(omega - p[j]).sum()
            for j in range(len(pool))
        ]
        picks.append(int(np.argmin(obj)))
        n_l += 1
    assert sel.indices.tolist() == pool[picks].tolist()


def test_fscore_kcenter_and_uncertainty():
    X, state = make_pool(n_samples=40, n_classes=2, seed=3)
    model = MockModel(n_classes=2)
    pool = state.unlabeled_indices()
    f = np.abs(model.decision_function(X[pool])).min(1)
    sel = get_strategy("fscore").select(model, X, state, 3, rng=0)
    assert sel.indices.tolist() == pool[np.argsort(f, kind="stable")[:3]].tolist()
    from sklearn.naive_bayes import GaussianNB

    nb = SklearnClassifier(GaussianNB()).fit(X[:10], np.arange(10) % 2, n_classes=2)
    with pytest.raises(UnsupportedModelError, match="decision_function"):
        get_strategy("fscore").select(nb, X, state, 3)
    want = kcenter_greedy(X, 4, labeled=state.labeled_indices(), rng=0)
    got = get_strategy("kcenter").select(model, X, state, 4, rng=0)
    assert got.indices.tolist() == np.asarray(want).tolist()
    u = get_strategy("uncertainty").select(model, X, state, 3, rng=0)
    m = get_strategy("margin").select(model, X, state, 3, rng=0)
    assert sorted(u.indices.tolist()) == sorted(m.indices.tolist())  # binary


def test_svm_model_has_a_margin_for_fscore():

    X, state = make_pool(n_samples=60, n_classes=2, n_labeled=20, seed=5)
    idx = state.labeled_indices()
    svm = make_model("svm").fit(X[idx], state.labels(idx), n_classes=2, rng=0)
    sel = get_strategy("fscore").select(svm, X, state, 2, rng=0)
    f = np.abs(svm.decision_function(X[state.unlabeled_indices()]))
    assert set(sel.indices.tolist()) == set(
        state.unlabeled_indices()[np.argsort(f)[:2]].tolist()
    )


def test_class_weights_reach_the_models_fit():
    rng = np.random.default_rng(0)
    X = np.concatenate([rng.normal(-1, 1, (20, 2)), rng.normal(1, 1, (200, 2))])
    y = np.array([0] * 20 + [1] * 200)
    state = LabelState(220, classes=[0, 1])
    state.teach(np.arange(220), y, round=0)
    plain = ActiveLearner(SklearnClassifier(), get_strategy("entropy"), X, state=state)
    weighted = ActiveLearner(
        SklearnClassifier(), get_strategy("entropy"), X, state=state,
        class_weights=[10.0, 1.0],
    )  # fmt: skip
    rare_plain = (plain.fit().predict(X) == 0).sum()
    rare_weighted = (weighted.fit().predict(X) == 0).sum()
    assert rare_weighted > rare_plain  # the rare class gains weight

    class NoWeights(SklearnClassifier):
        def fit(self, X, y, *, n_classes, rng=None):
            return super().fit(X, y, n_classes=n_classes, rng=rng)

    with pytest.raises(UnsupportedModelError, match="sample_weight"):
        ActiveLearner(
            NoWeights(), get_strategy("entropy"), X, state=state,
            class_weights=[10.0, 1.0],
        )  # fmt: skip
    for bad in ([1.0], [1.0, -2.0], [1.0, np.nan], [np.inf, 1.0], [0.0, 1.0]):
        # one per class, positive and finite: a NaN or negative weight reached
        # the model's fit unchecked before
        with pytest.raises(InvalidParameterError, match="one per class"):
            ActiveLearner(
                SklearnClassifier(), get_strategy("entropy"), X, state=state,
                class_weights=bad,
            )  # fmt: skip


def test_batched_oracle_fits_need_a_binary_logistic_regression():
    X, state = make_pool(n_samples=30, n_features=3, n_classes=3, n_labeled=9, seed=1)
    lab, pool = state.labeled_indices(), state.unlabeled_indices()
    y_lab = np.asarray(state.labels(lab))
    truth = np.zeros(30, dtype=int)
    with pytest.raises(InvalidParameterError, match="binary L2 logistic"):
        myopic_improvements(
            SklearnClassifier(), X, lab, y_lab, pool, truth[pool], X[:5], truth[:5],
            n_classes=3, batched=True,
        )  # fmt: skip
    svm = make_model("svm")
    assert logistic_C(svm) is None
    assert logistic_C(SklearnClassifier(LogisticRegression(C=3.0))) == 3.0
    assert logistic_C(SklearnClassifier(LogisticRegression(solver="liblinear"))) is None
    # multi-class falls back to refitting by itself
    got = myopic_improvements(
        SklearnClassifier(), X, lab, y_lab, pool[:4], truth[pool[:4]], X[:5],
        truth[:5], n_classes=3,
    )  # fmt: skip
    assert got.shape == (4,)
    with pytest.raises(InvalidParameterError, match="batched"):
        get_strategy("oracle", batched="yes")
