"""The NP's target options: log-loss gains, per-problem z-scores, reward size."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.linear_model import LogisticRegression

from labelwise import InvalidParameterError
from labelwise.models import SklearnClassifier
from labelwise.strategies import get_strategy
from labelwise.strategies.neural_process import normalise_per_problem, simulate
from labelwise.testing import make_pool


def _direct_log_loss(X, rows, ys, Xr, yr, w, sw):
    m = LogisticRegression(tol=1e-12, max_iter=10_000)  # in float64, as the kernels
    m.fit(X[rows].astype(np.float64), ys, sample_weight=sw[ys])
    p = m.predict_proba(Xr.astype(np.float64))
    return sum(w[c] * -np.log(p[e, c]) for e, c in enumerate(yr)) / w[yr].sum()


@pytest.mark.parametrize("batched", [None, False])
def test_log_loss_targets_equal_a_direct_computation(batched):
    X, state = make_pool(n_samples=30, n_classes=2, n_labeled=12, seed=6)
    X = X.astype(np.float64)  # scikit-learn fits float32 inputs in float32
    lab = state.labeled_indices()
    y = np.asarray(state.labels(lab))
    Xr, yr = X[:9], (X[:9, 0] > 0).astype(int)
    w, sw = np.array([2.0, 1.0]), np.array([1.5, 1.0])
    model = SklearnClassifier(LogisticRegression(tol=1e-12, max_iter=10_000))
    probs = simulate(
        model, X, lab, y, Xr, yr, n_classes=2, n_sim=3, weights=w, sample_weight=sw,
        rng=np.random.default_rng(1), batched=batched, target="log-loss",
    )  # fmt: skip
    for ctx, tgt, vals in probs:
        base = _direct_log_loss(X, lab[ctx], y[ctx], Xr, yr, w, sw)
        want = [
            base - _direct_log_loss(
                X, np.append(lab[ctx], lab[j]), np.append(y[ctx], y[j]), Xr, yr, w, sw
            )
            for j in tgt
        ]  # fmt: skip
        np.testing.assert_allclose(vals, want, rtol=1e-4, atol=1e-6)


def test_per_problem_targets_are_z_scores_and_zero_spread_gives_zeros():
    rng = np.random.default_rng(0)
    ctx = np.arange(3)
    problems = [
        (ctx, np.arange(3, 10), rng.normal(5.0, 3.0, size=7).astype(np.float32)),
        (ctx, np.arange(3, 8), np.full(5, 0.25, dtype=np.float32)),
        (ctx, np.arange(3, 9), np.array([0, 0, 0, 0, 0, 0.01], dtype=np.float32)),
    ]
    out = normalise_per_problem(problems)
    for (c, t, v), (c0, t0, _) in zip(out, problems, strict=True):
        assert c is c0 and t is t0 and v.dtype == np.float32
    for v in (out[0][2], out[2][2]):
        assert abs(float(v.mean())) < 1e-6
        assert abs(float(v.std()) - 1.0) < 1e-5
    assert out[1][2].tolist() == [0.0] * 5
    # the ranking inside a problem is kept
    assert np.argsort(out[0][2]).tolist() == np.argsort(problems[0][2]).tolist()


def test_np_options_reach_the_simulations_and_bad_values_fail():
    X, state = make_pool(n_samples=60, n_classes=2, n_labeled=20, seed=3)
    lab = state.labeled_indices()
    model = SklearnClassifier().fit(X[lab], state.labels(lab), n_classes=2)
    s = get_strategy(
        "np", n_sim=5, epochs=2, progress=False, target="log-loss",
        target_norm="per-problem", reward_size=8,
    )  # fmt: skip
    s.set_reward(X[:15], (X[:15, 0] > 0).astype(int))
    a = s.select(model, X, state, 2, rng=4)
    assert len(s.problems_) == 5
    for _, _, v in s.problems_:
        assert (v == 0).all() or abs(float(v.std()) - 1.0) < 1e-5
    b = s.select(model, X, state, 2, rng=4)
    assert a.indices.tolist() == b.indices.tolist()
    for bad in (
        {"target": "accuracy"},
        {"target_norm": "global"},
        {"reward_size": 0},
    ):
        with pytest.raises(InvalidParameterError, match=next(iter(bad))):
            get_strategy("np", **bad)
    with pytest.raises(InvalidParameterError, match="target"):
        simulate(
            model, X, lab, np.asarray(state.labels(lab)), X[:5], np.zeros(5, int),
            n_classes=2, n_sim=1, rng=np.random.default_rng(0), target="x",
        )  # fmt: skip
