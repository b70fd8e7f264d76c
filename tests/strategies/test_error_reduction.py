"""Expected error reduction (``eer``) against brute-force scikit-learn refits."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays
from sklearn.linear_model import LogisticRegression

from labelwise import InvalidParameterError
from labelwise.models import SklearnClassifier
from labelwise.pool import LabelState
from labelwise.strategies import get_strategy
from labelwise.strategies.error_reduction import lookahead_risks, unweighted_posterior
from labelwise.testing import check_strategy


def _problem(n_classes=2, n=30, d=3, n_lab=10, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, d))
    w = rng.normal(size=(d, n_classes))
    y = np.argmax(X @ w + rng.normal(scale=0.8, size=(n, n_classes)), axis=1)
    lab = np.arange(n_lab)
    while np.unique(y[lab]).size < n_classes:  # every class among the labeled
        y[lab[:n_classes]] = np.arange(n_classes)
    state = LabelState(n, classes=[f"c{i}" for i in range(n_classes)])
    state.teach(lab, y[lab], round=0)
    X_r = rng.normal(size=(12, d))
    y_r = np.argmax(X_r @ w, axis=1)
    return X, y, state, X_r, y_r


def _sk(C=1.0):
    return LogisticRegression(C=C, tol=1e-12, max_iter=10_000)


def _risk(p, y_eval, loss, w):
    """One model's risk, written out point by point."""
    total = norm = 0.0
    for e in range(p.shape[0]):
        if y_eval is not None:
            c = y_eval[e]
            miss = (
                float(np.argmax(p[e]) != c) if loss == "zero-one" else -np.log(p[e, c])
            )
            total += w[c] * miss
            norm += w[c]
        else:
            for i in range(p.shape[1]):
                if loss == "zero-one":
                    total += w[i] * p[e, i] * float(i != np.argmax(p[e]))
                else:
                    total -= w[i] * p[e, i] * np.log(p[e, i])
                norm += w[i] * p[e, i]
    return total / norm


def _brute(X, y_lab, lab, cand, X_eval, y_eval, k, loss, w, sw):
    """``(len(cand), k)`` risks from one scikit-learn fit per (candidate, class)."""
    out = np.empty((len(cand), k))
    for a, c in enumerate(cand):
        for yy in range(k):
            ys = np.append(y_lab, yy)
            m = _sk().fit(X[np.append(lab, c)], ys, sample_weight=sw[ys])
            out[a, yy] = _risk(m.predict_proba(X_eval), y_eval, loss, w)
    return out


@pytest.mark.parametrize("loss", ["zero-one", "log"])
@pytest.mark.parametrize("on_reward", [True, False])
@pytest.mark.parametrize("weighted", [False, True])
def test_batched_risks_equal_scikit_learn_refits(loss, on_reward, weighted):
    X, y, state, X_r, y_r = _problem()
    lab, pool = state.labeled_indices(), state.unlabeled_indices()[:8]
    w = np.array([3.0, 1.0]) if weighted else np.ones(2)
    sw = np.array([2.0, 0.5]) if weighted else np.ones(2)
    X_eval, y_eval = (X_r, y_r) if on_reward else (X[pool], None)
    want = _brute(X, y[lab], lab, pool, X_eval, y_eval, 2, loss, w, sw)
    got = lookahead_risks(
        SklearnClassifier(), X[lab], y[lab], X[pool], X_eval, y_eval, n_classes=2,
        loss=loss, weights=w if weighted else None,
        sample_weight=sw if weighted else None, batched=True,
    )  # fmt: skip
    np.testing.assert_allclose(got, want, rtol=1e-6, atol=1e-8)


@pytest.mark.parametrize("loss", ["zero-one", "log"])
def test_multiclass_refits_equal_scikit_learn(loss):
    X, y, state, X_r, y_r = _problem(n_classes=3, n=25, n_lab=9, seed=2)
    lab, pool = state.labeled_indices(), state.unlabeled_indices()[:5]
    for X_eval, y_eval in ((X_r, y_r), (X[pool], None)):
        want = _brute(
            X, y[lab], lab, pool, X_eval, y_eval, 3, loss, np.ones(3), np.ones(3)
        )
        got = lookahead_risks(
            SklearnClassifier(_sk()), X[lab], y[lab], X[pool], X_eval, y_eval,
            n_classes=3, loss=loss, n_jobs=2,
        )  # fmt: skip
        np.testing.assert_allclose(got, want, rtol=1e-6, atol=1e-8)


@pytest.mark.parametrize("params", [{}, {"loss": "log", "evaluate_on": "pool"}])
def test_eer_picks_the_largest_expected_reduction(params):
    """The strategy's scores: R(θ_L) - Σ_y p_L(y|x) R_y(x), brute force."""
    X, y, state, X_r, y_r = _problem(n=24, seed=3)
    model = SklearnClassifier().fit(X[state.labeled_indices()], y[:10], n_classes=2)
    s = get_strategy("eer", **params)
    s.set_reward(X_r, y_r)
    sel = s.select(model, X, state, 3, rng=0)
    lab, pool = state.labeled_indices(), state.unlabeled_indices()
    loss = params.get("loss", "zero-one")
    X_eval, y_eval = (X[pool], None) if params else (X_r, y_r)
    ones = np.ones(2)
    risks = _brute(X, y[lab], lab, pool, X_eval, y_eval, 2, loss, ones, ones)
    now = _risk(model.predict_proba(X_eval), y_eval, loss, ones)
    red = now - (model.predict_proba(X[pool]) * risks).sum(1)
    order = np.lexsort((np.arange(pool.size), -np.round(red, 9)))
    assert sel.indices.tolist() == pool[order[:3]].tolist()
    np.testing.assert_allclose(sel.scores, red[order[:3]], rtol=1e-6, atol=1e-8)
    assert sel.info["evaluated_on"] == ("pool" if params else "reward")
    assert sel.info["fits"] == 2 * pool.size


