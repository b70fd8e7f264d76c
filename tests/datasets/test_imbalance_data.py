"""waveform, mushroom, adult and the imbalance settings of the learning-AL paper."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from labelwise import InvalidParameterError
from labelwise.datasets import check_name, fetch_raw, load, waveform
from labelwise.datasets.imbalance import (
    class_weights,
    imbalance_factors,
    subsample,
)
from labelwise.metrics import weighted_accuracy


def test_waveform_generator_has_breimans_bayes_rate():
    from sklearn.discriminant_analysis import LinearDiscriminantAnalysis
    from sklearn.model_selection import cross_val_score

    x, y = waveform(5000, seed=0)
    assert x.shape == (5000, 21) and set(np.unique(y)) == {0, 1, 2}
    acc = cross_val_score(LinearDiscriminantAnalysis(), x, y, cv=5).mean()
    assert 0.84 < acc < 0.88  # literature: LDA about 0.86, Bayes about 0.86
    raw = fetch_raw("waveform")  # the binary copy: classes 0 and 1
    assert sum(len(r) for r in raw[1::2]) == int((y < 2).sum())


def test_mushroom_and_adult_are_the_documented_copies():
    raw = fetch_raw("mushroom")
    y = np.concatenate(raw[1::2])
    assert len(y) == 5644 and int(y.sum()) == 2156  # 3488 edible / 2156 poisonous
    raw = fetch_raw("adult")
    assert (len(raw[1]), len(raw[3])) == (30162, 15060)  # UCI rows without NA
    assert (int(raw[1].sum()), int(raw[3].sum())) == (7508, 3700)  # >50K


@pytest.mark.parametrize("setting", ["balanced", "imbalanced", "imbalanced-weighted"])
def test_settings_follow_the_protocol(setting):
    d = load(f"waveform:{setting}")
    assert d.X_test.shape[0] == 200 and d.X_reward.shape[0] == 100
    allx = np.concatenate([d.X_train, d.X_test, d.X_reward])
    assert abs(allx.mean()) < 1e-5 and allx.std() == pytest.approx(1.0, abs=1e-4)
    counts = np.bincount(np.concatenate([d.y_train, d.y_test, d.y_reward]))
    if setting == "balanced":
        assert counts[0] == counts[1]
        assert d.eval_weights.tolist() == [1.0, 1.0]
    else:
        assert counts[1] / counts[0] == pytest.approx(10.0, rel=0.02)
        assert d.eval_weights.tolist() == pytest.approx([20 / 11, 2 / 11])
    # stratified: the test set keeps the class ratio
    assert np.bincount(d.y_test)[1] / 200 == pytest.approx(
        counts[1] / counts.sum(), abs=0.01
    )
    assert (d.class_weights is not None) == (setting == "imbalanced-weighted")
    with pytest.raises(InvalidParameterError, match="regression dataset"):
        check_name("friedman1:imbalanced")


def test_test_size_subsamples_the_settings_test_rows():
    # test_size was ignored silently under an imbalance setting
    full = load("waveform:imbalanced")
    d = load("waveform:imbalanced", test_size=50, pool_size=300)
    assert d.X_test.shape[0] == 50 and d.X_train.shape[0] == 300
    rows = {r.tobytes() for r in full.X_test}
    assert all(r.tobytes() in rows for r in d.X_test)  # a subset of the 200
    np.testing.assert_array_equal(d.X_reward, full.X_reward)
    assert load("waveform:imbalanced", test_size=500).X_test.shape[0] == 200


def test_factors_subsample_and_weights():
    assert imbalance_factors(2, "imbalanced").tolist() == [1.0, 10.0]
    assert imbalance_factors(3, "imbalanced").tolist() == [1.0, 10.0, 1.0]
    assert imbalance_factors(3, "balanced").tolist() == [1.0, 1.0, 1.0]
    y = np.repeat([0, 1, 2], [500, 300, 800])
    keep = subsample(y, imbalance_factors(3, "imbalanced"))
    c = np.bincount(y[keep])
    # the scarcest class relative to its target fixes the scale
    assert c.tolist() == [30, 300, 30]
    assert class_weights(np.array([1.0, 10.0])).mean() == pytest.approx(1.0)


@settings(max_examples=40, deadline=None)
@given(
    base=st.integers(1, 20),
    factors=st.lists(st.sampled_from([1, 2, 10]), min_size=2, max_size=4),
    seed=st.integers(0, 1000),
)
def test_weighted_accuracy_is_mean_recall_when_counts_follow_the_factors(
    base, factors, seed
):
    # with test class counts proportional to f, sum w_c correct_c / sum w_c n_c
    # equals the mean per-class recall (Bakker et al. 2023, §5.6)
    f = np.asarray(factors, dtype=float)
    y = np.repeat(np.arange(len(f)), (base * f).astype(int))
    pred = np.random.default_rng(seed).integers(0, len(f), size=y.size)
    recall = np.mean([np.mean(pred[y == c] == c) for c in range(len(f))])
    assert weighted_accuracy(y, pred, class_weights(f)) == pytest.approx(recall)
