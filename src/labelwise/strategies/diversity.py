"""Diversity strategies: Core-Set (k-center) and BADGE (k-means++ on gradients).

References:
    Sener, O., Savarese, S. Active Learning for Convolutional Neural Networks: A
    Core-Set Approach (ICLR 2018). Ash, J. et al. Deep Batch Active Learning by
    Diverse, Uncertain Gradient Lower Bounds (ICLR 2020).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

from labelwise._validation import check_positive
from labelwise.exceptions import InvalidParameterError
from labelwise.kernels import kcenter_greedy, kmeans_plusplus_factored, robust_kcenter
from labelwise.models.base import Embedder, ProbabilisticClassifier
from labelwise.pool import LabelState
from labelwise.strategies._registry import register
from labelwise.strategies.base import (
    Selection,
    Strategy,
    model_outputs,
    on_accelerator,
)


@register("coreset")
class CoreSet(Strategy):
    """Core-Set: k-center on penultimate embeddings, seeded with the labeled set.

    The greedy (default) is what the BADGE repository and the Core-Set paper's
    experiments use. With ``robust=True`` the robust k-center MIP of the paper is
    solved by binary search on the radius (SciPy MILP, small pools only); with
    ``n_outliers=0`` it matches the released code, which forbids outliers.

    Args:
        robust: Solve the robust k-center MIP. Defaults to False.
        n_outliers: Outlier budget of the MIP. Defaults to 0.
        max_points: Largest pool the MIP accepts. Defaults to 600.
    """

    requires = (Embedder,)
    accepts_padding = True

    def __init__(
        self, *, robust: bool = False, n_outliers: int = 0, max_points: int = 600
    ):
        if not isinstance(robust, bool):
            raise InvalidParameterError(f"robust must be a bool; got {robust!r}.")
        if not isinstance(n_outliers, int) or n_outliers < 0:
            raise InvalidParameterError(
                f"n_outliers must be an int >= 0; got {n_outliers!r}."
            )
        check_positive(max_points, "max_points", integer=True)
        self.robust = robust
        self.n_outliers = n_outliers
        self.max_points = max_points

    def _select(
        self,
        model: Any,
        X: np.ndarray,
        state: LabelState,
        batch_size: int,
        rng: np.random.Generator,
    ) -> Selection:
        emb: np.ndarray | torch.Tensor = (
            torch.as_tensor(model_outputs(model, X, "embed")).to(torch.float32)
            if on_accelerator(model)
            else _embed_rows(model, X)
        )
        labeled = state.labeled_indices()
        if self.robust:
            idx = robust_kcenter(
                emb.cpu().numpy() if isinstance(emb, torch.Tensor) else emb,
                batch_size,
                labeled=labeled,
                n_outliers=self.n_outliers,
                max_points=self.max_points,
            )
            return Selection(indices=idx, info={"method": "robust-mip"})
        idx, radii = kcenter_greedy(
            emb, batch_size, labeled=labeled, rng=rng, return_radii=True
        )
        return Selection(indices=idx, scores=radii, info={"method": "greedy"})


@register("badge")
class Badge(Strategy):
    """BADGE: k-means++ seeding on last-layer gradient embeddings.

    The embedding of an unlabeled ``x`` is ``(onehot(ŷ) - p) ⊗ h`` (the negated
    cross-entropy gradient for the predicted label ``ŷ``), never materialised:
    distances factorise. As in the reference code, the first center is the point
    of largest gradient norm, the next ones are drawn by D² sampling, and labeled
    points are not centers.
    """

    requires = (ProbabilisticClassifier, Embedder)
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
        if on_accelerator(model):
            xp = X[pool]
            proba = torch.as_tensor(model_outputs(model, xp, "proba"))
            emb = torch.as_tensor(model_outputs(model, xp, "embed"))
            resid_t = -proba.to(torch.float32)
            rows = torch.arange(pool.size, device=resid_t.device)
            resid_t[rows, proba.argmax(1)] += 1.0
            idx = kmeans_plusplus_factored(
                resid_t, emb.to(torch.float32), batch_size, rng=rng
            )
            return Selection(indices=pool[idx])
        resid, emb_np = _badge_factors(model, X, pool)
        idx = kmeans_plusplus_factored(resid, emb_np, batch_size, rng=rng)
        return Selection(indices=pool[idx])


_ROWS = 1 << 16  # a multiple of the models' prediction batches


def _embed_rows(model: Any, X: np.ndarray) -> np.ndarray:
    """``model.embed(X)`` as float32, row chunk by row chunk into one array.

    The same values as one call, without the model's pool-sized temporaries
    (which the allocator may keep resident after the call).
    """
    out = np.empty((0, 0), dtype=np.float32)
    for s in range(0, X.shape[0], _ROWS):
        h = np.asarray(model.embed(X[s : s + _ROWS]), dtype=np.float32)
        if s == 0:
            out = np.empty((X.shape[0], h.shape[1]), dtype=np.float32)
        out[s : s + len(h)] = h
    return out


def _badge_factors(
    model: Any, X: np.ndarray, pool: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """BADGE's factors ``onehot(ŷ) - p`` ``(n, k)`` and embeddings ``(n, d)``.

    Computed over row chunks of the pool, so neither ``X[pool]`` nor the model's
    pool-sized temporaries exist at once; the embeddings are written straight into
    a column-major array (a ``(d, n)`` buffer, returned transposed), which is the
    layout the k-means++ kernel reads, so it makes no copy of its own.
    """
    resid = emb_t = np.empty((0, 0), dtype=np.float32)
    for s in range(0, pool.size, _ROWS):
        xc = X[pool[s : s + _ROWS]]
        p = np.asarray(model.predict_proba(xc), dtype=np.float32)
        h = np.asarray(model.embed(xc), dtype=np.float32)
        if s == 0:
            resid = np.empty((pool.size, p.shape[1]), dtype=np.float32)
            emb_t = np.empty((h.shape[1], pool.size), dtype=np.float32)
        r = resid[s : s + len(p)]
        np.negative(p, out=r)
        r[np.arange(len(p)), p.argmax(1)] += 1.0
        emb_t[:, s : s + len(p)] = h.T
    return resid, emb_t.T
