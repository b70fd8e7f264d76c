"""Strategies hand tensors to the kernels when the model lives on a GPU.

``TensorMockModel`` gives the same numbers as ``MockModel``, as float32 tensors
on its device. On the CPU the tensor path is forced (a model on the CPU takes
the NumPy path), so both paths are checked here; where CUDA exists the same
tests run on the GPU with the real device decision.
"""

import sys

import numpy as np
import pytest
import torch

import labelwise.strategies.base as base
from labelwise.models.base import TensorOutputs
from labelwise.strategies import get_strategy
from labelwise.testing import MockModel, TensorMockModel, make_pool

NAMES = [
    "entropy",
    "margin",
    "least-confidence",
    "bald",
    "variation-ratio",
    "coreset",
    "badge",
    "bait",
]


@pytest.fixture
def tensor_path(device, monkeypatch):
    if device == "cpu":
        # every module that imported the name (diversity does), not only base:
        # patching base alone left coreset and badge on the NumPy path here
        real = base.on_accelerator
        for mod in list(sys.modules.values()):
            if (
                getattr(mod, "__name__", "").startswith("labelwise.strategies")
                and getattr(mod, "on_accelerator", None) is real
            ):
                monkeypatch.setattr(
                    mod,
                    "on_accelerator",
                    lambda model: isinstance(model, TensorOutputs),
                )
    return device


@pytest.mark.parametrize("name", NAMES)
def test_tensor_path_picks_as_numpy_path(tensor_path, name):
    X, state = make_pool(n_samples=150, n_features=6, n_classes=4, n_labeled=12)
    kw = {"n_classes": 4, "n_embedding": 10}
    ref = get_strategy(name).select(MockModel(**kw), X, state, 7, rng=5)
    model = TensorMockModel(device=tensor_path, **kw)
    asked = []
    tensor_outputs = model.tensor_outputs

    def spy(X, what, **kwargs):
        asked.append(what)
        return tensor_outputs(X, what, **kwargs)

    model.tensor_outputs = spy
    got = get_strategy(name).select(model, X, state, 7, rng=5)
    assert asked, f"{name} did not take the tensor path"
    assert got.indices.dtype == np.int64
    if name in ("coreset", "badge", "bait"):
        assert got.indices.tolist() == ref.indices.tolist()
    else:  # top-k of float32 vs float64 scores: the same set
        assert sorted(got.indices.tolist()) == sorted(ref.indices.tolist())


def test_model_outputs_follow_the_device(tensor_path):
    X, _ = make_pool(n_samples=20)
    model = TensorMockModel(device=tensor_path)
    assert isinstance(model, TensorOutputs)
    out = base.model_outputs(model, X, "proba_samples", n_samples=3, rng=1)
    assert isinstance(out, torch.Tensor) and out.shape == (3, 20, 3)
    assert out.device.type == torch.device(tensor_path).type
    ref = MockModel().predict_proba_samples(X, 3, rng=1)
    np.testing.assert_allclose(base.to_host(out), ref, rtol=1e-6)


def test_cpu_models_take_the_numpy_path():
    X, _ = make_pool(n_samples=20)
    for model in (MockModel(), TensorMockModel(device="cpu")):
        assert not base.on_accelerator(model)
        assert isinstance(base.model_outputs(model, X, "embed"), np.ndarray)
