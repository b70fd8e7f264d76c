"""Where the torch models' tensors live: device, precision and chunked transfers.

Shared by `TorchClassifier` and
`TorchRegressor`. On the CPU every helper here is the
identity (no copy, no autocast), so the CPU path computes exactly what it did
before devices existed. On CUDA, inputs travel in chunks through pinned host
memory with non-blocking copies; a training set is copied to the GPU once when
it fits ``device_budget_mb`` and otherwise one mini-batch at a time.
"""

from __future__ import annotations

import contextlib
import copy
import warnings
from collections.abc import Iterator
from typing import Any

import numpy as np
import torch
from torch import nn

from labelwise._device import resolve_device
from labelwise._validation import check_features
from labelwise.exceptions import InvalidParameterError
from labelwise.kernels._inputs import nonfinite_rows

PRECISIONS = ("fp32", "bf16")
"""Valid ``precision=`` values."""


def check_placement(
    device: Any, precision: str, device_budget_mb: float
) -> torch.device:
    """Validate ``device``/``precision``/``device_budget_mb``; return the device.

    Raises:
        InvalidParameterError: For an unknown device or precision, ``"bf16"`` on
            the CPU (bfloat16 autocast is a GPU feature here; use ``"fp32"``), or
            a negative budget.
    """
    dev = resolve_device(device)
    if precision not in PRECISIONS:
        raise InvalidParameterError(
            f"precision must be 'fp32' or 'bf16'; got {precision!r}."
        )
    if precision == "bf16" and dev.type != "cuda":
        raise InvalidParameterError(
            f"precision='bf16' needs a CUDA device; device={device!r} resolved to "
            f"{dev}. Use precision='fp32' on the CPU."
        )
    if isinstance(device_budget_mb, bool) or not device_budget_mb >= 0:
        raise InvalidParameterError(
            f"device_budget_mb must be a number >= 0; got {device_budget_mb!r}."
        )
    return dev


def check_network_factory(network: Any, signature: str) -> None:
    """Refuse a network where a network factory belongs, or something not callable.

    Every ``fit`` builds fresh networks from the factory; a module instance
    passed instead died in its own ``forward`` (``forward() takes 2 positional
    arguments but 3 were given``).

    Args:
        network: What was passed as ``network``.
        signature: The factory's call, e.g. ``"(input_shape, n_classes)"``.

    Raises:
        InvalidParameterError: ``network`` is an ``nn.Module`` or not callable.
    """
    if isinstance(network, nn.Module):
        raise InvalidParameterError(
            f"network must be a factory {signature} -> module that builds a fresh "
            f"network for every fit; got a {type(network).__name__} instance. Pass "
            "the function or class that builds it (e.g. mlp, or functools.partial("
            "mlp, hidden=256), or a lambda that returns a new module)."
        )
    if not callable(network):
        raise InvalidParameterError(
            f"network must be a factory {signature} -> module (e.g. mlp); got "
            f"{network!r}. By name, use labelwise.models.make_model."
        )


def autocast(
    device: torch.device, precision: str
) -> contextlib.AbstractContextManager[Any]:
    """bfloat16 autocast on CUDA with ``precision="bf16"``, else a no-op context."""
    if device.type == "cuda" and precision == "bf16":
        return torch.autocast("cuda", dtype=torch.bfloat16)
    return contextlib.nullcontext()


def rng_devices(device: torch.device) -> list[int]:
    """Devices whose RNG ``torch.random.fork_rng`` must save (dropout on CUDA)."""
    return [device.index or 0] if device.type == "cuda" else []


def as_float_tensor(
    X: Any, *, name: str = "X", allow_padding: bool = False
) -> torch.Tensor:
    """``X`` as a float32 tensor ``(n, ...)``; a tensor keeps its device.

    Arrays are validated by ``check_features`` (finite, at least 2-D, non-empty;
    with ``allow_padding``, NaN-padded sequences pass) and wrapped without a
    copy when already float32, read-only ones too: the models never write to
    their inputs. Tensors must be finite too, unless ``allow_padding`` (their
    padding is not checked).
    """
    if isinstance(X, torch.Tensor):
        if X.ndim < 2 or X.shape[0] == 0:
            raise InvalidParameterError(
                f"{name} must have shape (n_samples, n_features, ...) with n >= 1; "
                f"got shape {tuple(X.shape)}."
            )
        if not (X.is_floating_point() or X.dtype in (torch.int32, torch.int64)):
            raise InvalidParameterError(
                f"{name} must be a numeric tensor; got dtype {X.dtype}."
            )
        x = X.detach().to(torch.float32)
        if not allow_padding:
            check_finite_tensor(x, name=name)
        return x
    arr = check_features(X, name=name, ndim_min=2, allow_padding=allow_padding)
    if arr.flags.writeable:
        return torch.as_tensor(arr, dtype=torch.float32)
    with warnings.catch_warnings():
        # a read-only array (a memory-mapped .npy) is shared, not copied; torch
        # warns that writing to it is undefined, and nothing here writes to it
        warnings.filterwarnings(
            "ignore", "The given NumPy array is not writable", UserWarning
        )
        return torch.as_tensor(arr, dtype=torch.float32)


