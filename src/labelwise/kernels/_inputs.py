"""Kernel inputs: numpy or torch arrays, validated where they live (private).

NumPy input takes exactly the path it always took (``check_features``, then
``torch.as_tensor`` without a copy); a torch tensor stays on its device and is
validated there with chunked torch reductions, so a CUDA embedding is never
copied to host memory to be checked.
"""

from __future__ import annotations

import math
from typing import Any

import torch

from labelwise._validation import check_features
from labelwise.exceptions import InvalidParameterError

CHECK_ELEMENTS = 1 << 24
"""Values per chunk of `nonfinite_rows` (a 16 MiB boolean mask)."""


def nonfinite_rows(t: torch.Tensor) -> torch.Tensor | None:
    """Host indices ``(m,)`` of the rows of ``t`` holding NaN or ±inf, else ``None``.

    Scans row chunks of about `CHECK_ELEMENTS` values on ``t``'s device (no
    boolean mask the size of ``t`` beside it) with one host synchronisation;
    only a tensor that fails is scanned again for its rows.
    """
    rows = t.reshape(t.shape[0], -1)
    step = max(1, CHECK_ELEMENTS // max(rows.shape[1], 1))
    ok = torch.ones((), dtype=torch.bool, device=t.device)
    for s in range(0, rows.shape[0], step):
        ok &= torch.isfinite(rows[s : s + step]).all()
    if bool(ok):
        return None
    return (~torch.isfinite(rows)).any(dim=1).nonzero()[:, 0].cpu()


def check_finite_tensor(t: torch.Tensor, name: str) -> None:
    """Raise unless every entry of ``t`` is finite (on ``t``'s device)."""
    if not t.is_floating_point():
        return
    bad = nonfinite_rows(t)
    if bad is not None:
        raise InvalidParameterError(
            f"{name} contains NaN or infinite values, first at row {int(bad[0])}. "
            "Impute or drop them before active learning."
        )


def as_float_tensor(
    x: Any, name: str, *, ndim: int = 2, dtype: torch.dtype | None = None
) -> torch.Tensor:
    """A finite float tensor of ``ndim`` dimensions, on the device of ``x``.

    Args:
        x: NumPy array, array-like or torch tensor.
        name: Name for error messages.
        ndim: Required number of dimensions.
        dtype: Target dtype; ``None`` keeps a float dtype and turns integers
            into float32.

    Returns:
        The tensor (no copy for a numpy or torch array of the target dtype).
    """
    if isinstance(x, torch.Tensor):
        t = x.detach()
        if t.is_complex() or t.dtype == torch.bool:
            raise InvalidParameterError(
                f"{name} must be a real numeric array; got dtype {t.dtype}."
            )
        if t.ndim < 1 or t.shape[0] == 0:
            raise InvalidParameterError(
                f"{name} is empty (shape {tuple(t.shape)}); pass at least one sample."
            )
        check_finite_tensor(t, name)
    else:
        t = torch.as_tensor(check_features(x, name=name, ndim_min=min(ndim, 2)))
    if t.ndim != ndim:
        shape = "(n_samples, n_features)" if ndim == 2 else f"{ndim} dimensions"
        raise InvalidParameterError(
            f"{name} must have shape {shape}; got {tuple(t.shape)}."
        )
    if dtype is not None:
        return t.to(dtype)
    return t if t.is_floating_point() else t.to(torch.float32)


SQUARE_COPIES = 3
"""p x p float64 matrices alive at once in a transform (the Gram matrix, its
Cholesky factor and a product or solve beside them)."""


def available_bytes(device: torch.device) -> float:
    """Memory free for new tensors on ``device``; ``inf`` when unknown.

    CUDA: ``torch.cuda.mem_get_info``'s free bytes plus the blocks PyTorch's
    caching allocator holds unused (reserved but not allocated: the driver
    counts them as used, yet new tensors reuse them). CPU: Linux's
    ``MemAvailable`` (``/proc/meminfo``); other systems are not checked.
    """
    if device.type == "cuda":
        free, _ = torch.cuda.mem_get_info(device)
        cached = torch.cuda.memory_reserved(device) - torch.cuda.memory_allocated(
            device
        )
        return float(free + max(cached, 0))
    if device.type != "cpu":
        return math.inf
    try:
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith("MemAvailable:"):
                    return float(line.split()[1]) * 1024
    except OSError:
        pass
    return math.inf


def check_square_width(width: int, what: str, device: torch.device) -> None:
    """Refuse features too wide for the ``width x width`` matrices of ``what``.

    Full-network gradient features are hundreds of thousands wide; a
    posterior or precision matrix over them would need hundreds of GB, and
    the allocation failed with a bare out-of-memory error (or, below the
    machine's memory but above what is free, woke the out-of-memory killer).
    Refused when `SQUARE_COPIES` such float64 matrices exceed the memory
    available on ``device`` (`available_bytes`).

    Raises:
        InvalidParameterError: Naming the matrix size, the memory available and
            the fix (a random projection first).
    """
    need = SQUARE_COPIES * width * width * 8
    free = available_bytes(device)
    if need > free:
        raise InvalidParameterError(
            f"{what} forms {width} x {width} float64 matrices "
            f"({width * width * 8 / 2**30:,.1f} GiB each, {SQUARE_COPIES} at once) on "
            f"features {width} wide; {device} has {free / 2**30:,.1f} GiB available. "
            "To fix: project the features first, e.g. transforms=[['rp', 512], ...] "
            "(BMDAL's sketch), or use last-layer features."
        )
