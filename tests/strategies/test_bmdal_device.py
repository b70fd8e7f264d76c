"""BMDAL strategies build a GPU model's gradient features on its device.

On the CPU the device path is forced (a model on the CPU takes the NumPy path),
so both paths are compared here; where CUDA exists the same test runs with the
model moved to the GPU and the real device decision.
"""

import functools

import numpy as np
import pytest

import labelwise.strategies.regression as regression
from labelwise.models import GradientFeatureTensors, TorchRegressor, bmdal_mlp
from labelwise.pool import LabelState
from labelwise.strategies import get_strategy


@pytest.mark.parametrize("name", ["lcmd", "maxdet"])
def test_device_features_pick_as_host_features(device, name, monkeypatch):
    rng = np.random.default_rng(0)
    X = rng.normal(size=(240, 4)).astype(np.float32)
    y = X[:, 0] + np.sin(X[:, 1])
    state = LabelState(240)
    state.teach(np.arange(20), y[:20], round=0)
    reg = TorchRegressor(functools.partial(bmdal_mlp, widths=(16, 16)), max_epochs=3)
    reg.fit(X[:20], y[:20], rng=0)
    ref = get_strategy(name).select(reg, X, state, 8, rng=3)

    reg.to(device)
    assert isinstance(reg, GradientFeatureTensors)
    if device == "cpu":
        monkeypatch.setattr(regression, "features_on_device", lambda model: True)

    def host_features(*args, **kwargs):
        raise AssertionError("the device path must not build host features")

    monkeypatch.setattr(reg, "grad_features", host_features)
    got = get_strategy(name).select(reg, X, state, 8, rng=3)
    assert got.indices.tolist() == ref.indices.tolist()


def test_cpu_models_build_host_features():
    reg = TorchRegressor(functools.partial(bmdal_mlp, widths=(4,)), max_epochs=1)
    assert not regression.features_on_device(reg)
    assert not regression.features_on_device(object())
