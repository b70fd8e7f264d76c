"""LossPredictionClassifier and the ranking loss of Yoo & Kweon (2019)."""

from collections import OrderedDict

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.stats import spearmanr
from torch import nn

from labelwise import InvalidParameterError, NotFittedError
from labelwise.models.base import LossPredictor, TensorOutputs
from labelwise.models.loss_prediction import LossPredictionClassifier, ranking_loss
from labelwise.models.pytorch import SplitNetwork, cnn, mlp


def _ranking_reference(p, t, margin):
    b = len(p) - len(p) % 2
    if b < 2:
        return 0.0
    terms = []
    for i in range(b // 2):
        j = b - 1 - i
        sign = 1.0 if t[i] > t[j] else -1.0
        terms.append(max(0.0, margin - sign * (p[i] - p[j])))
    return float(np.mean(terms))


@settings(max_examples=40, deadline=None)
@given(
    st.lists(st.integers(-5, 5), min_size=0, max_size=9),
    st.integers(0, 2**31 - 1),
    st.sampled_from([0.5, 1.0, 2.0]),
)
def test_ranking_loss_matches_the_pairwise_definition(ties, seed, margin):
    rng = np.random.default_rng(seed)
    n = len(ties)
    p = rng.normal(size=n)
    t = np.asarray(ties, dtype=np.float64)  # small integers: many ties (-> -1)
    got = float(ranking_loss(torch.tensor(p), torch.tensor(t), margin))
    assert got == pytest.approx(_ranking_reference(p, t, margin), abs=1e-9)


def test_ranking_loss_is_zero_when_every_pair_is_ordered_by_the_margin():
    t = torch.tensor([3.0, 2.0, 0.0, 1.0])  # pairs (0, 3) and (1, 2)
    assert float(ranking_loss(t * 5, t, 1.0)) == 0.0
    assert float(ranking_loss(-t * 5, t, 1.0)) > 0.0


def _blobs(n=240, seed=0, noise=0.25):
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 3, size=n)
    centers = np.array([[2.0, 0.0], [-1.0, 1.7], [-1.0, -1.7]])
    X = (centers[y] + rng.normal(scale=1.0, size=(n, 2))).astype(np.float32)
    flip = rng.random(n) < noise
    y = np.where(flip, rng.integers(0, 3, size=n), y)
    return X, y


def test_predicted_loss_ranks_the_true_loss():
    X, y = _blobs()
    clf = LossPredictionClassifier(
        mlp, max_epochs=60, stop_at_train_accuracy=None, lr=3e-3
    )
    clf.fit(X, y, n_classes=3, rng=0)
    hist = clf.history_
    assert hist[-1]["rank"] < hist[0]["rank"]
    assert hist[-1]["ce"] < hist[0]["ce"]
    p = clf.predict_proba(X)
    ce = -np.log(p[np.arange(len(y)), y])
    rho = spearmanr(clf.predict_loss(X), ce).statistic
    assert rho > 0.3, rho


def test_after_the_detach_epoch_the_backbone_trains_on_cross_entropy_alone():
    X, y = _blobs(n=120)

    def head_weights(weight, detach):
        clf = LossPredictionClassifier(
            mlp,
            max_epochs=3,
            stop_at_train_accuracy=None,
            weight=weight,
            detach_epoch=detach,
        )
        clf.fit(X, y, n_classes=3, rng=1)
        return torch.cat([q.detach().flatten() for q in clf.net_.parameters()])

    # detached from the start: the module's weight cannot change the backbone
    assert torch.equal(head_weights(1.0, -1), head_weights(0.0, -1))
    # joint training: it does
    assert not torch.allclose(head_weights(1.0, None), head_weights(0.0, None))


class _Staged(nn.Module):
    """A tiny network with stages named layer1..layer4 (as resnet18)."""

    def __init__(self):
        super().__init__()
        self.body = nn.Sequential(
            OrderedDict(
                layer1=nn.Sequential(nn.Conv2d(1, 4, 3, padding=1), nn.ReLU()),
                layer2=nn.Sequential(nn.Conv2d(4, 6, 3, stride=2), nn.ReLU()),
                layer3=nn.Sequential(nn.Conv2d(6, 8, 3, stride=2), nn.ReLU()),
                layer4=nn.Sequential(nn.Conv2d(8, 10, 3), nn.ReLU()),
            )
        )

    def forward(self, x):
        return self.body(x).flatten(2).mean(2)


