"""k-center greedy and k-means++ seeding on one incremental loop.

Public functions validate their inputs once and call private kernels that trust
them (the ``kmeans_plusplus`` / ``_kmeans_plusplus`` split of scikit-learn).

References:
    Sener, O., Savarese, S. Active Learning for Convolutional Neural Networks: A
    Core-Set Approach (ICLR 2018). Arthur, D., Vassilvitskii, S. k-means++: the
    advantages of careful seeding (SODA 2007). Ash, J. et al. Deep Batch Active
    Learning by Diverse, Uncertain Gradient Lower Bounds (ICLR 2020).
"""

from __future__ import annotations

import math
import warnings
from typing import Any, Literal, overload

import numpy as np
import torch

from labelwise._typing import FloatArray, IndexArray, RNGLike
from labelwise._validation import check_indices, check_rng
from labelwise.exceptions import FallbackWarning, InvalidParameterError
from labelwise.kernels._inputs import as_float_tensor
from labelwise.kernels._points import (
    DensePoints,
    KroneckerPoints,
    min_sqdist_to_set,
)


def _as_tensor(x: Any, name: str) -> torch.Tensor:
    """Validate a 2-D finite float array where it lives; no copy for float input."""
    return as_float_tensor(x, name)


def _check_n_select(n_select: Any, n_available: int) -> int:
    if (
        isinstance(n_select, bool)
        or not isinstance(n_select, int | np.integer)
        or not 1 <= n_select <= n_available
    ):
        raise InvalidParameterError(
            f"n_select must be an int in [1, n_available={n_available}]; "
            f"got {n_select!r}."
        )
    return int(n_select)


# ----------------------------------------------------------------- k-center
def _unit_scale(x: torch.Tensor) -> tuple[torch.Tensor, float]:
    """``(x / m, m)`` with ``m = max |x|`` when squared distances could overflow.

    The norms trick adds terms up to ``4 d m²``; past the dtype's largest value
    they become ``inf`` and their differences NaN. k-center greedy is scale
    invariant, so such inputs are scaled to ``max |x| = 1`` (and the radii scaled
    back); every other input is returned as it is.
    """
    if x.numel() == 0:
        return x, 1.0
    m = max(float(x.max()), -float(x.min()))
    limit = math.sqrt(torch.finfo(x.dtype).max / (4 * x.shape[1]))
    if m <= limit:
        return x, 1.0
    return x / m, m


def _kcenter_greedy(
    points: DensePoints, min_d2: torch.Tensor, n_select: int
) -> tuple[IndexArray, np.ndarray]:
    """Greedy farthest-first traversal; ``min_d2`` is updated in place.

    ``min_d2`` must be ``-inf`` at points that may not be picked (labeled ones are
    covered, i.e. 0, already). Ties go to the smallest index. The picks and radii
    stay on ``min_d2``'s device until the end (no host sync per pick).
    """
    picks = torch.empty(n_select, dtype=torch.long, device=min_d2.device)
    radii = torch.empty(n_select, dtype=min_d2.dtype, device=min_d2.device)
    on_host = min_d2.device.type == "cpu"
    for t in range(n_select):
        best = torch.argmax(min_d2)
        # a Python int indexes faster on the host; on a GPU it would sync per pick
        j: int | torch.Tensor = int(best) if on_host else best
        picks[t] = j
        radii[t] = min_d2[j]
        torch.minimum(min_d2, points.sqdist_to(j), out=min_d2)
        min_d2[j] = -float("inf")
    return picks.cpu().numpy(), radii.cpu().double().sqrt().numpy()


