"""Robust k-center by mixed-integer programming (Sener & Savarese 2018, §4.2).

For small pools only: the program has one binary per pair of points within the
radius. A binary search over the sorted pairwise distances (each a possible
optimal radius) finds the smallest radius for which a feasible set of centers
exists, using SciPy's MILP solver (HiGHS).

Paper versus code: the paper allows up to ``n_outliers`` uncovered points; the
released code fixes the outlier variables to 0. Here ``n_outliers`` is a
parameter; ``n_outliers=0`` is the code's behaviour.
"""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np
from scipy import sparse
from scipy.optimize import Bounds, LinearConstraint, milp

from labelwise._typing import IndexArray
from labelwise._validation import check_features, check_indices
from labelwise.exceptions import FallbackWarning, InvalidParameterError
from labelwise.kernels._greedy import kcenter_greedy


def _feasible(
    dist: np.ndarray,
    radius: float,
    n_centers: int,
    labeled: IndexArray,
    n_outliers: int,
    time_limit: float,
) -> np.ndarray | None:
    """Centers (bool mask) covering all but ``n_outliers`` points within ``radius``."""
    n = dist.shape[0]
    rows, cols = np.nonzero(dist <= radius)
    n_pairs = rows.size
    # variable layout: u (n) | omega (n_pairs) | xi (n)
    n_var = n + n_pairs + n
    pair_ids = np.arange(n_pairs)
    # sum_j omega_ij + xi_i = 1
    a_assign = sparse.coo_matrix(
        (
            np.ones(n_pairs + n),
            (
                np.concatenate([rows, np.arange(n)]),
                np.concatenate([n + pair_ids, n + n_pairs + np.arange(n)]),
            ),
        ),
        shape=(n, n_var),
    )
    # omega_ij - u_j <= 0
    a_link = sparse.coo_matrix(
        (
            np.concatenate([np.ones(n_pairs), -np.ones(n_pairs)]),
            (
                np.concatenate([pair_ids, pair_ids]),
                np.concatenate([n + pair_ids, cols]),
            ),
        ),
        shape=(n_pairs, n_var),
    )
    a_count = sparse.coo_matrix(
        (np.ones(n), (np.zeros(n, dtype=int), np.arange(n))), shape=(1, n_var)
    )
    a_out = sparse.coo_matrix(
        (np.ones(n), (np.zeros(n, dtype=int), n + n_pairs + np.arange(n))),
        shape=(1, n_var),
    )
    constraints = [
        LinearConstraint(a_assign.tocsr(), 1.0, 1.0),
        LinearConstraint(a_link.tocsr(), -np.inf, 0.0),
        LinearConstraint(a_count.tocsr(), n_centers, n_centers),
        LinearConstraint(a_out.tocsr(), 0.0, n_outliers),
    ]
    lower = np.zeros(n_var)
    lower[labeled] = 1.0
    res = milp(
        c=np.concatenate([np.zeros(n + n_pairs), np.ones(n)]),
        constraints=constraints,
        integrality=np.ones(n_var),
        bounds=Bounds(lower, np.ones(n_var)),
        options={"time_limit": time_limit},
    )
    if res.x is None or res.status not in (0, 1):
        return None
    return np.asarray(res.x[:n] > 0.5)


def robust_kcenter(
    features: Any,
    n_select: int,
    *,
    labeled: Any = None,
    n_outliers: int = 0,
    max_points: int = 600,
    time_limit: float = 60.0,
) -> IndexArray:
    """Robust k-center selection by binary search on the radius with a MILP.

    Starts from the greedy k-center radius (an upper bound) and finds the
    smallest pairwise distance ``δ`` such that ``n_labeled + n_select`` centers,
    including every labeled point, cover all points within ``δ`` except at most
    ``n_outliers``. Builds the full ``n x n`` distance matrix, so it refuses pools
    above ``max_points``.

    Args:
        features: Array of shape ``(n_samples, n_features)``.
        n_select: Number of new centers, in ``[1, n_samples - n_labeled]``.
        labeled: Indices of labeled rows (forced centers). Defaults to none.
        n_outliers: Points allowed to stay uncovered. Defaults to 0 (the code).
        max_points: Largest pool accepted. Defaults to 600.
        time_limit: Seconds allowed per MILP solve. Defaults to 60.

    Returns:
        Indices of the new centers, shape ``(n_select,)``, ascending.

    Examples:
        >>> x = np.array([[0.0], [1.0], [10.0], [11.0], [12.0]])
        >>> robust_kcenter(x, 1, labeled=[0]).tolist()
        [3]
    """
    x = check_features(features, name="features").astype(np.float64)
    if x.ndim != 2:
        raise InvalidParameterError(
            f"features must have shape (n_samples, n_features); got {x.shape}."
        )
    n = x.shape[0]
    if n > max_points:
        raise InvalidParameterError(
            f"robust k-center solves a MILP with up to n^2 variables; the pool has "
            f"{n} points and max_points={max_points}. Use robust=False (greedy "
            "k-center) or subsample the pool."
        )
    lab = check_indices(
        [] if labeled is None else labeled, n, name="labeled", allow_empty=True
    )
    if not isinstance(n_outliers, int) or n_outliers < 0:
        raise InvalidParameterError(
            f"n_outliers must be an int >= 0; got {n_outliers!r}."
        )
    greedy = kcenter_greedy(x, n_select, labeled=lab, rng=0)
    sq = (x * x).sum(1)
    dist = np.sqrt(np.maximum(sq[:, None] + sq[None, :] - 2 * x @ x.T, 0.0))
    np.fill_diagonal(dist, 0.0)
    centers = np.concatenate([lab, greedy])
    upper = float(dist[:, centers].min(1).max())
    radii = np.unique(dist[dist <= upper])
    best = np.zeros(n, dtype=bool)
    best[centers] = True
    lo, hi = 0, radii.size - 1  # radii[hi] is feasible (the greedy solution)
    while lo < hi:
        mid = (lo + hi) // 2
        sol = _feasible(
            dist, float(radii[mid]), lab.size + n_select, lab, n_outliers, time_limit
        )
        if sol is None:
            lo = mid + 1
        else:
            best, hi = sol, mid
    new = np.flatnonzero(best & ~np.isin(np.arange(n), lab)).astype(np.int64)
    if new.size != n_select:  # pragma: no cover - solver returned a degenerate set
        warnings.warn(
            "robust k-center: the MILP solution has the wrong number of centers; "
            "returning the greedy k-center selection.",
            FallbackWarning,
            stacklevel=2,
        )
        return np.sort(greedy)
    return new
