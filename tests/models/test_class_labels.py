"""Every classifier's ``fit`` checks its labels the same way (`check_class_labels`)."""

import numpy as np
import pytest

from labelwise import InvalidParameterError
from labelwise.models.embedding import EmbeddingClassifier
from labelwise.models.loss_prediction import LossPredictionClassifier
from labelwise.models.pytorch import TorchClassifier
from labelwise.models.sklearn import SklearnClassifier

MODELS = {
    "torch": lambda: TorchClassifier(max_epochs=1),
    "loss-prediction": lambda: LossPredictionClassifier(max_epochs=1),
    "sklearn": lambda: SklearnClassifier(),
    "embedding": lambda: EmbeddingClassifier(max_epochs=1),
}


@pytest.fixture(params=sorted(MODELS))
def model(request):
    return MODELS[request.param]()


def _data(n=12, d=4, k=3):
    rng = np.random.default_rng(0)
    return rng.normal(size=(n, d)).astype(np.float32), np.arange(n) % k


@pytest.mark.parametrize(
    ("bad", "match"),
    [
        (np.arange(12) % 3 + 0.5, r"class indices in \[0, 2\].*non-integer"),
        (np.array(["a", "b", "c"] * 4), r"class indices in \[0, 2\]; got dtype <U1"),
        (np.arange(12) % 3 + 1, r"holds \[3\], outside the classes 0..2"),
        (np.arange(12) % 3 - 1, r"holds \[-1\], outside the classes 0..2"),
        (np.zeros(11, dtype=int), r"y must have shape \(12,\) to match X; got \(11,\)"),
    ],
)
def test_bad_labels_are_refused_before_training(model, bad, match):
    x, _ = _data()
    with pytest.raises(InvalidParameterError, match=match):
        model.fit(x, bad, n_classes=3, rng=0)


def test_integral_float_labels_fit_as_their_integers(model):
    x, y = _data()
    got = model.fit(x, y.astype(np.float64), n_classes=3, rng=0).predict_proba(x)
    want = MODELS_BY_TYPE[type(model)]().fit(x, y, n_classes=3, rng=0).predict_proba(x)
    assert np.allclose(np.asarray(got), np.asarray(want))


def test_boolean_labels_fit_as_classes_0_and_1(model):
    x, y = _data(k=2)
    got = model.fit(x, y == 1, n_classes=2, rng=0).predict_proba(x)
    want = MODELS_BY_TYPE[type(model)]().fit(x, y, n_classes=2, rng=0).predict_proba(x)
    assert np.allclose(np.asarray(got), np.asarray(want))


@pytest.mark.parametrize("n_classes", [True, 2.0, 0, "3"])
def test_n_classes_must_be_a_positive_int(model, n_classes):
    x, y = _data(k=1)
    with pytest.raises(InvalidParameterError, match="n_classes must be"):
        model.fit(x, y, n_classes=n_classes, rng=0)


MODELS_BY_TYPE = {type(f()): f for f in MODELS.values()}


@pytest.mark.parametrize(
    ("bad", "match"),
    [
        (np.arange(12) % 3 + 0.5, r"y_labeled must hold class indices in \[0, 2\]"),
        (np.arange(12) % 3 + 1, r"y_labeled holds \[3\], outside the classes 0..2"),
    ],
)
def test_finetune_checks_its_labels_as_fit_does(bad, match):
    # finetune took y_labeled as torch.long: 1.5 -> class 1, 3 -> torch's IndexError
    from labelwise.models.finetune import FineTune

    x, y = _data()
    clf = TorchClassifier(max_epochs=1).fit(x, y, n_classes=3, rng=0)
    cfg = FineTune(min_size=1, max_epochs=1, augment=False)
    with pytest.raises(InvalidParameterError, match=match):
        clf.finetune(x, bad, x, config=cfg, rng=0)
