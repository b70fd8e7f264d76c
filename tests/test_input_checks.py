"""Issue 15, defect 10: features and dataset sizes are refused, never cast or clipped."""

import warnings

import numpy as np
import pytest

from labelwise import ActiveLearner, InvalidParameterError
from labelwise._validation import check_features
from labelwise.datasets import load
from labelwise.models import SklearnClassifier, SklearnRegressor, TorchClassifier
from labelwise.strategies import get_strategy
from labelwise.testing import MockModel, make_pool


def _complex(x):
    return x.astype(np.complex128) + 1j


@pytest.mark.parametrize("dtype", [np.complex64, np.complex128])
def test_check_features_refuses_complex_values(dtype):
    x = np.ones((4, 3), dtype=dtype)
    with pytest.raises(InvalidParameterError, match="complex") as err:
        check_features(x, name="X_pool")
    assert "X_pool.real" in str(err.value)
    # a real array is accepted unchanged
    assert check_features(x.real) is not None


def test_complex_features_are_refused_wherever_features_enter():
    X, state = make_pool()
    Xc = _complex(X)
    y = np.arange(len(X)) % 3
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # a ComplexWarning would mean a silent cast
        with pytest.raises(InvalidParameterError, match="complex"):
            get_strategy("entropy").select(MockModel(), Xc, state, 3, rng=0)
        with pytest.raises(InvalidParameterError, match="complex"):
            ActiveLearner(
                SklearnClassifier(), get_strategy("margin"), Xc, classes=[0, 1, 2]
            )
        with pytest.raises(InvalidParameterError, match="complex"):
            SklearnClassifier().fit(Xc[:20], y[:20], n_classes=3)
        with pytest.raises(InvalidParameterError, match="complex"):
            SklearnRegressor().fit(Xc[:20], y[:20].astype(float))
        with pytest.raises(InvalidParameterError, match="complex"):
            TorchClassifier(max_epochs=1).fit(Xc[:20], y[:20], n_classes=3, rng=0)


@pytest.mark.parametrize("size", [0, -5, 2.5, True, "10"])
def test_load_refuses_a_pool_size_that_is_not_a_positive_int(size):
    with pytest.raises(InvalidParameterError, match="pool_size must be a positive int"):
        load("digits", pool_size=size)
    with pytest.raises(InvalidParameterError, match="test_size must be a positive int"):
        load("digits", test_size=size)


def test_load_keeps_a_valid_pool_size():
    assert len(load("digits", pool_size=7).y_train) == 7
