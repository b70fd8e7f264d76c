"""Batched L2 logistic regressions against scikit-learn and one-by-one Newton."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sklearn.linear_model import LogisticRegression

from labelwise import InvalidParameterError
from labelwise.kernels import fit_logistic, fit_logistic_plus_one


def _sklearn(X, y, w=None, C=1.0):
    m = LogisticRegression(C=C, tol=1e-12, max_iter=100_000).fit(X, y, sample_weight=w)
    return np.append(m.coef_[0], m.intercept_)


def _problem(seed, n=40, d=3, m=25, spread=1.0):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, d))
    y = (X[:, 0] + 0.7 * rng.normal(size=n) > 0).astype(int)
    y[:2] = [0, 1]
    Xn = spread * rng.normal(size=(m, d))
    yn = rng.integers(0, 2, size=m)  # some mislabelled, far points too
    return X, y, Xn, yn


@pytest.mark.parametrize("C", [0.1, 1.0, 100.0])
def test_fit_logistic_is_sklearns_optimum(C):
    X, y, _, _ = _problem(0)
    w = np.where(y == 0, 4.0, 1.0)
    assert np.allclose(fit_logistic(X, y, C=C), _sklearn(X, y, C=C), atol=2e-5)
    assert np.allclose(fit_logistic(X, y, w, C=C), _sklearn(X, y, w, C), atol=2e-5)


@pytest.mark.parametrize("n_chord", [0, 3, 20])
@pytest.mark.parametrize("spread", [1.0, 6.0])
def test_plus_one_fits_equal_one_by_one_fits(n_chord, spread):
    X, y, Xn, yn = _problem(1, spread=spread)
    w = np.where(y == 0, 3.0, 1.0)
    wn = np.where(yn == 0, 3.0, 1.0)
    theta0, thetas = fit_logistic_plus_one(
        X, y, Xn, yn, w, wn, C=2.0, n_chord=n_chord, chunk=7
    )
    assert np.allclose(theta0, fit_logistic(X, y, w, C=2.0), atol=1e-9)
    for c in range(len(Xn)):
        want = fit_logistic(
            np.vstack([X, Xn[c]]), np.append(y, yn[c]), np.append(w, wn[c]), C=2.0
        )
        assert np.allclose(thetas[c], want, atol=1e-7), c
    # and scikit-learn's own fit of the same problem, for a few
    for c in range(3):
        ref = _sklearn(np.vstack([X, Xn[c]]), np.append(y, yn[c]), C=2.0,
                       w=np.append(w, wn[c]))  # fmt: skip
        assert np.allclose(thetas[c], ref, atol=2e-5)


def test_too_few_iterations_fall_back_to_newton_alone():
    X, y, Xn, yn = _problem(2, spread=8.0)
    _, fast = fit_logistic_plus_one(X, y, Xn, yn, max_iter=1, n_chord=1)
    _, full = fit_logistic_plus_one(X, y, Xn, yn)
    assert np.allclose(fast, full, atol=1e-7)


@settings(max_examples=25, deadline=None)
@given(
    seed=st.integers(0, 10_000),
    n=st.integers(6, 30),
    d=st.integers(1, 5),
    C=st.sampled_from([0.05, 1.0, 20.0]),
)
def test_every_fit_is_a_stationary_point(seed, n, d, C):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, d)) * rng.uniform(0.2, 3.0)
    y = rng.integers(0, 2, size=n)
    y[:2] = [0, 1]
    Xn = rng.normal(size=(4, d)) * 3.0
    yn = rng.integers(0, 2, size=4)
    _, thetas = fit_logistic_plus_one(X, y, Xn, yn, C=C)
    for c in range(4):
        xa = np.hstack([np.vstack([X, Xn[c]]), np.ones((n + 1, 1))])
        yy = np.append(y, yn[c])
        p = 1 / (1 + np.exp(-xa @ thetas[c]))
        grad = C * xa.T @ (p - yy) + np.append(thetas[c][:-1], 0.0)
        assert np.abs(grad).max() <= 1e-7


def test_bad_input_is_refused():
    X, y, Xn, yn = _problem(3)
    with pytest.raises(InvalidParameterError, match="0 or 1"):
        fit_logistic(X, y + 1)
    with pytest.raises(InvalidParameterError, match="shape"):
        fit_logistic(X, y[:-1])
    with pytest.raises(InvalidParameterError, match="features"):
        fit_logistic_plus_one(X, y, Xn[:, :2], yn)
    with pytest.raises(InvalidParameterError, match="non-negative"):
        fit_logistic(X, y, -np.ones(len(y)))
