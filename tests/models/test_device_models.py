"""Torch models on a device: TensorOutputs, precision, pickling, class weights."""

import copy
import functools
import pickle

import numpy as np
import pytest
import torch
from torch import nn

from labelwise import InvalidParameterError
from labelwise.loop import ActiveLearner
from labelwise.models import (
    FineTune,
    ImageAugment,
    TorchClassifier,
    TorchRegressor,
    cnn,
    mlp,
)
from labelwise.models.base import TensorOutputs
from labelwise.models.registry import available_models, check_model_params, make_model
from labelwise.models.resnet import resnet18
from labelwise.pool import LabelState
from labelwise.strategies import RandomSampling


def _blobs(n=90, seed=0):
    rng = np.random.default_rng(seed)
    y = rng.integers(3, size=n)
    x = (np.eye(3)[y] * 3 + rng.normal(size=(n, 3))).astype(np.float32)
    return x, y


def _fitted(device, **kw):
    x, y = _blobs()
    clf = TorchClassifier(
        functools.partial(mlp, dropout=0.3), max_epochs=4, device=device, **kw
    )
    return clf.fit(x, y, n_classes=3, rng=0), x, y


def _state_devices(clf):
    return {t.device.type for net in clf._networks() for t in net.state_dict().values()}


def test_tensor_outputs_equal_the_numpy_methods(device):
    clf, x, _ = _fitted(device, n_members=2, predict_batch_size=16)
    assert isinstance(clf, TensorOutputs)
    assert clf.device.type == device
    for what, ref in [
        ("proba", clf.predict_proba(x)),
        ("embed", clf.embed(x)),
        ("proba_members", clf.predict_proba_members(x)),
    ]:
        t = clf.tensor_outputs(x, what)
        assert t.device.type == device and t.dtype == torch.float32
        np.testing.assert_allclose(t.cpu().numpy(), ref, rtol=1e-6, atol=1e-7)
    t = clf.tensor_outputs(torch.as_tensor(x), "proba_samples", n_samples=3, rng=5)
    ref = clf.predict_proba_samples(x, 3, rng=5)
    assert t.shape == (3, 90, 3) and t.device.type == device
    np.testing.assert_allclose(t.cpu().numpy(), ref, rtol=1e-6, atol=1e-7)
    assert t.std(0).max() > 1e-3  # dropout really sampled


def test_tensor_outputs_errors():
    clf, x, _ = _fitted("cpu")
    with pytest.raises(InvalidParameterError, match="needs n_samples"):
        clf.tensor_outputs(x, "proba_samples")
    with pytest.raises(InvalidParameterError, match="what must be"):
        clf.tensor_outputs(x, "logits")  # type: ignore[arg-type]
    with pytest.raises(InvalidParameterError, match="shape"):
        clf.tensor_outputs(torch.zeros(3), "proba")


def test_placement_arguments_are_validated():
    with pytest.raises(InvalidParameterError, match="device must be one of"):
        TorchClassifier(device="tpu")
    with pytest.raises(InvalidParameterError, match="precision must be"):
        TorchClassifier(device="cpu", precision="fp16")
    with pytest.raises(InvalidParameterError, match="needs a CUDA device"):
        TorchClassifier(device="cpu", precision="bf16")
    with pytest.raises(InvalidParameterError, match="device_budget_mb"):
        TorchClassifier(device="cpu", device_budget_mb=-1)
    with pytest.raises(InvalidParameterError, match="optimizer must be"):
        TorchClassifier(optimizer="rmsprop")
    with pytest.raises(InvalidParameterError, match="lr_schedule must be"):
        TorchClassifier(lr_schedule="step")


