import os

import numpy as np
import pytest
import torch

torch.set_num_threads(1)


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
