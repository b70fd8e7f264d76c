"""Bad hyperparameters and inputs of the model adapters: clear errors, never NaN.

Each case here was once accepted silently (a model trained into NaN, a negative
weight decay ignored) or died in a torch or NumPy traceback.
"""

from __future__ import annotations

import numpy as np
import pytest

from labelwise import InvalidParameterError
from labelwise.models import EmbeddingRegressor, TorchClassifier, TorchRegressor, mlp
from labelwise.models.loss_prediction import LossPredictionClassifier

INF, NAN = float("inf"), float("nan")


def _data(n=24, d=3, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, d)).astype(np.float32)
    return x, (x[:, 0] > 0).astype(np.int64)


@pytest.mark.parametrize(
    "make",
    [
        lambda **kw: TorchClassifier(mlp, device="cpu", **kw),
        lambda **kw: TorchRegressor(device="cpu", **kw),
        lambda **kw: EmbeddingRegressor(device="cpu", **kw),
        lambda **kw: LossPredictionClassifier(mlp, **kw),
    ],
    ids=["torch-classifier", "torch-regressor", "embedding-regressor", "lloss"],
)
@pytest.mark.parametrize(
    "kw",
    [
        {"lr": INF},
        {"weight_decay": -1.0},
        {"weight_decay": NAN},
        {"weight_decay": INF},
        {"weight_decay": "1e-4"},
    ],
    ids=str,
)
def test_infinite_lr_and_bad_weight_decay_are_refused(make, kw):
    name = next(iter(kw))
    with pytest.raises(InvalidParameterError, match=f"{name} must be a .*finite"):
        make(**kw)


@pytest.mark.parametrize("grad_clip", [-1.0, 0, NAN, INF, "0.1", True])
def test_grad_clip_must_be_a_positive_finite_number(grad_clip):
    # -1 clamped every gradient to -1, 0 zeroed them, NaN trained into NaN
    with pytest.raises(InvalidParameterError, match="grad_clip"):
        TorchClassifier(mlp, grad_clip=grad_clip)


@pytest.mark.parametrize("value", [2.0, -0.1, NAN])
def test_ema_stop_accuracy_must_be_an_accuracy(value):
    with pytest.raises(InvalidParameterError, match="ema_stop_accuracy"):
        TorchClassifier(mlp, ema_alpha=0.9, ema_stop_accuracy=value)


def test_valid_recipe_values_still_train():
    x, y = _data()
    clf = TorchClassifier(
        mlp, max_epochs=2, grad_clip=0.1, weight_decay=1e-4, ema_stop_accuracy=0
    )
    assert np.isfinite(clf.fit(x, y, n_classes=2, rng=0).predict_proba(x)).all()
    reg = TorchRegressor(max_epochs=2, weight_decay=1e-3, device="cpu")
    assert np.isfinite(reg.fit(x, x[:, 0], rng=0).predict(x)).all()