def test_pickled_model_holds_cpu_state_and_predicts_the_same(device):
    clf, x, y = _fitted(device, ema_alpha=0.9)
    clf.finetune(x, y, x, config=FineTune(min_size=1, max_epochs=1), rng=0)
    loaded = pickle.loads(pickle.dumps(clf))
    assert _state_devices(loaded) == {"cpu"}
    assert loaded.device == torch.device("cpu")
    assert _state_devices(clf) == {device}  # the live model did not move
    twin = copy.deepcopy(clf)  # a deep copy stays where the model is
    assert twin.device == clf.device and _state_devices(twin) == {device}
    np.testing.assert_array_equal(twin.predict_proba(x), clf.predict_proba(x))
    np.testing.assert_allclose(
        loaded.predict_proba(x), clf.predict_proba(x), rtol=1e-4, atol=1e-5
    )
    h, h_ema, p, p_ema = loaded.ema_outputs(x)
    assert h.shape == h_ema.shape == (90, 128) and p.shape == p_ema.shape


def test_cpu_and_auto_default():
    clf = TorchClassifier()
    assert clf.device.type == ("cuda" if torch.cuda.is_available() else "cpu")


def _one_step_reference(x, y, cw, seed):
    """One full-batch SGD step on nn.CrossEntropyLoss(weight=cw), by hand."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        net = mlp((3,), 3)
    opt = torch.optim.SGD(net.parameters(), lr=0.5)
    loss = nn.CrossEntropyLoss(weight=torch.as_tensor(cw, dtype=torch.float32))(
        net(torch.as_tensor(x)), torch.as_tensor(y)
    )
    loss.backward()
    opt.step()
    return net


def test_sample_weight_is_weighted_cross_entropy():
    x, y = _blobs(30)
    cw = np.array([1.0, 4.0, 0.5])
    clf = TorchClassifier(
        mlp,
        optimizer="sgd",
        momentum=0.0,
        lr=0.5,
        batch_size=64,
        max_epochs=1,
        stop_at_train_accuracy=None,
        device="cpu",
    )
    seed = int(np.random.default_rng(7).integers(0, 2**63 - 1))
    clf.fit(x, y, n_classes=3, rng=7, sample_weight=cw[y])
    ref = _one_step_reference(x, y, cw, seed)
    for a, b in zip(clf.members_[0].parameters(), ref.parameters(), strict=True):
        torch.testing.assert_close(a, b, rtol=1e-5, atol=1e-6)
    unweighted = copy.deepcopy(clf).fit(x, y, n_classes=3, rng=7)
    assert not torch.allclose(
        unweighted.members_[0].head.weight, clf.members_[0].head.weight
    )


def test_sample_weight_errors():
    x, y = _blobs(30)
    clf = TorchClassifier(mlp, max_epochs=1, device="cpu")
    with pytest.raises(InvalidParameterError, match=r"shape \(30,\)"):
        clf.fit(x, y, n_classes=3, sample_weight=np.ones(3))
    with pytest.raises(InvalidParameterError, match=">= 0"):
        clf.fit(x, y, n_classes=3, sample_weight=-np.ones(30))


def test_class_weights_reach_fit_and_finetune():
    x, y = _blobs(60)
    seen = {}

    class Spy(TorchClassifier):
        def fit(self, X, y, *, n_classes, rng=None, sample_weight=None):
            seen["fit"] = sample_weight
            return super().fit(
                X, y, n_classes=n_classes, rng=rng, sample_weight=sample_weight
            )

        def finetune(self, *args, class_weights=None, **kw):
            seen["finetune"] = class_weights
            return super().finetune(*args, class_weights=class_weights, **kw)

    cw = np.array([1.0, 2.0, 3.0])
    learner = ActiveLearner(
        Spy(mlp, max_epochs=2, device="cpu"),
        RandomSampling(),
        x,
        state=LabelState(60, classes=[0, 1, 2]),
        class_weights=cw,
        finetune=FineTune(min_size=1, max_epochs=1),
    )
    learner.teach(np.arange(12), y[:12])
    learner.fit()
    np.testing.assert_array_equal(seen["fit"], cw[y[:12]])
    np.testing.assert_array_equal(seen["finetune"], cw)
    assert learner.last_finetune is not None and not learner.last_finetune.skipped


def test_sgd_cosine_and_training_augmentation_fit():
    x, y = _blobs(120)
    clf = TorchClassifier(
        mlp,
        optimizer="sgd",
        lr=0.1,
        lr_schedule="cosine",
        augment=True,
        max_epochs=30,
        device="cpu",
    )
    clf.fit(x, y, n_classes=3, rng=0)
    assert (clf.predict_proba(x).argmax(1) == y).mean() > 0.9


# ------------------------------------------------------------ GPU only
@pytest.mark.gpu
def test_cuda_training_matches_cpu_closely():
    # Without dropout: its masks come from the device's own generator, so a CUDA
    # run draws other masks than a CPU run with the same seed (seen on an H200:
    # this test with dropout=0.3 failed). Weights, data order and batches agree.
    x, y = _blobs()
    fits = [
        TorchClassifier(mlp, max_epochs=4, device=d).fit(x, y, n_classes=3, rng=0)
        for d in ("cpu", "cuda")
    ]
    np.testing.assert_allclose(
        fits[1].predict_proba(x), fits[0].predict_proba(x), atol=1e-3
    )


@pytest.mark.gpu
def test_cuda_budget_streams_the_same_training():
    a, x, _ = _fitted("cuda", device_budget_mb=0)
    b, _, _ = _fitted("cuda")
    np.testing.assert_allclose(a.predict_proba(x), b.predict_proba(x), atol=1e-5)


@pytest.mark.gpu
def test_cuda_bf16_outputs_float32_and_learns():
    x, y = _blobs(300)
    clf = TorchClassifier(mlp, max_epochs=50, device="cuda", precision="bf16")
    clf.fit(x, y, n_classes=3, rng=0)
    p = clf.tensor_outputs(x, "proba")
    assert p.dtype == torch.float32 and p.device.type == "cuda"
    assert (p.argmax(1).cpu().numpy() == y).mean() > 0.9


@pytest.mark.gpu
def test_cuda_pickle_loads_on_cpu_and_moves_back():
    clf, x, _ = _fitted("cuda")
    blob = pickle.dumps(clf)
    loaded = pickle.loads(blob)
    assert _state_devices(loaded) == {"cpu"}
    np.testing.assert_allclose(loaded.predict_proba(x), clf.predict_proba(x), atol=1e-5)
    loaded.to("cuda")
    assert _state_devices(loaded) == {"cuda"}
    assert loaded.tensor_outputs(x, "embed").device.type == "cuda"


@pytest.mark.gpu
def test_image_augment_on_cuda_draws_what_the_cpu_draws(monkeypatch):
    # sharpness is a convolution: no TF32 (cuDNN's default on Ampere and later)
    monkeypatch.setattr(torch.backends.cudnn, "allow_tf32", False)
    x = torch.rand(16, 3, 32, 32)
    aug = ImageAugment(low=0.0, high=1.0)
    cpu = aug(x, torch.Generator().manual_seed(3))
    gpu = aug(x.cuda(), torch.Generator().manual_seed(3))
    assert gpu.device.type == "cuda"
    torch.testing.assert_close(gpu.cpu(), cpu, atol=1e-4, rtol=1e-4)


# ------------------------------------------------------------ resnet18
@pytest.mark.parametrize("shape", [(1, 28, 28), (3, 28, 28), (1, 32, 32), (3, 32, 32)])
def test_resnet18_shapes_and_stages(shape):
    net = resnet18(shape, 7).eval()
    taps = {}
    names = [f"layer{i}" for i in range(1, 5)]
    for name in names:
        getattr(net.features, name).register_forward_hook(
            lambda m, a, out, name=name: taps.__setitem__(name, out.shape)
        )
    x = torch.zeros(2, *shape)
    assert net.features(x).shape == (2, 512)
    assert net(x).shape == (2, 7) and net.head.in_features == 512
    side = shape[1]
    expected = [side, (side + 1) // 2, (side + 3) // 4, (side + 7) // 8]
    for name, width, s in zip(names, (64, 128, 256, 512), expected, strict=True):
        assert taps[name] == (2, width, s, s)
    stem = net.features.stem[0]
    assert stem.kernel_size == (3, 3) and stem.stride == (1, 1)
    assert not any(isinstance(m, nn.MaxPool2d) for m in net.modules())
    n_params = sum(p.numel() for p in net.parameters())
    assert 11.1e6 < n_params < 11.3e6


def test_resnet18_refuses_non_images():
    with pytest.raises(InvalidParameterError, match="resnet18 expects images"):
        resnet18((784,), 10)
    with pytest.raises(InvalidParameterError, match="dropout"):
        resnet18((1, 28, 28), 10, dropout=1.5)


def test_resnet18_tiny_fit_from_the_registry():
    rng = np.random.default_rng(0)
    y = np.arange(24) % 2
    x = rng.normal(size=(24, 1, 28, 28)).astype(np.float32)
    x[y == 1, :, :14] += 2.0  # class 1: a bright top half
    clf = make_model("resnet18", device="cpu", epochs=4, batch=12)
    assert clf.optimizer == "adam" and clf.batch_size == 12
    clf.fit(x, y, n_classes=2, rng=0)
    p = clf.predict_proba(x)
    assert p.shape == (24, 2) and np.allclose(p.sum(1), 1, atol=1e-5)
    assert clf.embed(x).shape == (24, 512)
    assert (p.argmax(1) == y).mean() > 0.75


def test_resnet18_registry_params():
    assert "resnet18" in available_models()
    assert check_model_params("resnet18", {"augment": True})["augment"] is True
    with pytest.raises(InvalidParameterError, match="true or false"):
        check_model_params("resnet18", {"augment": 1})
    with pytest.raises(InvalidParameterError, match="Unknown parameter 'hidden'"):
        check_model_params("resnet18", {"hidden": 64})
    with pytest.raises(InvalidParameterError, match="optimizer must be"):
        make_model("resnet18", device="cpu", optimizer="lbfgs")
    drop = make_model("resnet18", device="cpu", dropout=0.2, members=2)
    assert drop.has_capability("MCDropoutSampler") and drop.n_members == 2


# ------------------------------------------------------------ regressor
def test_regressor_pickles_to_cpu_and_validates_placement(device):
    rng = np.random.default_rng(0)
    x = rng.normal(size=(64, 3)).astype(np.float32)
    reg = TorchRegressor(max_epochs=3, device=device).fit(x, x[:, 0], rng=0)
    assert reg.device.type == device
    loaded = pickle.loads(pickle.dumps(reg))
    twin = copy.deepcopy(reg)
    assert twin.device == reg.device
    assert {t.device.type for t in twin.members_[0].state_dict().values()} == {device}
    assert {t.device.type for t in loaded.members_[0].state_dict().values()} == {"cpu"}
    np.testing.assert_allclose(loaded.predict(x), reg.predict(x), atol=1e-5)
    np.testing.assert_allclose(
        loaded.grad_features(x, sketch_dim=8, rng=1),
        reg.grad_features(x, sketch_dim=8, rng=1),
        atol=1e-4,
    )
    with pytest.raises(InvalidParameterError, match="needs a CUDA device"):
        TorchRegressor(device="cpu", precision="bf16")


@pytest.mark.gpu
def test_regressor_on_cuda_matches_cpu_features():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(64, 3)).astype(np.float32)
    reg = TorchRegressor(max_epochs=3, device="cuda").fit(x, x[:, 0], rng=0)
    gpu = (
        reg.predict(x),
        reg.grad_features(x[:8]),
        reg.grad_features(x, sketch_dim=8, rng=1),
    )
    reg.to("cpu")
    cpu = (
        reg.predict(x),
        reg.grad_features(x[:8]),
        reg.grad_features(x, sketch_dim=8, rng=1),
    )
    for g, c in zip(gpu, cpu, strict=True):
        np.testing.assert_allclose(g, c, rtol=1e-4, atol=1e-5)
    streamed = TorchRegressor(max_epochs=3, device="cuda", device_budget_mb=0)
    streamed.fit(x, x[:, 0], rng=0, X_valid=x[:16], y_valid=x[:16, 0])
    assert streamed.best_epochs_[0] >= 1 and np.isfinite(streamed.predict(x)).all()


@pytest.mark.gpu
def test_cuda_finetune_with_image_augmentation_and_ema():
    rng = np.random.default_rng(0)
    y = rng.integers(2, size=64)
    x = rng.normal(size=(64, 1, 28, 28)).astype(np.float32)
    x[y == 1, :, :14] += 2.0
    clf = TorchClassifier(
        functools.partial(cnn, dropout=0.2), max_epochs=3, ema_alpha=0.9, device="cuda"
    )
    clf.fit(x, y, n_classes=2, rng=0)
    res = clf.finetune(x, y, x, config=FineTune(min_size=1, max_epochs=2), rng=1)
    assert not res.skipped and res.epochs >= 1
    assert _state_devices(clf) == {"cuda"}
    h, h_ema, _, p_ema = clf.ema_outputs(x)
    assert h.shape == h_ema.shape == (64, 128) and np.isfinite(p_ema).all()


@pytest.mark.gpu
def test_cuda_weighted_step_matches_the_cpu_reference():
    x, y = _blobs(30)
    cw = np.array([1.0, 4.0, 0.5])
    kw = dict(optimizer="sgd", momentum=0.0, lr=0.5, batch_size=64, max_epochs=1)
    kw.update(stop_at_train_accuracy=None)
    cpu = TorchClassifier(mlp, device="cpu", **kw)
    gpu = TorchClassifier(mlp, device="cuda", **kw)
    for clf in (cpu, gpu):
        clf.fit(x, y, n_classes=3, rng=7, sample_weight=cw[y])
    for a, b in zip(
        gpu.members_[0].parameters(), cpu.members_[0].parameters(), strict=True
    ):
        torch.testing.assert_close(a.cpu(), b, rtol=1e-4, atol=1e-5)


@pytest.mark.gpu
def test_cuda_resnet18_bf16_fits():
    rng = np.random.default_rng(0)
    y = np.arange(256) % 2
    x = rng.normal(size=(256, 3, 32, 32)).astype(np.float32)
    x[y == 1, :, :16] += 2.0
    clf = make_model("resnet18", device="cuda", precision="bf16", epochs=10, batch=64)
    clf.fit(x, y, n_classes=2, rng=0)
    emb = clf.tensor_outputs(x, "embed")
    assert emb.shape == (256, 512) and emb.dtype == torch.float32
    assert (clf.predict_proba(x).argmax(1) == y).mean() > 0.9


def test_regressor_grad_feature_tensor_equals_grad_features(device):
    rng = np.random.default_rng(1)
    x = rng.normal(size=(40, 3)).astype(np.float32)
    reg = TorchRegressor(max_epochs=2, n_members=2, device=device)
    reg.fit(x, x[:, 1], rng=0)
    for kw in ({"sketch_dim": 8, "rng": 3}, {"last_layers": 1}):
        t = reg.grad_feature_tensor(x, **kw)
        assert t.device.type == device
        np.testing.assert_array_equal(t.cpu().numpy(), reg.grad_features(x, **kw))


def test_resnet18_refuses_images_whose_last_stage_map_is_one_pixel():
    # 8 x 8 images shrink to 1 x 1 in layer4: batch norm cannot train on a
    # minibatch of one image (a ValueError deep inside torch before)
    with pytest.raises(InvalidParameterError, match=r"H x W > 64"):
        resnet18((3, 8, 8), 2)


@pytest.mark.parametrize("shape", [(1, 8, 9), (1, 9, 9)])
def test_resnet18_trains_on_one_small_image(shape):
    X = np.random.default_rng(0).normal(size=(1, *shape)).astype(np.float32)
    clf = TorchClassifier(resnet18, max_epochs=1, device="cpu")
    proba = clf.fit(X, np.array([1]), n_classes=2, rng=0).predict_proba(X)
    assert proba.shape == (1, 2)
