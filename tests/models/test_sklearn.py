import numpy as np
import pytest
from sklearn.ensemble import RandomForestClassifier
from sklearn.svm import SVC

from labelwise import FallbackWarning, InvalidParameterError, NotFittedError
from labelwise.models import SklearnClassifier


def test_probabilities_cover_all_classes():
    x = np.array([[0.0], [1.0], [2.0], [3.0]])
    p = SklearnClassifier().fit(x, [0, 0, 2, 2], n_classes=4).predict_proba(x)
    assert p.shape == (4, 4)
    assert np.allclose(p.sum(1), 1) and np.allclose(p[:, [1, 3]], 0)


def test_embedding_is_the_features():
    x = np.arange(12.0).reshape(3, 2, 2)
    assert SklearnClassifier().embed(x).tolist() == x.reshape(3, 4).tolist()


def test_single_class_fallback():
    with pytest.warns(FallbackWarning, match="Only class"):
        clf = SklearnClassifier().fit(np.ones((3, 2)), [1, 1, 1], n_classes=3)
    assert clf.predict_proba(np.ones((2, 2))).tolist() == [[0, 1, 0], [0, 1, 0]]


def test_errors_and_seeding():
    with pytest.raises(InvalidParameterError, match="CalibratedClassifierCV"):
        SklearnClassifier(SVC())
    with pytest.raises(NotFittedError):
        SklearnClassifier().predict_proba(np.ones((2, 2)))
    rng = np.random.default_rng(0)
    x = rng.normal(size=(40, 3))
    y = (x[:, 0] > 0).astype(int)
    a = SklearnClassifier(RandomForestClassifier(n_estimators=5)).fit(
        x, y, n_classes=2, rng=3
    )
    b = SklearnClassifier(RandomForestClassifier(n_estimators=5)).fit(
        x, y, n_classes=2, rng=3
    )
    assert np.allclose(a.predict_proba(x), b.predict_proba(x))


@pytest.mark.parametrize("counts", [(1, 4, 4), (2, 5, 5), (2, 1, 6)])
def test_svm_fits_while_a_class_has_fewer_labels_than_its_calibration_folds(counts):
    # an imbalanced pool's first rounds: CalibratedClassifierCV(cv=3) refused
    # these labels with scikit-learn's ValueError; now fewer folds, a warning
    from labelwise.exceptions import FallbackWarning
    from labelwise.models.registry import make_model

    rng = np.random.default_rng(0)
    y = np.repeat(np.arange(3), counts)
    x = rng.normal(size=(y.size, 4)) + y[:, None]
    model = make_model("svm")
    with pytest.warns(FallbackWarning, match="calibrat"):
        model.fit(x, y, n_classes=3, rng=0)
    proba = model.predict_proba(x)
    assert proba.shape == (y.size, 3)
    assert np.allclose(proba.sum(1), 1.0) and (proba >= 0).all()
    assert model.decision_function(x).shape == (y.size, 3)


def test_svm_with_enough_labels_per_class_is_calibrated_on_three_folds():
    import warnings

    from labelwise.models.registry import make_model

    rng = np.random.default_rng(1)
    y = np.repeat(np.arange(3), 4)
    x = rng.normal(size=(y.size, 4)) + y[:, None]
    model = make_model("svm")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        model.fit(x, y, n_classes=3, rng=0)
    assert model.estimator_.cv == 3