@pytest.mark.parametrize("posterior", ["model", "unweighted"])
def test_eer_with_class_weights_averages_over_the_chosen_posterior(posterior):
    """Weighted refits, and p_L(y|x) or p_L(y|x)/w_y as the label's distribution."""
    X, y, state, X_r, y_r = _problem(n=24, seed=4)
    lab, pool = state.labeled_indices(), state.unlabeled_indices()
    cw, ew = np.array([2.5, 0.4]), np.array([3.0, 1.0])
    model = SklearnClassifier(_sk()).fit(
        X[lab], y[lab], n_classes=2, sample_weight=cw[y[lab]]
    )
    s = get_strategy("eer", loss="log", posterior=posterior)
    s.set_reward(X_r, y_r, eval_weights=ew, class_weights=cw)
    sel = s.select(model, X, state, 4, rng=0)
    risks = _brute(X, y[lab], lab, pool, X_r, y_r, 2, "log", ew, cw)
    p = model.predict_proba(X[pool])
    if posterior == "unweighted":
        p = p / cw / (p / cw).sum(1, keepdims=True)
    red = _risk(model.predict_proba(X_r), y_r, "log", ew) - (p * risks).sum(1)
    order = np.lexsort((np.arange(pool.size), -np.round(red, 9)))
    assert sel.indices.tolist() == pool[order[:4]].tolist()
    np.testing.assert_allclose(sel.scores, red[order[:4]], rtol=1e-6, atol=1e-8)


@settings(max_examples=50, deadline=None)
@given(
    arrays(np.float64, (5, 3), elements=st.floats(0.01, 1.0)),
    arrays(np.float64, 3, elements=st.floats(0.05, 20.0)),
)
def test_unweighted_posterior_divides_out_the_class_weights(raw, w):
    p = raw / raw.sum(1, keepdims=True)
    q = unweighted_posterior(p, w)
    np.testing.assert_allclose(q.sum(1), 1.0)
    # odds between classes change by the inverse weight ratio
    np.testing.assert_allclose(q[:, 1] / q[:, 0], p[:, 1] / p[:, 0] * w[0] / w[1])
    # equal weights leave the posterior as it is
    np.testing.assert_allclose(unweighted_posterior(p, np.full(3, w[0])), p)


def test_unweighted_posterior_refuses_bad_weights():
    p = np.full((2, 2), 0.5)
    for bad in (
        np.array([1.0, 0.0]),
        np.array([1.0, 2.0, 3.0]),
        np.array([np.nan, 1.0]),
    ):
        with pytest.raises(InvalidParameterError, match="positive finite numbers"):
            unweighted_posterior(p, bad)


def test_eer_candidates_are_seeded_unique_and_unlabeled():
    X, y, state, _, _ = _problem(n=60, seed=5)
    model = SklearnClassifier().fit(X[:10], y[:10], n_classes=2)
    s = get_strategy("eer", max_candidates=7, evaluate_on="pool", max_eval=15)
    a = s.select(model, X, state, 4, rng=11)
    b = s.select(model, X, state, 4, rng=11)
    assert a.indices.tolist() == b.indices.tolist()
    assert np.unique(a.indices).size == 4
    assert not state.labeled_mask[a.indices].any()
    assert a.info["fits"] == 14  # 7 candidates, 2 classes
    # other seeds draw other candidate subsets
    picks = {tuple(s.select(model, X, state, 4, rng=r).indices) for r in range(6)}
    assert len(picks) > 1
    # at least batch_size candidates even when max_candidates is smaller
    assert (
        get_strategy("eer", max_candidates=2, evaluate_on="pool")
        .select(model, X, state, 5, rng=0)
        .indices.size
        == 5
    )


def test_eer_conformance_without_a_reward_set():
    check_strategy(get_strategy("eer", evaluate_on="pool", max_candidates=10))


def test_eer_bad_parameters_and_missing_reward_set():
    for bad in (
        {"loss": "hinge"},
        {"evaluate_on": "test"},
        {"max_candidates": 0},
        {"max_eval": -3},
        {"n_jobs": 0},
        {"batched": "yes"},
        {"posterior": "true"},
    ):
        with pytest.raises(InvalidParameterError, match=next(iter(bad))):
            get_strategy("eer", **bad)
    X, y, state, X_r, y_r = _problem()
    model = SklearnClassifier().fit(X[:10], y[:10], n_classes=2)
    with pytest.raises(InvalidParameterError, match="reward set"):
        get_strategy("eer", evaluate_on="reward").select(model, X, state, 1, rng=0)
    with pytest.raises(InvalidParameterError, match="as many labels"):
        get_strategy("eer").set_reward(X_r, y_r[:3])
    with pytest.raises(InvalidParameterError, match="loss"):
        lookahead_risks(model, X[:10], y[:10], X[10:], X[10:], n_classes=2, loss="l1")
