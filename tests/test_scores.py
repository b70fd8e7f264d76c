import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from labelwise import InvalidParameterError
from labelwise.scores import bald, entropy, least_confidence, margin, variation_ratio


def _slow_entropy(p):
    return np.array([-sum(v * math.log(v) for v in row if v > 0) for row in p])


def _proba(n=20, k=4, seed=0):
    z = np.random.default_rng(seed).normal(size=(n, k))
    e = np.exp(z)
    return e / e.sum(1, keepdims=True)


def test_against_slow_references():
    p = _proba()
    assert np.allclose(entropy(p), _slow_entropy(p))
    assert np.allclose(least_confidence(p), [1 - max(r) for r in p])
    assert np.allclose(margin(p), [1 - (sorted(r)[-1] - sorted(r)[-2]) for r in p])


def test_bald_matches_definition():
    s = np.stack([_proba(seed=i) for i in range(5)])
    mean = s.mean(0)
    expected = _slow_entropy(mean) - np.mean([_slow_entropy(x) for x in s], axis=0)
    assert np.allclose(bald(s), expected)
    assert np.allclose(bald(np.stack([_proba()] * 3)), 0.0, atol=1e-12)


def test_variation_ratio_lecture_example():
    votes = np.eye(5)[[3, 4, 4, 4]][:, None, :]
    assert variation_ratio(votes).tolist() == [0.25]
    unanimous = np.eye(3)[[1, 1, 1]][:, None, :]
    assert variation_ratio(unanimous).tolist() == [0.0]


@pytest.mark.parametrize("fn", [entropy, margin, least_confidence])
def test_bad_input(fn):
    with pytest.raises(InvalidParameterError, match="NaN"):
        fn(np.array([[np.nan, 1.0]]))
    with pytest.raises(InvalidParameterError, match="shape"):
        fn(np.array([0.5, 0.5]))
    with pytest.raises(InvalidParameterError, match="2 classes"):
        fn(np.ones((3, 1)))


@settings(max_examples=50, deadline=None)
@given(
    arrays(np.float64, (6, 4), elements=st.floats(0.0, 1.0)).filter(
        lambda a: (a.sum(1) > 0).all()
    )
)
def test_score_ranges(raw):
    p = raw / raw.sum(1, keepdims=True)
    h = entropy(p)
    assert (h >= -1e-12).all() and (h <= math.log(4) + 1e-9).all()
    assert ((least_confidence(p) >= 0) & (least_confidence(p) <= 0.75 + 1e-12)).all()
    assert ((margin(p) >= 0) & (margin(p) <= 1 + 1e-12)).all()
