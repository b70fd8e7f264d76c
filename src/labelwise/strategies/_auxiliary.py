"""Shared plumbing of the strategies that train auxiliary networks.

The candidate subset (a seeded uniform draw of the unlabeled pool, as in Yoo &
Kweon 2019 §4.1 and the Sequential-GCN code), the device the auxiliary networks
run on, seeded torch randomness, and the task model's embeddings as a tensor.
"""

from __future__ import annotations

import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import numpy as np
import torch

from labelwise._device import resolve_device
from labelwise._typing import IndexArray
from labelwise.exceptions import FallbackWarning, InvalidParameterError
from labelwise.models.base import TensorOutputs
from labelwise.strategies.base import Selection


def check_subset(subset: Any) -> None:
    """Raise unless ``subset`` is a positive int or ``None`` (the whole pool)."""
    if subset is not None and (
        isinstance(subset, bool) or not isinstance(subset, int) or subset < 1
    ):
        raise InvalidParameterError(
            f"subset must be a positive int or None (the whole pool); got {subset!r}. "
            "From the CLI or a grid, which have no None, a subset at least as "
            "large as the pool scores the whole pool."
        )


def check_device(device: Any) -> None:
    """Raise unless ``device`` is ``None`` (the model's device) or resolvable."""
    if device is not None:
        resolve_device(device)


def candidate_subset(
    unlabeled: IndexArray,
    subset: int | None,
    rng: np.random.Generator,
    batch_size: int,
) -> IndexArray:
    """``subset`` items of ``unlabeled`` drawn uniformly without replacement, sorted.

    A subset smaller than the batch grows to ``batch_size`` items, so that the
    batch can be filled from the candidates.

    Args:
        unlabeled: Absolute indices ``(n_u,)``.
        subset: Number to draw; ``None`` or ``>= n_u`` keeps them all.
        rng: Generator of the draw.
        batch_size: Items the strategy will pick from the candidates
            (``<= n_u``).

    Returns:
        Absolute indices ``(min(max(subset, batch_size), n_u),)``, ascending.
    """
    size = unlabeled.size if subset is None else max(subset, batch_size)
    if size >= unlabeled.size:
        return unlabeled
    return np.sort(rng.choice(unlabeled, size=size, replace=False)).astype(np.int64)


def strategy_device(model: Any, device: Any) -> torch.device:
    """``device`` if given, else the model's (a ``TensorOutputs``), else the CPU."""
    if device is not None:
        return resolve_device(device)
    if isinstance(model, TensorOutputs):
        return torch.device(model.device)
    return torch.device("cpu")


@contextmanager
def seeded_torch(seed: int, device: torch.device) -> Iterator[None]:
    """Run the block with torch's global generators seeded, then restore them."""
    devices = [device.index or 0] if device.type == "cuda" else []
    with torch.random.fork_rng(devices=devices):
        torch.manual_seed(seed)
        yield


def embeddings(model: Any, X: np.ndarray, device: torch.device) -> torch.Tensor:
    """The task model's embeddings of ``X`` as float32 ``(n, d)`` on ``device``."""
    if isinstance(model, TensorOutputs):
        out = model.tensor_outputs(X, "embed")
    else:
        out = torch.as_tensor(np.asarray(model.embed(X), dtype=np.float32))
    return out.to(device=device, dtype=torch.float32)


def loss_trace(losses: list[float], n_points: int = 20) -> list[float]:
    """``losses`` averaged over up to ``n_points`` equal consecutive chunks."""
    if not losses:
        return []
    chunks = np.array_split(
        np.asarray(losses, dtype=np.float64), min(n_points, len(losses))
    )
    return [float(c.mean()) for c in chunks]


def random_fallback(
    candidates: np.ndarray, batch_size: int, rng: np.random.Generator, name: str
) -> Selection:
    """Warn and draw ``batch_size`` of ``candidates`` uniformly (no labels yet)."""
    warnings.warn(
        f"{name} needs labeled items and none are labeled yet; the batch is a "
        "uniform random draw.",
        FallbackWarning,
        stacklevel=4,
    )
    idx = np.sort(rng.choice(candidates, size=batch_size, replace=False))
    return Selection(indices=idx.astype(np.int64), info={"fallback": "random"})
