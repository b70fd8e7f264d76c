"""Regression datasets: BMDAL preprocessing and the pinned real copies."""

from __future__ import annotations

import numpy as np
import pytest

from labelwise import InvalidParameterError
from labelwise.datasets import check_name, fetch_raw, is_regression, load


def test_friedman1_split_and_preprocessing():
    raw = fetch_raw("friedman1")
    n = sum(len(r) for r in raw[1::2])
    assert n == 40768 and len(raw[3]) == int(0.2 * n)
    d = load("friedman1")
    assert d.is_regression and d.classes is None
    assert d.X_valid is not None and d.X_valid.shape == (1024, 10)
    assert d.X_train.shape == (len(raw[1]) - 1024, 10)
    assert np.abs(d.X_train).max() <= 5.0
    # targets standardised with the statistics of all rows
    y_all = np.concatenate([raw[1], raw[3]])
    z = (raw[3] - y_all.mean()) / y_all.std()
    assert np.allclose(np.sort(d.y_test), np.sort(z))
    # inputs: 5 tanh(x / 5) of the standardised inputs (training statistics)
    small = load("friedman1", pool_size=300, test_size=100)
    assert small.X_train.shape == (300, 10) and small.X_test.shape == (100, 10)
    assert np.array_equal(small.X_valid, d.X_valid)


@pytest.mark.parametrize(
    ("name", "n_train", "n_features"),
    [("diamonds", 42128, 26), ("bike-sharing", 12880, 24)],
)
def test_real_regression_sets(name, n_train, n_features):
    d = load(name)
    assert d.X_train.shape == (n_train, n_features) and d.y_valid.shape == (1024,)
    assert np.isfinite(d.X_train).all() and np.abs(d.X_train).max() <= 5.0
    assert abs(np.concatenate([d.y_train, d.y_valid, d.y_test]).mean()) < 0.05
    assert is_regression(name)


def test_bike_targets_are_the_uci_counts():
    raw = fetch_raw("bike-sharing")
    assert raw[1].sum() + raw[3].sum() == 3_292_679  # the UCI hour.csv total


def test_noise_needs_classes():
    with pytest.raises(InvalidParameterError, match="regression dataset"):
        check_name("friedman1:noisy-blank")
    with pytest.raises(InvalidParameterError, match="regression dataset"):
        load("friedman1:noisy-blank")


def test_shifted_task_and_its_auxiliary_data():
    from labelwise.datasets.shifted import g, make_shifted, parse_shifted

    assert parse_shifted("shifted") == (8.0, 1000)
    assert parse_shifted("shifted:64:200") == (64.0, 200)
    assert parse_shifted("friedman1") is None
    with pytest.raises(InvalidParameterError, match="NAUX an integer"):
        check_name("shifted:8:many")
    xtr, ytr, xte, _, xa, ya = make_shifted(64.0, 500)
    assert xtr.shape == (16000, 8) and xte.shape == (4000, 8) and xa.shape == (500, 8)
    # target labels: g plus small noise; auxiliary: shifted inputs, biased labels
    assert np.std(ytr - g(xtr)) == pytest.approx(0.1, rel=0.05)
    assert np.allclose(xa.mean(0), 2.0 / np.sqrt(8), atol=0.15)
    assert np.mean(ya - g(xa)) == pytest.approx(0.5 * (1 + xa[:, 0].mean()), abs=0.1)
    same_target = make_shifted(0.0, 100)
    assert np.array_equal(same_target[0], xtr)  # only the auxiliary set changes
    d = load("shifted:64:500", pool_size=1000, test_size=200)
    assert d.X_aux.shape == (500, 8) and d.y_aux.shape == (500,)
    assert d.X_valid.shape == (1024, 8) and is_regression("shifted:64")


def _rows(x):
    return {r.tobytes() for r in np.ascontiguousarray(x)}


def test_aux_wrapper_carves_imperfect_auxiliary_data_out_of_the_pool():
    from labelwise.datasets.auxiliary import (
        AuxSpec,
        carve_auxiliary,
        parse_aux,
        shift_score,
    )

    assert parse_aux("diamonds:aux") == ("diamonds", AuxSpec(8.0, 1000))
    assert parse_aux("bike-sharing:aux:64:300") == ("bike-sharing", AuxSpec(64.0, 300))
    assert parse_aux("friedman1") is None and parse_aux("shifted:8") is None
    with pytest.raises(InvalidParameterError, match="NAUX an integer"):
        check_name("friedman1:aux:8:lots")
    with pytest.raises(InvalidParameterError, match="ZETA >= 0"):
        check_name("friedman1:aux:-1")
    with pytest.raises(InvalidParameterError, match="classification dataset"):
        check_name("digits:aux")
    assert is_regression("diamonds:aux") and check_name("diamonds:aux:4") == "diamonds"

    base = load("friedman1")
    clean = load("friedman1:aux:0:500")
    # the auxiliary rows leave the pool; at zeta = 0 they keep their labels
    assert clean.X_train.shape[0] == base.X_train.shape[0] - 500
    pool, aux = _rows(clean.X_train), _rows(clean.X_aux)
    assert aux <= _rows(base.X_train) and not aux & pool
    lookup = {r.tobytes(): y for r, y in zip(base.X_train, base.y_train, strict=True)}
    truth = np.array([lookup[r.tobytes()] for r in clean.X_aux])
    assert np.array_equal(clean.y_aux, truth)
    assert np.array_equal(clean.X_test, base.X_test)
    # zeta = 64: shifted along the main axis, biased and noisier labels
    far = load("friedman1:aux:64:500")
    s = shift_score(np.concatenate([far.X_train, far.X_aux]))
    s_aux = s[far.X_train.shape[0] :]
    assert s_aux.mean() > 1.0 > abs(s[: far.X_train.shape[0]].mean())
    truth = np.array([lookup[r.tobytes()] for r in far.X_aux])
    err = far.y_aux - truth
    assert err.mean() == pytest.approx(0.5 * (1 + s_aux.mean()), abs=0.15)
    assert 0.3 < np.std(err - 0.5 * (1 + s_aux)) < 0.6
    # deterministic, and pool_size subsamples what is left
    again = load("friedman1:aux:64:500", pool_size=2000)
    assert np.array_equal(again.X_aux, far.X_aux) and again.X_train.shape[0] == 2000
    assert not _rows(again.X_train) & _rows(again.X_aux)
    with pytest.raises(InvalidParameterError, match="more than half"):
        carve_auxiliary(np.zeros((30, 2)), np.zeros(30), AuxSpec(8.0, 20))
