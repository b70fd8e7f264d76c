"""Strategies robust to heteroskedastic label noise.

References:
    Khosla, S., Whye, C. K., Ash, J. T., Zhang, C., Kawaguchi, K., Lamb, A. Neural
    Active Learning on Heteroskedastic Distributions (ECAI 2023).
"""

from __future__ import annotations

from typing import Any, overload

import numpy as np
import torch

from labelwise.kernels import kmeans_plusplus
from labelwise.models.base import EMAPair, EMAPairTensors
from labelwise.pool import LabelState
from labelwise.strategies._registry import register
from labelwise.strategies.base import Selection, Strategy


@overload
def lhd_features(
    h_main: torch.Tensor, h_ema: torch.Tensor, p_main: torch.Tensor, p_ema: torch.Tensor
) -> torch.Tensor: ...
@overload
def lhd_features(
    h_main: np.ndarray, h_ema: np.ndarray, p_main: np.ndarray, p_ema: np.ndarray
) -> np.ndarray: ...
def lhd_features(h_main: Any, h_ema: Any, p_main: Any, p_ema: Any) -> Any:
    """LHD's ``lh(x) = Δl(x) · Δh(x)``.

    ``Δh = h_EMA - h_main`` (penultimate representations) and ``Δl = |CE(p_EMA,
    ŷ) - CE(p_main, ŷ)|`` with the EMA's pseudo-label ``ŷ = argmax p_EMA``.

    Args:
        h_main: Main-network embeddings ``(n, d)``.
        h_ema: EMA-network embeddings ``(n, d)``.
        p_main: Main-network probabilities ``(n, k)``.
        p_ema: EMA-network probabilities ``(n, k)``.

    Returns:
        Float32 array of shape ``(n, d)``; tensors give a tensor on their device
        (the same arithmetic in torch).

    Examples:
        >>> p = np.array([[0.5, 0.5]])
        >>> lhd_features(np.zeros((1, 2)), np.ones((1, 2)), p, p).tolist()
        [[0.0, 0.0]]
    """
    eps = 1e-12
    if isinstance(p_ema, torch.Tensor):
        rows_t = torch.arange(p_ema.shape[0], device=p_ema.device)
        y_t = p_ema.argmax(1)
        dl = (
            -torch.log(p_ema[rows_t, y_t] + eps) + torch.log(p_main[rows_t, y_t] + eps)
        ).abs()
        return (dl[:, None] * (h_ema - h_main)).to(torch.float32)
    rows = np.arange(p_ema.shape[0])
    y_hat = p_ema.argmax(1)
    ce_ema = -np.log(p_ema[rows, y_hat] + eps)
    ce_main = -np.log(p_main[rows, y_hat] + eps)
    delta_l = np.abs(ce_ema - ce_main)
    out: np.ndarray = (delta_l[:, None] * (h_ema - h_main)).astype(np.float32)
    return out


@register("lhd")
class LHD(Strategy):
    """LHD: k-means++ seeding on loss-and-hidden-state differences of main and EMA.

    Uses the main and EMA networks captured during training (see
    ``TorchClassifier(ema_alpha=...)``), computes `lhd_features` for each
    unlabeled item and selects by k-means++ seeding exactly as BADGE (largest norm
    first, D² sampling, labeled points are not centers), over row chunks of the
    pool so that memory stays near the size of one embedding. Both networks are in
    eval mode (the reference code leaves the EMA in train mode for ``Δh``, which
    only matters with batch normalisation).
    """

    requires = (EMAPair,)
    accepts_padding = True

    def __init__(self) -> None:
        pass

    def _select(
        self,
        model: Any,
        X: np.ndarray,
        state: LabelState,
        batch_size: int,
        rng: np.random.Generator,
    ) -> Selection:
        pool = state.unlabeled_indices()
        idx = kmeans_plusplus(_pool_lhd_features(model, X, pool), batch_size, rng=rng)
        return Selection(indices=pool[idx])


_ROWS = 1 << 16  # a multiple of the models' prediction batches


def ema_on_device(model: Any) -> bool:
    """Whether LHD takes ``model``'s outputs as tensors on its (non-CPU) device."""
    return isinstance(model, EMAPairTensors) and model.device.type != "cpu"


def _pool_lhd_features(
    model: Any, X: np.ndarray, pool: np.ndarray
) -> np.ndarray | torch.Tensor:
    """`lhd_features` of the pool rows, computed over row chunks.

    The same values as one call on ``X[pool]``, without the four pool-sized
    network outputs and their temporaries at once. A model on a GPU
    (`ema_on_device`) fills one float32 tensor on its device instead.
    """
    if ema_on_device(model):
        dev: torch.Tensor | None = None
        for s in range(0, pool.size, _ROWS):
            lt = lhd_features(*model.ema_tensor_outputs(X[pool[s : s + _ROWS]]))
            if dev is None:
                dev = lt.new_empty((pool.size, lt.shape[1]))
            dev[s : s + len(lt)] = lt
        assert dev is not None
        return dev
    out = np.empty((0, 0), dtype=np.float32)
    for s in range(0, pool.size, _ROWS):
        lh = lhd_features(*model.ema_outputs(X[pool[s : s + _ROWS]]))
        if s == 0:
            out = np.empty((pool.size, lh.shape[1]), dtype=np.float32)
        out[s : s + len(lh)] = lh
    return out
