"""Issue 15, defect 10: features and dataset sizes are refused, never cast or clipped."""

import warnings

import numpy as np
import pytest

from labelwise import ActiveLearner, InvalidParameterError
from labelwise._validation import check_class_weights, check_features
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


@pytest.mark.parametrize(
    "bad",
    [[], [[1.0, 2.0]], [1.0, 0.0], [1.0, -1.0], [np.nan, 1.0], [1.0, np.inf], ["a", 1]],
)
def test_check_class_weights_refuses_what_is_not_positive_finite(bad):
    with pytest.raises(InvalidParameterError, match="positive finite") as err:
        check_class_weights(bad)
    assert "got" in str(err.value) and "To fix" in str(err.value)


def test_check_class_weights_checks_the_class_count_and_keeps_good_weights():
    assert check_class_weights(None) is None
    w = check_class_weights([1, 2.5, 3], 3)
    assert w is not None and w.dtype == np.float64
    np.testing.assert_array_equal(w, [1.0, 2.5, 3.0])
    with pytest.raises(InvalidParameterError, match=r"\(2, one per class\)"):
        check_class_weights([1.0, 2.0, 3.0], 2)


def test_every_class_weights_entry_point_shares_one_check():
    from labelwise.strategies import SimulationContext
    from labelwise.strategies.error_reduction import unweighted_posterior

    with pytest.raises(InvalidParameterError, match="positive finite"):
        SimulationContext(class_weights=np.array([1.0, -1.0]))
    with pytest.raises(InvalidParameterError, match="positive finite"):
        get_strategy("lloss", class_weights=[np.inf, 1.0])
    with pytest.raises(InvalidParameterError, match="positive finite"):
        unweighted_posterior(np.full((2, 2), 0.5), np.array([0.0, 1.0]))