@overload
def kcenter_greedy(
    features: FloatArray | torch.Tensor,
    n_select: int,
    *,
    labeled: Any = ...,
    rng: RNGLike = ...,
    return_radii: Literal[False] = ...,
) -> IndexArray: ...
@overload
def kcenter_greedy(
    features: FloatArray | torch.Tensor,
    n_select: int,
    *,
    labeled: Any = ...,
    rng: RNGLike = ...,
    return_radii: Literal[True],
) -> tuple[IndexArray, np.ndarray]: ...
def kcenter_greedy(
    features: FloatArray | torch.Tensor,
    n_select: int,
    *,
    labeled: Any = None,
    rng: RNGLike = None,
    return_radii: bool = False,
) -> IndexArray | tuple[IndexArray, np.ndarray]:
    """Greedy k-center (farthest-first) selection, seeded with the labeled set.

    Repeatedly picks the unlabeled point farthest (Euclidean) from its nearest
    center, where the centers are the labeled points and the points picked so far.
    The labeled-set distances take one chunked matrix product; each pick then costs
    one pass over the data (``O(n * d)``); no ``n x n`` matrix is formed. Extra
    memory: one transposed copy of ``features`` plus ``O(n)``. Ties go to the
    smallest index. Distances use the norms trick in the dtype of ``features``
    (features so large that squared distances would overflow it are first scaled
    to ``max |x| = 1``, which changes no pick).
    A torch tensor is processed on its device (e.g. CUDA) without a host copy;
    the indices come back as a host array either way.

    Args:
        features: Array of shape ``(n_samples, n_features)``.
        n_select: Number of points to pick, in ``[1, n_samples - n_labeled]``.
        labeled: Indices of labeled rows (centers from the start). Defaults to none.
        rng: Seed or generator. Used only when ``labeled`` is empty, to draw the
            first center uniformly. Defaults to ``None``.
        return_radii: Also return, per pick, its distance to the nearest center at
            the time of the pick (the covering radius before the pick).

    Returns:
        Row indices of shape ``(n_select,)`` in pick order (and the radii).

    Examples:
        >>> x = np.array([[0.0], [1.0], [2.0], [10.0]])
        >>> kcenter_greedy(x, 2, labeled=[0]).tolist()
        [3, 2]
    """
    x, scale = _unit_scale(_as_tensor(features, "features"))
    n = x.shape[0]
    lab = check_indices(
        [] if labeled is None else labeled, n, name="labeled", allow_empty=True
    )
    n_select = _check_n_select(n_select, n - lab.size)
    points = DensePoints(x)
    if lab.size:
        lab_t = torch.from_numpy(lab).to(x.device)
        min_d2 = min_sqdist_to_set(x, x[lab_t])
        min_d2[lab_t] = -float("inf")
        picks, radii = _kcenter_greedy(points, min_d2, n_select)
    else:
        first = int(check_rng(rng).integers(n))
        min_d2 = points.sqdist_to(first)
        min_d2[first] = -float("inf")
        rest, radii_rest = (
            _kcenter_greedy(points, min_d2, n_select - 1)
            if n_select > 1
            else (np.empty(0, np.int64), np.empty(0))
        )
        picks = np.concatenate([[first], rest]).astype(np.int64)
        radii = np.concatenate([[np.inf], radii_rest])
    return (picks, radii * scale) if return_radii else picks


# ----------------------------------------------------------------- k-means++
def _kmeanspp(
    points: DensePoints | KroneckerPoints,
    n_select: int,
    rng: np.random.Generator,
    first: str,
) -> tuple[IndexArray, list[str]]:
    """k-means++ seeding (D² sampling) over all points of ``points``."""
    n = points.n
    picks = np.empty(n_select, dtype=np.int64)
    notes: list[str] = []
    if first == "largest-norm":
        j = int(torch.argmax(points.sq_norms()))
    else:
        j = int(rng.integers(n))
    picks[0] = j
    min_d2 = points.sqdist_to(j).double()
    min_d2[j] = 0.0
    chosen = np.zeros(n, dtype=bool)
    chosen[j] = True
    for t in range(1, n_select):
        cs = torch.cumsum(min_d2, 0)
        total = float(cs[-1])
        if not total > 0.0:
            # every remaining point coincides with a center: draw uniformly
            rest = np.flatnonzero(~chosen)
            j = int(rng.choice(rest))
            if not notes:
                notes.append(
                    f"k-means++: all remaining points coincide with chosen centers at "
                    f"pick {t}; the rest were drawn uniformly."
                )
                warnings.warn(notes[-1], FallbackWarning, stacklevel=3)
        else:
            u = rng.random() * total
            j = min(int(torch.searchsorted(cs, u, right=True)), n - 1)
            if chosen[j]:  # only reachable through round-off at the boundary
                j = int(torch.argmax(min_d2))
        picks[t] = j
        chosen[j] = True
        torch.minimum(min_d2, points.sqdist_to(j).double(), out=min_d2)
        min_d2[j] = 0.0
    return picks, notes


