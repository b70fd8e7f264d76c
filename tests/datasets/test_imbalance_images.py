"""The imbalance settings keep image shapes, so convolutional networks take them."""

import numpy as np
import pytest

from labelwise import InvalidParameterError
from labelwise.datasets import check_name
from labelwise.datasets.imbalance import protocol_split, standardise
from labelwise.models.pytorch import TorchClassifier, cnn


def _grey_images(n=900, seed=0):
    """MNIST-like raw data: uint8 ``(n, 28, 28)`` with a class-dependent blob."""
    rng = np.random.default_rng(seed)
    y = np.arange(n) % 10
    x = rng.integers(0, 60, size=(n, 28, 28))
    for c in range(10):
        x[y == c, 2 * c : 2 * c + 6, 4:20] += 150
    return x.astype(np.uint8), y


@pytest.mark.parametrize("setting", ["balanced", "imbalanced", "imbalanced-weighted"])
def test_settings_keep_grey_images_and_cnn_trains_on_them(setting):
    x, y = _grey_images()
    parts = protocol_split(x.astype(np.float64), y, setting, 10)
    xp = parts["X_pool"]
    assert xp.shape[1:] == (1, 28, 28) and xp.dtype == np.float32
    assert parts["X_test"].shape[1:] == (1, 28, 28)
    allx = np.concatenate([xp, parts["X_test"], parts["X_reward"]])
    assert abs(allx.mean()) < 1e-4 and allx.std() == pytest.approx(1.0, abs=1e-4)
    counts = np.bincount(np.concatenate([parts["y_pool"], parts["y_test"]]))
    if setting != "balanced":
        assert counts[1] > 5 * counts[0]
    model = TorchClassifier(cnn, max_epochs=2)
    model.fit(xp[:64], parts["y_pool"][:64], n_classes=10, rng=0)
    assert model.predict_proba(parts["X_test"][:5]).shape == (5, 10)


def test_standardise_is_global_for_grey_and_tabular_and_per_channel_for_colour():
    rng = np.random.default_rng(1)
    grey = rng.normal(3.0, 2.0, size=(20, 6, 6))
    g = standardise(grey)
    assert g.shape == (20, 1, 6, 6)
    assert np.allclose(g, ((grey - grey.mean()) / grey.std())[:, None], atol=1e-5)
    colour = rng.normal(size=(20, 3, 4, 4)) * np.array([1.0, 5.0, 9.0])[:, None, None]
    c = standardise(colour + np.array([0.0, 10.0, -4.0])[:, None, None])
    assert c.shape == (20, 3, 4, 4)
    assert np.allclose(c.mean(axis=(0, 2, 3)), 0.0, atol=1e-5)
    assert np.allclose(c.std(axis=(0, 2, 3)), 1.0, atol=1e-4)
    tab = rng.normal(2.0, 3.0, size=(30, 4))
    t = standardise(tab)
    assert t.shape == (30, 4)
    assert np.allclose(t, (tab - tab.mean()) / tab.std(), atol=1e-5)


@pytest.mark.parametrize(
    "name", ["mnist:weird", "mnist:imbalanced:0.5", "mnist:imbalance"]
)
def test_an_unknown_wrapper_lists_the_imbalance_settings_too(name):
    # the error listed only the noise kinds, as if the imbalance settings and
    # the auxiliary-data wrapper did not exist
    with pytest.raises(InvalidParameterError) as err:
        check_name(name)
    msg = str(err.value)
    assert "KIND one of noisy-blank" in msg
    assert "balanced, imbalanced, imbalanced-weighted" in msg
    assert "mnist:imbalanced-weighted" in msg and "aux" in msg