def staged(input_shape, n_classes):
    return SplitNetwork(_Staged(), nn.Linear(10, n_classes))


@pytest.mark.parametrize(
    ("network", "shape", "channels"),
    [
        (mlp, (5,), [128]),
        (cnn, (1, 28, 28), [32, 64, 128]),
        (staged, (1, 28, 28), [4, 6, 8, 10]),
    ],
)
def test_taps_per_network(network, shape, channels):
    rng = np.random.default_rng(0)
    X = rng.normal(size=(16, *shape)).astype(np.float32)
    y = np.arange(16) % 2
    clf = LossPredictionClassifier(network, max_epochs=1)
    clf.fit(X, y, n_classes=2, rng=0)
    assert [fc.in_features for fc in clf.lossnet_.fcs] == channels
    assert clf.predict_loss(X).shape == (16,)
    assert np.allclose(clf.predict_proba(X).sum(1), 1.0, atol=1e-5)
    assert clf.embed(X).shape == (16, channels[-1] if network is not staged else 10)


def test_capabilities_and_errors():
    clf = LossPredictionClassifier(mlp, max_epochs=1)
    assert isinstance(clf, LossPredictor)
    assert isinstance(clf, TensorOutputs)
    assert clf.device == torch.device("cpu")
    with pytest.raises(NotFittedError, match="fit"):
        clf.predict_loss(np.zeros((2, 3), np.float32))
    X, y = _blobs(n=20)
    clf.fit(X, y, n_classes=3, rng=0)
    t = clf.tensor_outputs(X, "embed")
    assert t.shape == (20, 128) and t.device.type == "cpu"
    with pytest.raises(InvalidParameterError, match="proba"):
        clf.tensor_outputs(X, "proba_samples")
    for bad in (
        {"margin": 0},
        {"weight": -1},
        {"detach_epoch": -2},
        {"optimizer": "x"},
    ):
        with pytest.raises(InvalidParameterError):
            LossPredictionClassifier(mlp, **bad)


def test_sgd_recipe_is_seeded():
    X, y = _blobs(n=60)
    a = LossPredictionClassifier(mlp, max_epochs=3, optimizer="sgd", lr=0.05)
    b = LossPredictionClassifier(mlp, max_epochs=3, optimizer="sgd", lr=0.05)
    la = a.fit(X, y, n_classes=3, rng=4).predict_loss(X)
    lb = b.fit(X, y, n_classes=3, rng=4).predict_loss(X)
    assert np.array_equal(la, lb)


def test_pickles_and_copies_after_fit():
    import copy
    import pickle

    X = np.random.default_rng(0).normal(size=(20, 1, 28, 28)).astype(np.float32)
    clf = LossPredictionClassifier(cnn, max_epochs=1)
    clf.fit(X, np.arange(20) % 2, n_classes=2, rng=0)
    expected = clf.predict_loss(X)
    for other in (pickle.loads(pickle.dumps(clf)), copy.deepcopy(clf)):
        assert np.allclose(other.predict_loss(X), expected)


def test_sample_weights_scale_the_per_sample_loss():
    X, y = _blobs(n=60)

    def fit(weights):
        clf = LossPredictionClassifier(mlp, max_epochs=2, stop_at_train_accuracy=None)
        return clf.fit(X, y, n_classes=3, rng=0, sample_weight=weights)

    ones = fit(np.ones(60))
    assert np.allclose(ones.predict_loss(X), fit(None).predict_loss(X))
    doubled = fit(np.full(60, 2.0))
    assert doubled.history_[0]["ce"] == pytest.approx(2 * ones.history_[0]["ce"])
    with pytest.raises(InvalidParameterError, match="sample_weight"):
        fit(np.ones(3))


@pytest.mark.parametrize(
    ("weights", "match"),
    [
        (-np.ones(20), "finite, >= 0 and not all zero"),
        (np.zeros(20), "finite, >= 0 and not all zero"),
        (np.full(20, np.nan), "finite, >= 0 and not all zero"),
        (np.ones(3), r"shape \(20,\)"),
    ],
)
def test_sample_weights_are_checked_as_torch_classifier_checks_them(weights, match):
    # negative or all-zero weights used to train silently (maximising the loss)
    X, y = _blobs(n=20)
    clf = LossPredictionClassifier(mlp, max_epochs=1)
    with pytest.raises(InvalidParameterError, match=match):
        clf.fit(X, y, n_classes=3, rng=0, sample_weight=weights)
