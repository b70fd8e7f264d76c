import functools

import numpy as np
import pytest
import torch

from labelwise import InvalidParameterError, NotFittedError, UnsupportedModelError
from labelwise.models import SplitNetwork, TorchClassifier, cnn, mlp, require
from labelwise.models.base import Ensemble, MCDropoutSampler


def _blobs(n=120, seed=0):
    rng = np.random.default_rng(seed)
    y = rng.integers(3, size=n)
    x = (np.eye(3)[y] * 3 + rng.normal(size=(n, 3))).astype(np.float32)
    return x, y


def test_reference_mlp_structure():
    net = mlp((784,), 10)
    assert net.head.bias is None and net.head.in_features == 128
    assert net.features(torch.zeros(2, 784)).shape == (2, 128)


def test_fit_learns_and_stops_at_train_accuracy():
    x, y = _blobs()
    clf = TorchClassifier(mlp, max_epochs=300, stop_at_train_accuracy=0.95)
    clf.fit(x, y, n_classes=3, rng=0)
    acc = (clf.predict_proba(x).argmax(1) == y).mean()
    assert acc >= 0.95
    assert clf.epochs_[0] < 300


def test_same_seed_same_model_and_chunking():
    x, y = _blobs()
    a = TorchClassifier(mlp, max_epochs=5, predict_batch_size=7).fit(
        x, y, n_classes=3, rng=1
    )
    b = TorchClassifier(mlp, max_epochs=5).fit(x, y, n_classes=3, rng=1)
    assert np.allclose(a.predict_proba(x), b.predict_proba(x), atol=1e-6)
    assert np.allclose(a.embed(x), b.embed(x), atol=1e-5)
    c = TorchClassifier(mlp, max_epochs=5).fit(x, y, n_classes=3, rng=2)
    assert not np.allclose(a.predict_proba(x), c.predict_proba(x))


def test_mc_dropout_and_capability():
    x, y = _blobs()
    plain = TorchClassifier(mlp, max_epochs=2).fit(x, y, n_classes=3, rng=0)
    with pytest.raises(UnsupportedModelError, match="dropout"):
        require(plain, MCDropoutSampler, "bald")
    drop = TorchClassifier(functools.partial(mlp, dropout=0.5), max_epochs=2)
    require(drop, MCDropoutSampler, "bald")  # detected before fit
    drop.fit(x, y, n_classes=3, rng=0)
    s1 = drop.predict_proba_samples(x, 4, rng=0)
    s2 = drop.predict_proba_samples(x, 4, rng=0)
    assert s1.shape == (4, 120, 3) and np.allclose(s1, s2)
    assert s1.std(0).max() > 1e-3
    # dropout layers are back in eval mode: deterministic predictions
    assert np.allclose(drop.predict_proba(x), drop.predict_proba(x))


def test_ensemble_members():
    x, y = _blobs()
    with pytest.raises(UnsupportedModelError, match="n_members"):
        require(TorchClassifier(mlp), Ensemble, "variation-ratio")
    ens = TorchClassifier(mlp, max_epochs=3, n_members=3).fit(x, y, n_classes=3, rng=0)
    m = ens.predict_proba_members(x)
    assert m.shape == (3, 120, 3)
    assert np.allclose(m.mean(0), ens.predict_proba(x), atol=1e-6)
    assert not np.allclose(m[0], m[1])


def test_cnn_shapes_and_errors():
    x = np.random.default_rng(0).normal(size=(10, 1, 28, 28)).astype(np.float32)
    y = np.arange(10) % 2
    clf = TorchClassifier(cnn, max_epochs=1).fit(x, y, n_classes=2, rng=0)
    assert clf.predict_proba(x).shape == (10, 2) and clf.embed(x).shape == (10, 128)
    with pytest.raises(InvalidParameterError, match=r"\(channels, 28, 28\)"):
        cnn((3,), 2)


def test_cnn_channels_set_the_conv_widths_and_the_registry_passes_them():
    from labelwise.models.registry import check_model_params, make_model

    convs = [m for m in cnn((1, 28, 28), 3).modules() if isinstance(m, torch.nn.Conv2d)]
    assert [c.out_channels for c in convs] == [32, 64]  # the default is unchanged
    net = cnn((2, 28, 28), 3, channels=8, hidden=16)
    convs = [m for m in net.modules() if isinstance(m, torch.nn.Conv2d)]
    assert [(c.in_channels, c.out_channels) for c in convs] == [(2, 8), (8, 16)]
    assert net(torch.zeros(4, 2, 28, 28)).shape == (4, 3)
    small = sum(p.numel() for p in net.parameters())
    assert small < sum(p.numel() for p in cnn((2, 28, 28), 3, hidden=16).parameters())
    for bad in (0, 2.5, True):
        with pytest.raises(InvalidParameterError, match="channels must be a positive"):
            cnn((1, 28, 28), 2, channels=bad)
    assert check_model_params("cnn", {})["channels"] == 32
    with pytest.raises(InvalidParameterError, match="Unknown parameter 'channels'"):
        check_model_params("mlp", {"channels": 8})
    clf = make_model("cnn", channels=4, hidden=8, epochs=1, device="cpu")
    x = np.random.default_rng(0).normal(size=(6, 1, 28, 28)).astype(np.float32)
    clf.fit(x, np.arange(6) % 2, n_classes=2, rng=0)
    conv = next(m for m in clf.members_[0].modules() if isinstance(m, torch.nn.Conv2d))
    assert conv.out_channels == 4 and clf.embed(x).shape == (6, 8)


def test_errors():
    x, y = _blobs()
    with pytest.raises(NotFittedError, match="call fit"):
        TorchClassifier(mlp).predict_proba(x)
    with pytest.raises(InvalidParameterError, match="shape"):
        TorchClassifier(mlp).fit(x, y[:5], n_classes=3)
    with pytest.raises(InvalidParameterError, match="lr"):
        TorchClassifier(mlp, lr=0)
    with pytest.raises(InvalidParameterError, match="SplitNetwork"):
        TorchClassifier(lambda s, k: torch.nn.Linear(3, k)).fit(x, y, n_classes=3)
    net = SplitNetwork(torch.nn.Identity(), torch.nn.Linear(3, 3))
    assert TorchClassifier(lambda s, k: net, max_epochs=1).fit(x, y, n_classes=3).embed(
        x
    ).shape == (120, 3)


def test_mlp_layers_and_registry_params():
    from labelwise.models.registry import make_model

    net = mlp((2,), 4, layers=2)
    assert sum(isinstance(m, torch.nn.Linear) for m in net.modules()) == 3
    clf = make_model("mlp", layers=2, batch=16, ema=0.99, epochs=1)
    assert clf.batch_size == 16 and clf.ema_alpha == 0.99
    assert make_model("mlp").ema_alpha is None


def test_read_only_inputs_are_used_without_a_warning_and_left_as_they_are(tmp_path):
    # a memory-mapped .npy (the labeling app's embeddings) made torch warn that
    # writing to it is undefined; the models share such arrays and must not write
    import warnings

    rng = np.random.default_rng(0)
    np.save(tmp_path / "x.npy", rng.normal(size=(40, 5)).astype(np.float32))
    X = np.load(tmp_path / "x.npy", mmap_mode="r")
    before = np.array(X)
    y = np.arange(40) % 3
    model = TorchClassifier(mlp, max_epochs=2, device="cpu")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        model.fit(X, y, n_classes=3, rng=0)
        model.predict_proba(X)
        model.embed(X)
    np.testing.assert_array_equal(np.asarray(X), before)