def check_finite_tensor(x: torch.Tensor, *, name: str = "X") -> None:
    """Refuse NaN or infinite values in a tensor (on any device), naming rows.

    A single NaN in a training set turns every weight into NaN, and every
    prediction after it, without an error. Scanned by
    `labelwise.kernels._inputs.nonfinite_rows` (chunks, one host sync).
    """
    bad = nonfinite_rows(x)
    if bad is None:
        return
    raise InvalidParameterError(
        f"{name} contains NaN or infinite values in {bad.numel()} row(s), first at "
        f"rows {bad[:5].tolist()}. Impute or drop them before active learning."
    )


def check_input_shape(
    x: torch.Tensor | np.ndarray,
    fitted: tuple[int, ...] | None,
    *,
    name: str = "X",
    sequences: bool = False,
) -> None:
    """Refuse inputs whose rows differ in shape from those the model was fitted on.

    A network fitted on 4 features would otherwise fail deep inside torch
    (``mat1 and mat2 shapes cannot be multiplied``).

    Args:
        x: Inputs ``(n, ...)``.
        fitted: The row shape seen by ``fit`` (``X.shape[1:]``); ``None`` (a
            model unpickled from an older version) skips the check.
        name: Name used in the message.
        sequences: Rows are sequences ``(T, ...)`` of any length ``T``; only
            the shape of one step must match.

    Raises:
        InvalidParameterError: The row shapes differ.
    """
    if fitted is None:
        return
    got = tuple(int(s) for s in x.shape[1:])
    steps = sequences and len(got) == len(fitted)  # compare one time step
    if (got[1:] == fitted[1:]) if steps else (got == fitted):
        return
    what = "time steps" if steps else "rows"
    shown = (got[1:], fitted[1:]) if steps else (got, fitted)
    raise InvalidParameterError(
        f"{name} has {what} of shape {shown[0]}, but the model was fitted on "
        f"{what} of shape {shown[1]}. Pass inputs with the same features (same "
        "columns in the same order, same image size) as in fit, or fit the "
        "model on these."
    )


def to_device(x: torch.Tensor, device: torch.device) -> torch.Tensor:
    """Copy ``x`` to ``device`` through pinned memory (non-blocking); no-op if there."""
    if x.device == device:
        return x
    if device.type == "cuda" and x.device.type == "cpu":
        return x.pin_memory().to(device, non_blocking=True)
    return x.to(device)


def input_chunks(
    x: torch.Tensor, chunk: int, device: torch.device
) -> Iterator[torch.Tensor]:
    """Chunks of ``chunk`` rows of ``x``, each moved to ``device`` when it is used."""
    for c in torch.split(x, chunk):
        yield to_device(c, device)


def stage(x: torch.Tensor, device: torch.device, budget_mb: float) -> torch.Tensor:
    """A training tensor on ``device`` if it fits ``budget_mb``, else on the host.

    The host copy is pinned for CUDA. Mini-batches are then taken with
    `batch`, which moves a host batch to the device.
    """
    if x.device == device:
        return x
    if x.element_size() * x.numel() <= budget_mb * 2**20:
        return to_device(x, device)
    return x.pin_memory() if device.type == "cuda" else x


def batch(x: torch.Tensor, idx: torch.Tensor, device: torch.device) -> torch.Tensor:
    """Rows ``idx`` of a staged tensor, on ``device``.

    ``idx`` may live on the CPU or on ``device``; pass it on ``device`` when
    ``x`` is there (a host index copied per batch would synchronise the GPU).
    """
    if x.device == device:
        return x[idx.to(device)]
    return to_device(x[idx.to(x.device)], device)


def epoch_order(
    n: int, gen: torch.Generator, x: torch.Tensor, device: torch.device
) -> torch.Tensor:
    """``torch.randperm(n, generator=gen)`` (CPU draws), moved to where ``x`` is.

    The same generator gives the same order on every device.
    """
    perm = torch.randperm(n, generator=gen)
    return perm if x.device == perm.device else perm.to(device, non_blocking=True)


def cpu_copy(module: nn.Module) -> nn.Module:
    """A copy of ``module`` with every parameter and buffer on the CPU."""
    on_cpu = all(t.device.type == "cpu" for t in module.state_dict().values())
    return module if on_cpu else copy.deepcopy(module).to("cpu")
