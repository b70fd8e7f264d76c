"""The CUDA code paths on a CPU-only machine, through `virtual_cuda`.

Models on ``device="cuda"`` and the strategies that follow them take every
``device.type == "cuda"`` branch (pinned chunked transfers, channels-last
images, device-side picks, BAIT's device loop, the auxiliary networks of the
deep baselines) while the numbers stay the CPU's, so each must pick exactly
what the CPU path picks, and no op may mix devices. Where real CUDA exists the
``gpu``-marked tests cover this, and these are skipped (the harness replaces
``torch.cuda`` functions).
"""

import functools
import pickle

import numpy as np
import pytest
import torch

import labelwise.kernels._design as design
from labelwise.models import FineTune, TorchClassifier, TorchRegressor, cnn, mlp
from labelwise.models.regression import bmdal_mlp
from labelwise.pool import LabelState
from labelwise.strategies import get_strategy
from labelwise.testing import make_pool
from virtual_cuda import DeviceMixError, on_cuda, virtual_cuda

pytestmark = pytest.mark.skipif(
    torch.cuda.is_available(), reason="real CUDA here: the gpu tests cover this"
)


def test_the_harness_refuses_what_cuda_refuses():
    with virtual_cuda():
        a = torch.ones(4, 3).to("cuda")
        assert a.is_cuda and a.device == torch.device("cuda", 0)
        assert on_cuda(a + torch.zeros(4, 3, device=a.device))
        assert on_cuda(a[torch.arange(2)])  # a CPU index into a CUDA tensor is fine
        assert not on_cuda(a.cpu()) and a.cpu().numpy().shape == (4, 3)
        with pytest.raises(DeviceMixError, match="CPU tensors"):
            a + torch.ones(4, 3)
        with pytest.raises(DeviceMixError, match="numpy"):
            a.numpy()
        with pytest.raises(DeviceMixError, match="__array__"):
            np.asarray(a)
        with pytest.raises(DeviceMixError, match="generator"):
            torch.randperm(4, generator=torch.Generator(), device="cuda")
        with pytest.raises(DeviceMixError, match="CUDA index"):
            torch.ones(4)[torch.arange(2, device="cuda")]
        net = torch.nn.Linear(3, 2).to("cuda")
        assert all(p.is_cuda for p in net.parameters())
    assert not torch.cuda.is_available() and not a.is_cuda


def _image_pool():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(90, 1, 28, 28)).astype(np.float32)
    y = rng.integers(0, 3, 90)
    x[y == 1, :, :14] += 2.0
    return x, y


def _fit(device, budget_mb=1024.0):
    x, y = _image_pool()
    clf = TorchClassifier(
        cnn,
        max_epochs=2,
        batch_size=32,
        augment=True,
        ema_alpha=0.9,
        device=device,
        device_budget_mb=budget_mb,
    )
    clf.fit(x[:60], y[:60], n_classes=3, rng=0, sample_weight=np.ones(60))
    clf.finetune(
        x[:20],
        y[:20],
        x[60:],
        config=FineTune(threshold=0.0, min_size=1, max_epochs=1),
        rng=1,
        class_weights=np.ones(3),
    )
    return clf, x


@pytest.mark.parametrize("budget_mb", [1024.0, 0.0])
def test_image_training_and_outputs_on_cuda_are_the_cpu_ones(budget_mb):
    """Weighted training with augmentation and EMA, fine-tuning, every output,
    a pickle: on the CUDA path (channels-last, pinned chunks; the training set
    on the device, or with no budget streamed from pinned host memory by
    mini-batch), the CPU's numbers."""
    ref, x = _fit("cpu")
    with virtual_cuda():
        clf, _ = _fit("cuda", budget_mb)
        assert clf.device.type == "cuda"
        for what in ("proba", "embed", "proba_members"):
            t = clf.tensor_outputs(x, what)
            assert t.is_cuda and t.dtype == torch.float32
        h_main, h_ema, *_ = (t.cpu().numpy() for t in clf.ema_tensor_outputs(x))
        np.testing.assert_allclose(h_main, ref.ema_outputs(x)[0], atol=1e-5)
        np.testing.assert_allclose(h_ema, ref.ema_outputs(x)[1], atol=1e-5)
        proba = clf.predict_proba(x)
        loaded = pickle.loads(pickle.dumps(clf))
    np.testing.assert_allclose(proba, ref.predict_proba(x), atol=1e-5)
    np.testing.assert_allclose(loaded.predict_proba(x), proba, atol=1e-5)


SMALL = {
    "vaal": dict(epochs=1, max_iterations=3, width=8, disc_hidden=16, subset=60),
    "dal": dict(max_epochs=3, n_subqueries=2),
    "uncertain-gcn": dict(steps=3, subset=60),
    "core-gcn": dict(steps=3, subset=60),
    "lloss": dict(subset=60),
}
CLASSIFICATION = [
    "entropy",
    "bald",
    "coreset",
    "badge",
    "bait",
    "lhd",
    "kcenter",
    *SMALL,
]
REGRESSION = ["lcmd", "maxdet", "bait", "kmeanspp"]


def _classifier_pick(name, device):
    X, state = make_pool(n_samples=160, n_features=6, n_classes=4, n_labeled=20)
    clf = TorchClassifier(
        functools.partial(mlp, dropout=0.3), max_epochs=2, ema_alpha=0.9, device=device
    )
    clf.fit(X[state.labeled_indices()], state.labels(), n_classes=4, rng=0)
    return get_strategy(name, **SMALL.get(name, {})).select(clf, X, state, 5, rng=1)


def _regressor_pick(name, device):
    rng = np.random.default_rng(0)
    X = rng.normal(size=(160, 4)).astype(np.float32)
    y = X[:, 0] + np.sin(X[:, 1])
    state = LabelState(160)
    state.teach(np.arange(20), y[:20], round=0)
    reg = TorchRegressor(
        functools.partial(bmdal_mlp, widths=(16, 16)), max_epochs=2, device=device
    )
    reg.fit(X[:20], y[:20], rng=0)
    return get_strategy(name).select(reg, X, state, 5, rng=1)


@pytest.mark.parametrize(
    ("pick", "name"),
    [(_classifier_pick, n) for n in CLASSIFICATION]
    + [(_regressor_pick, n) for n in REGRESSION],
    ids=[*CLASSIFICATION, *REGRESSION],
)
def test_strategies_pick_on_cuda_as_on_the_cpu(pick, name):
    ref = pick(name, "cpu")
    with virtual_cuda():
        got = pick(name, "cuda")
    assert got.indices.tolist() == ref.indices.tolist()


@pytest.mark.parametrize("budget", [97, 4096])
def test_bait_device_loop_over_many_chunks(budget, monkeypatch):
    """BAIT's device loop takes GPU-sized chunks (2^25 entries), so tests never
    see more than one; a tiny budget splits every pass into many."""
    ref = _classifier_pick("bait", "cpu")
    monkeypatch.setattr(design, "_DEVICE_BUDGET", budget)
    with virtual_cuda():
        got = _classifier_pick("bait", "cuda")
    assert got.indices.tolist() == ref.indices.tolist()
