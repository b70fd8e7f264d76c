import pytest
import torch

from labelwise._device import resolve_device
from labelwise.exceptions import InvalidParameterError


def test_cpu_and_auto_resolve():
    assert resolve_device("cpu") == torch.device("cpu")
    expected = "cuda" if torch.cuda.is_available() else "cpu"
    assert resolve_device("auto").type == expected
    assert resolve_device(torch.device("cpu")).type == "cpu"


@pytest.mark.parametrize("bad", ["gpu", "tpu", 3.5, "cuda:x"])
def test_unknown_spelling_is_refused(bad):
    with pytest.raises(InvalidParameterError, match="device must be one of"):
        resolve_device(bad)


@pytest.mark.skipif(torch.cuda.is_available(), reason="checks the CPU-only message")
def test_cuda_without_cuda_says_so():
    with pytest.raises(InvalidParameterError, match="sees no CUDA device"):
        resolve_device("cuda")


@pytest.mark.gpu
def test_cuda_resolves_with_index():
    assert resolve_device("cuda") == torch.device("cuda", 0)
    with pytest.raises(InvalidParameterError, match="CUDA device"):
        resolve_device(f"cuda:{torch.cuda.device_count()}")
