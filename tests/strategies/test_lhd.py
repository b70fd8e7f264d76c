import numpy as np
import pytest
import torch

from labelwise import UnsupportedModelError
from labelwise.kernels import kmeans_plusplus
from labelwise.models import TorchClassifier, mlp
from labelwise.models.registry import make_model
from labelwise.strategies import get_strategy
from labelwise.strategies.noise import lhd_features
from labelwise.testing import MockModel, make_pool


def test_lhd_features_match_definition():
    rng = np.random.default_rng(0)
    h1, h2 = rng.normal(size=(5, 3)), rng.normal(size=(5, 3))
    p1, p2 = rng.dirichlet(np.ones(4), 5), rng.dirichlet(np.ones(4), 5)
    out = lhd_features(h1, h2, p1, p2)
    for i in range(5):
        y = np.argmax(p2[i])
        dl = abs(-np.log(p2[i, y]) + np.log(p1[i, y]))
        assert np.allclose(out[i], dl * (h2[i] - h1[i]), rtol=1e-5)


def test_lhd_is_kmeanspp_on_lh():
    model = MockModel()
    X, state = make_pool()
    pool = state.unlabeled_indices()
    lh = lhd_features(*model.ema_outputs(X[pool]))
    ref = pool[kmeans_plusplus(lh, 6, rng=np.random.default_rng(3))]
    sel = get_strategy("lhd").select(model, X, state, 6, rng=np.random.default_rng(3))
    assert sel.indices.tolist() == ref.tolist()


def _blobs(n=150, seed=0):
    rng = np.random.default_rng(seed)
    y = rng.integers(3, size=n)
    return (np.eye(3)[y] * 3 + rng.normal(size=(n, 3))).astype(np.float32), y


def test_ema_update_rule_and_capture():
    x, y = _blobs()
    clf = TorchClassifier(
        mlp, max_epochs=3, batch_size=50, ema_alpha=0.9, stop_at_train_accuracy=None
    )
    clf.fit(x, y, n_classes=3, rng=0)
    assert clf.ema_step_ == 3 * 3  # never reset: 3 epochs x 3 steps
    assert clf.captured_ is not None and clf.capture_epoch_ == 3  # last epoch
    h_main, h_ema, _, p_ema = clf.ema_outputs(x)
    assert h_main.shape == h_ema.shape == (150, 128) and p_ema.shape == (150, 3)
    assert not np.allclose(h_main, h_ema)
    clf.fit(x, y, n_classes=3, rng=0)
    assert clf.ema_step_ == 18


def test_ema_is_the_average_of_iterates():
    """With alpha=0.5 and one step per epoch, the EMA equals the rule applied by hand."""
    x, y = _blobs(n=20)
    snapshots = []

    class Recorder(TorchClassifier):
        def _ema_update(self, ema, net):
            snapshots.append([p.detach().clone() for p in net.parameters()])
            super()._ema_update(ema, net)

    clf = Recorder(
        mlp, max_epochs=4, batch_size=20, ema_alpha=0.5, stop_at_train_accuracy=None
    )
    clf.fit(x, y, n_classes=3, rng=1)
    expected = [p.clone() for p in snapshots[0]]  # t=0: alpha_0 = 0 -> copy
    for t, snap in enumerate(snapshots[1:], start=1):
        a = min(1 - 1 / (t + 1), 0.5)
        expected = [a * e + (1 - a) * s for e, s in zip(expected, snap, strict=True)]
    _, ema = clf.captured_
    for e, p in zip(expected, ema.parameters(), strict=True):
        assert torch.allclose(e, p, atol=1e-6)


def test_capability_and_registry():
    X, state = make_pool()
    plain = make_model("mlp", epochs=2)
    with pytest.raises(UnsupportedModelError, match="ema_alpha"):
        get_strategy("lhd").check_model(plain)
    model = make_model("mlp", epochs=5, ema=0.99)
    get_strategy("lhd").check_model(model)
    y = np.arange(len(X)) % 3
    model.fit(
        X[state.labeled_indices()], y[state.labeled_indices()], n_classes=3, rng=0
    )
    sel = get_strategy("lhd").select(model, X, state, 5, rng=0)
    assert sel.indices.size == 5 and not state.labeled_mask[sel.indices].any()


def test_lhd_device_path_picks_as_host_path(device, monkeypatch):
    """A model on a GPU gives LHD its four outputs as device tensors; the picks
    are those of the NumPy path (on the CPU the device path is forced)."""
    import labelwise.strategies.noise as noise
    from labelwise.models import EMAPairTensors

    x, y = _blobs(n=200, seed=1)
    clf = TorchClassifier(
        mlp, max_epochs=4, batch_size=50, ema_alpha=0.9, stop_at_train_accuracy=None
    )
    clf.fit(x[:40], y[:40], n_classes=3, rng=0)
    _, state = make_pool(n_samples=200, n_classes=3, n_labeled=12)
    ref = get_strategy("lhd").select(clf, x, state, 7, rng=2)
    clf.to(device)
    assert isinstance(clf, EMAPairTensors)
    outs = clf.ema_tensor_outputs(x[:30])
    host = clf.ema_outputs(x[:30])
    for t, a in zip(outs, host, strict=True):
        assert t.device.type == device and np.allclose(t.cpu().numpy(), a, atol=1e-5)
    assert torch.allclose(
        lhd_features(*outs).cpu(), torch.as_tensor(lhd_features(*host)), atol=1e-5
    )
    if device == "cpu":
        monkeypatch.setattr(noise, "ema_on_device", lambda model: True)

    def host_outputs(X):
        raise AssertionError("the device path must not ask for host outputs")

    monkeypatch.setattr(clf, "ema_outputs", host_outputs)
    got = get_strategy("lhd").select(clf, x, state, 7, rng=2)
    assert got.indices.tolist() == ref.indices.tolist()
