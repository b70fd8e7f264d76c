import os

import numpy as np
import pandas as pd
import pytest
import torch

from labelwise.app import init_project

torch.set_num_threads(1)


def pytest_collection_modifyitems(config, items):
    """Skip tests marked ``gpu`` where torch sees no CUDA device."""
    if torch.cuda.is_available():
        return
    skip = pytest.mark.skip(reason="needs CUDA; torch sees no CUDA device here")
    for item in items:
        if "gpu" in item.keywords:
            item.add_marker(skip)


@pytest.fixture(params=["cpu", pytest.param("cuda", marks=pytest.mark.gpu)])
def device(request):
    """Each device test runs on the CPU and, where CUDA exists, on the GPU."""
    return request.param


@pytest.fixture
def rng():
    return np.random.default_rng(12345)


@pytest.fixture(autouse=True)
def _isolated_cache(tmp_path_factory, monkeypatch):
    """Keep dataset tests from touching the user's cache unless they opt in."""
    if "LABELWISE_TEST_DATA" in os.environ:
        monkeypatch.setenv("LABELWISE_DATA", os.environ["LABELWISE_TEST_DATA"])
    else:
        monkeypatch.setenv(
            "LABELWISE_DATA", str(tmp_path_factory.getbasetemp() / "data")
        )


# ------------------------------------------------ labeling app (tests/app)
def write_blobs(path, n=200, seed=0, with_label=False):
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 2, size=n)
    x = rng.normal(size=(n, 2)) + 3.0 * y[:, None]
    df = pd.DataFrame(
        {"a": x[:, 0], "b": x[:, 1], "name": [f"row{i}" for i in range(n)]}
    )
    if with_label:
        df["label"] = np.where(y == 1, "pos", "neg")
    df.to_csv(path, index=False)
    return np.where(y == 1, "pos", "neg")


@pytest.fixture
def blobs_writer():
    """The table writer, for tests that build their own project."""
    return write_blobs


@pytest.fixture
def blobs_project(tmp_path):
    """(folder, true labels) of a fresh project on a 200-row table."""
    truth = write_blobs(tmp_path / "pool.csv")
    write_blobs(tmp_path / "holdout.csv", n=100, seed=1, with_label=True)
    folder = tmp_path / "proj"
    init_project(
        folder,
        table=tmp_path / "pool.csv",
        classes=["neg", "pos"],
        model="logreg",
        strategy="entropy",
        batch_size=5,
        budget=20,
        holdout=tmp_path / "holdout.csv",
    )
    return folder, truth