def kmeans_plusplus(
    features: FloatArray | torch.Tensor,
    n_select: int,
    *,
    rng: RNGLike = None,
    first: Literal["largest-norm", "random"] = "largest-norm",
) -> IndexArray:
    """k-means++ seeding: pick ``n_select`` rows by D² sampling.

    The first center is the row of largest norm (BADGE's rule) or, with
    ``first="random"``, a uniformly drawn row (the original k-means++). Each next
    center is drawn with probability proportional to its squared distance to the
    nearest chosen center. No Lloyd iterations follow (seeding only). A torch
    tensor is processed on its device; each draw takes one uniform number from
    ``rng`` and inverts the cumulative D² weights, so the same seed gives the
    same centers on the same device (and on CPU and GPU up to float ties).

    Args:
        features: Array of shape ``(n_samples, n_features)``.
        n_select: Number of centers, in ``[1, n_samples]``.
        rng: Seed or generator for the D² draws. Defaults to ``None``.
        first: How the first center is chosen. Defaults to ``"largest-norm"``.

    Returns:
        Row indices of shape ``(n_select,)`` in pick order.

    Examples:
        >>> x = np.array([[0.0, 0.0], [0.1, 0.0], [5.0, 5.0]])
        >>> kmeans_plusplus(x, 1).tolist()
        [2]
    """
    x = _as_tensor(features, "features")
    n_select = _check_n_select(n_select, x.shape[0])
    _check_first(first)
    return _kmeanspp(DensePoints(x), n_select, check_rng(rng), first)[0]


def kmeans_plusplus_factored(
    left: FloatArray | torch.Tensor,
    right: FloatArray | torch.Tensor,
    n_select: int,
    *,
    rng: RNGLike = None,
    first: Literal["largest-norm", "random"] = "largest-norm",
) -> IndexArray:
    """k-means++ seeding on points ``g_i = left_i ⊗ right_i`` without building them.

    This is BADGE's selection on its gradient embedding ``(onehot(ŷ) - p) ⊗ h``:
    the inner products factorise, so only ``left`` ``(n, k)`` and ``right``
    ``(n, d)`` are read and memory stays ``O(n (k + d))``. Torch tensors are
    processed on their device, as `kmeans_plusplus`.

    Args:
        left: Array of shape ``(n_samples, k)``.
        right: Array of shape ``(n_samples, d)``.
        n_select: Number of centers, in ``[1, n_samples]``.
        rng: Seed or generator for the D² draws. Defaults to ``None``.
        first: How the first center is chosen. Defaults to ``"largest-norm"``.

    Returns:
        Row indices of shape ``(n_select,)`` in pick order.
    """
    a = _as_tensor(left, "left")
    h = _as_tensor(right, "right")
    if a.shape[0] != h.shape[0]:
        raise InvalidParameterError(
            f"left and right must have the same number of rows; got {a.shape[0]} "
            f"and {h.shape[0]}."
        )
    n_select = _check_n_select(n_select, a.shape[0])
    _check_first(first)
    h = h.to(a.dtype)
    return _kmeanspp(KroneckerPoints(a, h), n_select, check_rng(rng), first)[0]


def _check_first(first: str) -> None:
    if first not in ("largest-norm", "random"):
        raise InvalidParameterError(
            f"first must be 'largest-norm' or 'random'; got {first!r}."
        )
