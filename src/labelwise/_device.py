"""Where torch computations run: one parser for ``device=`` arguments.

Every model, kernel and command that takes ``device`` accepts the same spellings:
``"auto"`` (CUDA when available, else the CPU), ``"cpu"``, ``"cuda"``, ``"cuda:N"``
or a ``torch.device``.
"""

from __future__ import annotations

from typing import Any

import torch

from labelwise.exceptions import InvalidParameterError

DeviceLike = str | torch.device

DEVICE_SPELLINGS = "'auto', 'cpu', 'cuda' or 'cuda:N'"


def resolve_device(device: Any = "auto") -> torch.device:
    """Turn a ``device=`` argument into a ``torch.device`` that exists here.

    Args:
        device: ``"auto"`` (CUDA device 0 when CUDA is available, else the CPU),
            ``"cpu"``, ``"cuda"``, ``"cuda:N"`` or a ``torch.device``.
            Defaults to ``"auto"``.

    Returns:
        The device. ``"cuda"`` is returned with its index (``cuda:0``).

    Raises:
        InvalidParameterError: For an unknown spelling, or a CUDA device that this
            machine does not have (the message says which devices exist).

    Examples:
        >>> resolve_device("cpu")
        device(type='cpu')
    """
    if isinstance(device, str) and device == "auto":
        return torch.device("cuda:0" if torch.cuda.is_available() else "cpu")
    try:
        dev = device if isinstance(device, torch.device) else torch.device(device)
    except (RuntimeError, TypeError, ValueError):
        raise InvalidParameterError(
            f"device must be one of {DEVICE_SPELLINGS}; got {device!r}."
        ) from None
    if dev.type == "cpu":
        return torch.device("cpu")
    if dev.type != "cuda":
        raise InvalidParameterError(
            f"device must be one of {DEVICE_SPELLINGS}; got {device!r} "
            f"(type {dev.type!r} is not supported)."
        )
    if not torch.cuda.is_available():
        raise InvalidParameterError(
            f"device={device!r} asks for CUDA, but torch sees no CUDA device here "
            f"(torch {torch.__version__}). Use device='cpu' or device='auto'."
        )
    index = 0 if dev.index is None else dev.index
    count = torch.cuda.device_count()
    if not 0 <= index < count:
        raise InvalidParameterError(
            f"device={device!r}: this machine has {count} CUDA device(s), "
            f"cuda:0 to cuda:{count - 1}."
        )
    return torch.device("cuda", index)
