"""Greedy batch selection for regression on explicit features (the BMDAL family).

Every method works on feature vectors ``φ(x)`` with ``k(x, x') = <φ(x), φ(x')>``
(after whatever kernel transforms produced them) and squared distances
``k(x,x) + k(x',x') - 2 k(x,x')``. The *feature set* is the pool (mode ``"p"``)
or the pool followed by the training points (mode ``"tp"``), whose points are
added to the method's state first and never returned. A method that cannot go
on (a non-positive score, which signals a numerical failure or an exhausted
kernel) stops, and the remaining slots are filled with uniformly random
unselected pool points; `BatchResult` says how many and why.

Methods (Holzmüller et al., JMLR 2023, §5;
written from the formulas):

=========== ===== ===========================================================
method      mode  next point
=========== ===== ===========================================================
random      –     a random permutation (the experiment's generator)
maxdiag     –     the largest ``k(x, x)``
maxdet      p     largest posterior variance ``d_j`` (greedy determinant of
                  ``K_S + σ² I`` by a pivoted partial Cholesky); fails when
                  ``d_j <= 1e-12 max_i d_i`` (the reference fails at ``<= 0``,
                  which rounding hides when σ = 0)
bait        p     largest reduction ``Σ_z k(x,z)² / (k(x,x) + σ²)`` of the
                  total posterior variance over pool ∪ train; with
                  ``overselection > 1`` (BAIT-FB) forward to ``round(f B)``,
                  then backward removals
fw          p     Frank–Wolfe step towards ``Σ_i φ_i`` (ACS-FW without
                  re-selection)
maxdist     tp    the farthest point from the centers (k-center greedy)
kmeanspp    tp    sampled with probability ∝ squared distance (D²)
lcmd        tp    within the cluster(s) of largest total squared distance,
                  the point farthest from its center
=========== ===== ===========================================================

The same methods except ``bait`` and ``fw`` also run on kernels given by
evaluations (`select_bmdal_kernel` on a `Gram`:
the ``nngp`` kernel, the kernel-space posterior); the picks are the same as on
features of the same kernel.

In mode ``"p"`` the distance methods start from the largest ``k(x, x)``
(``kmeanspp``: uniformly at random). maxdet and bait (rank-one updates that
accumulate rounding) run in float64 (maxdet with σ > 0 keeps its variances in
float64 but reads float32 features as they are, and float64 ones through a
float32 copy, only while the remaining variances are far above float32's
rounding, see `_MaxDetFeatures`; `feature_dtype` says which dtype a method
computes in); the distance methods, fw and maxdiag in float32. bmdal-reg also
runs those in float32 on plain features, but after a posterior (``train``)
transform it casts the features to float64 and runs them in float64; labelwise
stays in float32 there.

Every method runs on the device of ``pool`` (a CUDA tensor stays on its GPU)
and returns host indices.

References:
    Holzmüller, D., Zaverkin, V., Kästner, J., Steinwart, I. A Framework and
    Benchmark for Deep Batch Active Learning for Regression (JMLR 24, 2023).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from labelwise._typing import IndexArray, RNGLike
from labelwise._validation import check_rng
from labelwise.exceptions import InvalidParameterError
from labelwise.kernels._greedy import _check_n_select
from labelwise.kernels._inputs import as_float_tensor, check_square_width
from labelwise.kernels._kspace import FeatureGram, Gram, GramPoints, HeadGram
from labelwise.kernels._points import _CHUNK, DensePoints

METHODS = ("random", "maxdiag", "maxdet", "bait", "fw", "maxdist", "kmeanspp", "lcmd")
DEFAULT_MODE = {
    "maxdet": "p",
    "bait": "p",
    "fw": "p",
    "maxdist": "tp",
    "kmeanspp": "tp",
    "lcmd": "tp",
}
WEIGHT_MODES = ("sq-dist", "dist", "none")
BLOCK_ENTRIES = 1 << 24  # largest distance block of add_many (64 MB in float32)


@dataclass(frozen=True)
class BatchResult:
    """Selected pool rows, in selection order, and what (if anything) failed.

    Attributes:
        indices: Rows of the pool feature matrix, shape ``(n_select,)``.
        n_random: How many of the last entries were filled uniformly at random
            after the method failed (0 when it did not).
        message: Why the method stopped early, ``None`` if it did not.
    """

    indices: IndexArray
    n_random: int = 0
    message: str | None = None


class _Failed(Exception):
    pass


# ------------------------------------------------------------------ states
class _State:
    """Greedy state over the feature set ``x`` (pool rows first)."""

    def __init__(self, n: int, n_pool: int, device: torch.device):
        self.n = n
        self.n_pool = n_pool
        self.device = device
        self.taken = torch.zeros(self.n, dtype=torch.bool, device=device)

    def add(self, j: int) -> None:
        self.taken[j] = True

    def masked(self, score: torch.Tensor) -> torch.Tensor:
        """``score`` over unselected pool points, ``-inf`` elsewhere."""
        s = score[: self.n_pool].clone()
        s[self.taken[: self.n_pool]] = -math.inf
        return s

    def argmax(self, score: torch.Tensor, what: str) -> int:
        s = self.masked(score)
        j = int(torch.argmax(s))
        if not s[j] > 0:
            raise _Failed(f"{what}: the best remaining score is {float(s[j]):.3g} <= 0")
        return j


class _MaxDet(_State):
    """Pivoted partial Cholesky of ``K + σ² I`` (greedy log-determinant)."""

    def __init__(self, gram: Gram, n_pool: int, sigma: float, capacity: int):
        self.d = gram.diag() + sigma**2
        super().__init__(gram.n, n_pool, self.d.device)
        self.gram = gram
        self.s2 = sigma**2
        # below this, a "positive" variance is rounding noise (only with sigma = 0)
        self.tol = 1e-12 * float(self.d.max()) if gram.n else 0.0
        self.L = torch.zeros(self.n, capacity, dtype=self.d.dtype, device=self.device)
        self.m = 0

    def next(self, rng: np.random.Generator) -> int:
        j = self.argmax(self.d, "maxdet")
        if float(self.d[j]) <= self.tol:
            raise _Failed(
                f"maxdet: the largest posterior variance {float(self.d[j]):.3g} is "
                "rounding noise (the kernel's rank is exhausted)"
            )
        return j

    def add(self, j: int) -> None:
        dj = float(self.d[j])
        if not dj > 0:
            raise _Failed(f"maxdet: posterior variance {dj:.3g} <= 0 at point {j}")
        col = self.gram.row(j)  # a fresh tensor
        col[j] += self.s2
        ell = (col - self.L[:, : self.m] @ self.L[j, : self.m]) / math.sqrt(dj)
        self.L[:, self.m] = ell
        self.m += 1
        self.d -= ell * ell
        self.d[j] = -math.inf
        super().add(j)


class _MaxDetFeatures(_MaxDet):
    """maxdet on features with ``σ > 0``: Sherman–Morrison in feature space.

    With ``ψ = φ / σ`` and ``M = (Ψ_Sᵀ Ψ_S + I)⁻¹`` (``p x p``), the posterior
    covariance is ``σ² ψ_iᵀ M ψ_j``, so observing ``j`` lowers ``d_i`` by
    ``σ² g_i² / c`` with ``g = Ψ M ψ_j = Φ (M ψ_j / σ)`` and
    ``c = 1 + ψ_jᵀ M ψ_j`` — the same numbers as the pivoted Cholesky's
    ``ℓ_i²``, from one pass over the features per step and no growing ``n x m``
    factor. ``M``, ``c`` and the variances ``d`` are float64. While the variances
    are large, the pass reads the features in float32 (float32 features as they
    are, with ``1/σ`` folded into the vector, so no copy; float64 features through
    a float32 copy of ``Ψ``, ``read_dtype``): half the bytes of float64, which
    dominate the step. ``g`` then carries float32 rounding, which accumulates in
    ``d`` to about ``1e-6 max_i |φ_i|²``. That is harmless while the largest
    remaining ``d - σ²`` is far above it, but once the batch nears the rank of
    the features every remaining variance is ``O(σ²)`` and float32 rounding would
    decide the pick. So when the largest remaining ``d - σ²`` falls below
    ``SWITCH * max_i |φ_i|²``, the variances are recomputed exactly from ``M``
    (``σ² (1 + ψᵀ M ψ)``, one chunked pass) and every later pass is float64
    arithmetic on row chunks of the features cast to float64 (no float64 copy of
    the whole matrix). Storing the features in float32 moves each ``φ_i`` by
    about ``6e-8 |φ_i|``, which changes a remaining variance near ``σ²`` by about
    ``1e-7 σ |φ_i| + 1e-15 |φ_i|²``, far below ``σ²``; the rounding that mattered
    was the one accumulated in ``d``.
    """

    SWITCH = 1e-3

    def __init__(
        self,
        x: torch.Tensor,
        n_pool: int,
        sigma: float,
        read_dtype: torch.dtype = torch.float32,
    ):
        _State.__init__(self, x.shape[0], n_pool, x.device)
        self.s2, self.sigma = sigma**2, sigma
        self.x = x  # exact rows for psi_j; no copy
        norms = _sq_norms64(x)
        self.switch_at = self.SWITCH * float(norms.max()) if x.shape[0] else 0.0
        self.d = norms.add_(self.s2)
        self.tol = 1e-12 * float(self.d.max()) if x.shape[0] else 0.0
        # rows read per step: g = read @ (u * read_scale), in read's dtype
        self.read: torch.Tensor | None = x
        self.read_scale = 1.0 / sigma
        if x.dtype != read_dtype:  # a (p, n) copy of Ψ in read_dtype
            self.read = x.t().to(read_dtype).contiguous().mul_(1.0 / sigma).t()
            self.read_scale = 1.0
        self.M = torch.eye(x.shape[1], dtype=torch.float64, device=x.device)

    def next(self, rng: np.random.Generator) -> int:
        j = super().next(rng)
        if self.read is not None and float(self.d[j]) - self.s2 <= self.switch_at:
            self._to_float64()
            j = super().next(rng)
        return j

    def _to_float64(self) -> None:
        """Float64 passes from now on; recompute ``d`` exactly from ``M``."""
        self.read = None  # frees a float32 copy of Ψ
        for s in range(0, self.n, _CHUNK):
            block = self.x[s : s + _CHUNK].to(torch.float64) / self.sigma
            quad = ((block @ self.M) * block).sum(1)
            self.d[s : s + _CHUNK] = quad.add_(1.0).mul_(self.s2)
        self.d[self.taken] = -math.inf

    def _project(self, u: torch.Tensor) -> torch.Tensor:
        """``g = Ψ u`` (float64): one read of the features."""
        if self.read is not None:
            v = (u * self.read_scale).to(self.read.dtype)
            return torch.mv(self.read, v).to(torch.float64)
        g = torch.empty(self.n, dtype=torch.float64, device=self.device)
        v = u / self.sigma
        for s in range(0, self.n, _CHUNK):
            torch.mv(self.x[s : s + _CHUNK].to(torch.float64), v, out=g[s : s + _CHUNK])
        return g

    def add(self, j: int) -> None:
        if not float(self.d[j]) > 0:
            raise _Failed(f"maxdet: posterior variance {float(self.d[j]):.3g} <= 0")
        psi_j = self.x[j].to(torch.float64) / self.sigma
        u = self.M @ psi_j
        c = 1.0 + float(psi_j @ u)
        g = self._project(u)
        self.d.addcmul_(g, g, value=-self.s2 / c)
        self.M.addr_(u, u, alpha=-1.0 / c)
        self.d[j] = -math.inf
        _State.add(self, j)


def _sq_norms64(x: torch.Tensor) -> torch.Tensor:
    """Squared row norms in float64, by row chunks (no float64 copy of ``x``)."""
    out = torch.empty(x.shape[0], dtype=torch.float64, device=x.device)
    for s in range(0, x.shape[0], _CHUNK):
        block = x[s : s + _CHUNK].to(torch.float64)
        out[s : s + _CHUNK] = (block * block).sum(1)
    return out


class _Bait(_State):
    """Total posterior variance over the targets, with rank-one updates."""

    def __init__(
        self, x: torch.Tensor, n_pool: int, sigma: float, targets_extra: torch.Tensor
    ):
        super().__init__(x.shape[0], n_pool, x.device)
        self.x = x.clone()
        self.s2 = sigma**2
        self.sigma = sigma
        # targets: the feature set plus (mode p) the training points
        self.C = self.x.t() @ self.x + targets_extra.t() @ targets_extra
        self.d = (self.x * self.x).sum(1)
        self.s = ((self.x @ self.C) * self.x).sum(1)

    def score(self) -> torch.Tensor:
        return self.s / (self.d + self.s2 + 1e-8)

    def next(self, rng: np.random.Generator) -> int:
        return self.argmax(self.score(), "bait")

    def _update(self, j: int, sign: float) -> None:
        """Observe (``sign = 1``) or un-observe (``-1``) point ``j``."""
        phi = self.x[j].clone()
        # the kernel becomes k - kappa g g^T (kappa = 1/e to observe, -1/e' to
        # remove), realised on the features as x <- x (I - beta phi phi^T)
        if sign > 0:
            e = float(self.d[j]) + self.s2
            beta = 1.0 / (math.sqrt(e) * (math.sqrt(e) + self.sigma))
            kappa = 1.0 / e
        else:
            e = max(self.s2 - float(self.d[j]), 1e-15)
            beta = -1.0 / (math.sqrt(e) * (math.sqrt(e) + self.sigma))
            kappa = -1.0 / e
        g = self.x @ phi
        c = self.C @ phi
        q = float(phi @ c)
        fc = self.x @ c
        # s_i = sum_z k(x_i, z)^2 <- sum_z (k_iz - kappa g_i g_z)^2
        self.s += -2.0 * kappa * fc * g + (kappa**2 * q) * g * g
        self.C += -beta * (torch.outer(c, phi) + torch.outer(phi, c)) + (
            beta**2 * q
        ) * torch.outer(phi, phi)
        self.x -= beta * torch.outer(g, phi)
        self.d -= kappa * g * g

    def add(self, j: int) -> None:
        self._update(j, 1.0)
        super().add(j)

    def backward(self, chosen: list[int]) -> int:
        """The chosen point whose removal costs least (largest score), or fail."""
        idx = torch.as_tensor(chosen, device=self.device)
        den = self.d[idx] - self.s2
        num = self.s[idx].clamp_min(0.0)
        score = torch.where(den < 0, num / den, torch.full_like(den, -math.inf))
        k = int(torch.argmax(score))
        if not (math.isfinite(float(score[k])) and float(score[k]) < 0):
            raise _Failed(f"bait backward step: best score {float(score[k]):.3g}")
        return chosen[k]

    def remove(self, j: int) -> None:
        self._update(j, -1.0)
        self.taken[j] = False


class _FrankWolfe(_State):
    """ACS-FW: approach ``L = Σ_i φ_i`` by steps towards ``R φ_j / r_j``."""

    def __init__(self, x: torch.Tensor, n_pool: int):
        super().__init__(x.shape[0], n_pool, x.device)
        r = (x * x).sum(1).sqrt()
        self.R = float(r.sum())
        self.xhat = x / (r[:, None] + 1e-30)
        self.target = x.sum(0)
        self.w = torch.zeros_like(self.target)

    def next(self, rng: np.random.Generator) -> int:
        return self.argmax(self.xhat @ (self.target - self.w), "fw")

    def add(self, j: int) -> None:
        u = self.R * self.xhat[j]
        diff = u - self.w
        den = float(diff @ diff)
        gamma = float(diff @ (self.target - self.w)) / den if den > 0 else 0.0
        self.w = (1 - gamma) * self.w + gamma * u
        super().add(j)


class _Distance(_State):
    """Squared distance of every point to its nearest center (and which)."""

    def __init__(self, points: DensePoints | GramPoints, n_pool: int):
        dev = points.sq.device
        super().__init__(points.n, n_pool, dev)
        self.points = points
        self.m = torch.full((self.n,), math.inf, dtype=points.sq.dtype, device=dev)
        self.center = torch.full((self.n,), -1, dtype=torch.long, device=dev)
        self.has_center = False

    def add(self, j: int) -> None:
        d2 = self.points.sqdist_to(j)
        closer = d2 < self.m
        self.m = torch.where(closer, d2, self.m)
        self.center[closer] = j
        self.m[j] = 0.0
        self.center[j] = j
        self.has_center = True
        super().add(j)

    def add_many(self, idx: list[int], chunk: int = 256) -> None:
        """Add several centers at once (the training points of mode TP).

        Equal to adding them one by one: each point keeps its smallest squared
        distance and the first center that attains it; distances come from one
        ``(rows, chunk)`` block per chunk instead of one pass per center.
        """
        # DensePoints: row chunks keep each distance block near 64 MB (a pool of
        # 10^6 rows against 256 centers would be 1 GB); a Gram computes whole columns
        dense = isinstance(self.points, DensePoints)
        for s in range(0, len(idx), chunk):
            block = torch.as_tensor(
                idx[s : s + chunk], dtype=torch.long, device=self.device
            )
            step = max(1, BLOCK_ENTRIES // block.numel()) if dense else self.n
            for r in range(0, self.n, step):
                rows = slice(r, r + step)
                d2 = self.points.sqdist_block(block, rows)
                best, arg = d2.min(1)
                m, center = self.m[rows], self.center[rows]
                closer = best < m
                m.copy_(torch.where(closer, best, m))
                center[closer] = block[arg[closer]]
            # a center is its own nearest center, as add() (also when duplicated)
            self.m[block] = 0.0
            self.center[block] = block
        if idx:
            self.has_center = True
            self.taken[torch.as_tensor(idx, dtype=torch.long, device=self.device)] = (
                True
            )

    def first(self, what: str) -> int:
        return self.argmax(self.points.sq_norms(), what)


class _MaxDist(_Distance):
    def next(self, rng: np.random.Generator) -> int:
        if not self.has_center:
            return self.first("maxdist")
        return self.argmax(self.m, "maxdist")


class _KMeansPP(_Distance):
    def next(self, rng: np.random.Generator) -> int:
        free = ~self.taken[: self.n_pool]
        if not self.has_center:
            return int(rng.choice(np.flatnonzero(free.cpu().numpy())))
        w = self.masked(self.m).clamp_min(0.0).cpu().numpy().astype(np.float64)
        w[~np.isfinite(w)] = 0.0
        total = w.sum()
        if not total > 0:
            raise _Failed("kmeanspp: every remaining point lies on a center")
        return int(rng.choice(w.size, p=w / total))


class _LCMD(_Distance):
    def __init__(self, points: DensePoints | GramPoints, n_pool: int, weight_mode: str):
        super().__init__(points, n_pool)
        self.weight_mode = weight_mode

    def next(self, rng: np.random.Generator) -> int:
        if not self.has_center:
            return self.first("lcmd")
        free = ~self.taken[: self.n_pool]
        m = self.m[: self.n_pool]
        if self.weight_mode == "sq-dist":
            contrib = m
        elif self.weight_mode == "dist":
            contrib = m.sqrt()
        else:
            contrib = torch.ones_like(m)
        contrib = torch.where(free, contrib, torch.zeros_like(contrib))
        weights = torch.zeros(self.n, dtype=m.dtype, device=self.device)
        weights.index_add_(0, self.center[: self.n_pool], contrib)
        best = weights.max()
        in_best = (weights[self.center[: self.n_pool]] == best) & free
        score = torch.where(in_best, m, torch.full_like(m, -math.inf))
        full = torch.full((self.n,), -math.inf, dtype=m.dtype, device=self.device)
        full[: self.n_pool] = score
        return self.argmax(full, "lcmd")


# ------------------------------------------------------------------ driver
def _as64(x: Any, name: str, dtype: torch.dtype | None = torch.float64) -> torch.Tensor:
    return as_float_tensor(x, name, dtype=dtype)


def _bait_rank_one(
    xp: torch.Tensor,
    xt: torch.Tensor,
    n_select: int,
    n_forward: int,
    sigma: float,
    mode: str,
    gen: np.random.Generator,
) -> BatchResult:
    """BMDAL's bait as the rank-one A-optimal design (same picks, O(N p) a step).

    Observing ``x`` under noise ``σ²`` turns the kernel into ``φᵀ P φ'`` with
    ``P = (I + Σ_S φφᵀ/σ²)⁻¹``, so ``d_i = φ_iᵀPφ_i`` and ``s_i = φ_iᵀ P C P φ_i``
    (``C = Σ_T φφᵀ``) are BAIT's ``a`` and ``b`` for features ``φ/σ`` and
    precision ``I`` (plus the training points in mode tp): the forward score
    ``s/(d + σ²)`` and the backward score ``s/(d - σ²)`` are exactly
    `greedy_a_optimal_rank_one`'s, which never
    rewrites the ``N x p`` feature matrix.
    """
    from labelwise.kernels._design import greedy_a_optimal_rank_one

    p = xp.shape[1]
    fisher = xp.t() @ xp + xt.t() @ xt
    precision = torch.eye(p, dtype=xp.dtype, device=xp.device)
    if mode == "tp":
        precision = precision + xt.t() @ xt / sigma**2
    # stored transposed, so the kernel's (d, n) copy is this array itself
    feats = (xp.t() / sigma).contiguous().t()
    idx, gains = greedy_a_optimal_rank_one(
        feats, n_select, fisher=fisher, precision=precision, n_forward=n_forward
    )
    bad = np.flatnonzero(~(gains > 0))
    if bad.size == 0:
        return BatchResult(idx)
    t = int(bad[0])  # the reference stops at the first non-positive score
    chosen: list[int] = []
    if t:
        first, _ = greedy_a_optimal_rank_one(
            feats, t, fisher=fisher, precision=precision, n_forward=t
        )
        chosen = first[:n_select].tolist()
    n_random = n_select - len(chosen)
    free = np.setdiff1d(np.arange(xp.shape[0]), np.asarray(chosen, dtype=np.int64))
    chosen += gen.choice(free, size=n_random, replace=False).tolist()
    message = (
        f"bait: the best remaining score is {gains[t]:.3g} <= 0; filled {n_random} "
        f"of {n_select} slots at random"
    )
    return BatchResult(np.asarray(chosen, dtype=np.int64), n_random, message)


def _check_options(
    method: str, mode: str | None, weight_mode: str, sigma: float, overselection: float
) -> str:
    """Validate the selection options; return the mode to use."""
    if method not in METHODS:
        raise InvalidParameterError(
            f"Unknown BMDAL selection method {method!r}; valid: {', '.join(METHODS)}."
        )
    mode = DEFAULT_MODE.get(method, "p") if mode is None else mode
    if mode not in ("p", "tp"):
        raise InvalidParameterError(f"mode must be 'p' or 'tp'; got {mode!r}.")
    if weight_mode not in WEIGHT_MODES:
        raise InvalidParameterError(
            f"weight_mode must be one of {', '.join(WEIGHT_MODES)}; got "
            f"{weight_mode!r}."
        )
    if not sigma >= 0 or not overselection >= 1:
        raise InvalidParameterError(
            f"Need sigma >= 0 and overselection >= 1; got sigma={sigma!r}, "
            f"overselection={overselection!r}."
        )
    return mode


def _run(
    state: Any,
    n_pool: int,
    n_total: int,
    n_select: int,
    n_forward: int,
    gen: np.random.Generator,
) -> BatchResult:
    """Add the training points (rows ``n_pool..n_total``), then select greedily.

    Forward to ``n_forward`` points, remove the excess backwards (BAIT-FB), and
    fill what a failure left open uniformly at random, saying so.
    """
    chosen: list[int] = []
    message = None
    try:
        if hasattr(state, "add_many"):  # training points first (mode tp)
            state.add_many(list(range(n_pool, n_total)))
        else:
            for t in range(n_pool, n_total):
                state.add(t)
        while len(chosen) < n_forward:
            j = state.next(gen)
            state.add(j)
            chosen.append(j)
    except _Failed as exc:
        message = str(exc)
    if message is None and len(chosen) > n_select:
        try:
            while len(chosen) > n_select:
                j = state.backward(chosen)
                state.remove(j)
                chosen.remove(j)
        except _Failed as exc:
            message = str(exc)
            chosen = chosen[:n_select]
    elif len(chosen) > n_select:
        chosen = chosen[:n_select]
    n_random = n_select - len(chosen)
    if n_random:
        free = np.setdiff1d(np.arange(n_pool), np.asarray(chosen, dtype=np.int64))
        chosen += gen.choice(free, size=n_random, replace=False).tolist()
        message = f"{message}; filled {n_random} of {n_select} slots at random"
    return BatchResult(np.asarray(chosen, dtype=np.int64), n_random, message)


def _maxdiag(diag: torch.Tensor, n_select: int) -> BatchResult:
    order = np.argsort(-diag.cpu().numpy(), kind="stable")[:n_select]
    return BatchResult(order.astype(np.int64))


def feature_dtype(
    method: str,
    sigma: float,
    shape: tuple[int, int],
    given: torch.dtype = torch.float64,
) -> torch.dtype:
    """The dtype `select_bmdal` computes ``method`` in on features of ``shape``.

    maxdet with ``σ > 0`` on features narrower than the feature set keeps
    float32 or float64 features as ``given`` (its variances are float64 either
    way, see the module docstring); maxdet otherwise and bait need float64; the
    other methods run in float32. A caller that builds the features can store
    them in this dtype and spare `select_bmdal` a converted copy.

    Args:
        method: One of `METHODS`.
        sigma: The ``sigma`` passed to `select_bmdal`.
        shape: ``(rows of the feature set, width)``; the feature set is the pool,
            plus the training points in mode ``"tp"``.
        given: The features' dtype.

    Returns:
        ``torch.float32`` or ``torch.float64``.
    """
    if method == "maxdet" and sigma > 0 and shape[1] < shape[0]:
        return given if given in (torch.float32, torch.float64) else torch.float64
    return torch.float64 if method in ("maxdet", "bait") else torch.float32


def select_bmdal(
    pool: Any,
    train: Any,
    n_select: int,
    *,
    method: str = "lcmd",
    mode: str | None = None,
    sigma: float = 0.0,
    overselection: float = 1.0,
    weight_mode: str = "sq-dist",
    rng: RNGLike = None,
) -> BatchResult:
    """Select ``n_select`` pool rows with a BMDAL selection method.

    Args:
        pool: Pool features ``(n_pool, p)``.
        train: Training features ``(n_train, p)``; ``None`` or 0 rows for none.
        n_select: Batch size, ``1 <= n_select <= n_pool``.
        method: One of `METHODS`. Defaults to ``"lcmd"``.
        mode: ``"p"`` or ``"tp"``; defaults to the method's (see the table).
            Ignored by ``random`` and ``maxdiag``.
        sigma: Noise standard deviation of ``maxdet`` (``σ_det``) and ``bait``
            (``σ_bait``); BMDAL's benchmark uses the posterior σ = 1e-3.
        overselection: BAIT-FB's factor ``f``: forward to ``round(f B)`` points,
            then remove the excess backwards. 1 = forward only.
        weight_mode: ``lcmd`` cluster weight: ``"sq-dist"`` (sum of squared
            distances), ``"dist"`` or ``"none"`` (point count).
        rng: Seed or generator (``random``, ``kmeanspp``, the random fill).

    Returns:
        A `BatchResult`.

    Examples:
        >>> x = np.array([[0.0], [1.0], [5.0], [6.0]])
        >>> select_bmdal(x, np.zeros((1, 1)), 2, method="maxdist").indices.tolist()
        [3, 1]
    """
    mode = _check_options(method, mode, weight_mode, sigma, overselection)
    xp = _as64(pool, "pool", None)
    if train is None or np.shape(train)[0] == 0:
        xt = xp[:0]
    else:
        xt = _as64(train, "train", None).to(xp.device)
    if xt.shape[1] != xp.shape[1]:
        raise InvalidParameterError(
            f"pool and train features differ in width: {xp.shape[1]} vs {xt.shape[1]}."
        )
    if method == "bait":
        check_square_width(xp.shape[1], "bmdal's bait selection", xp.device)
    n_pool = xp.shape[0]
    n_select = _check_n_select(n_select, n_pool)
    n_rows = n_pool + (xt.shape[0] if mode == "tp" else 0)
    dtype = feature_dtype(method, sigma, (n_rows, xp.shape[1]), xp.dtype)
    xp, xt = xp.to(dtype), xt.to(dtype)
    gen = check_rng(rng)
    if method == "random":
        return BatchResult(gen.permutation(n_pool)[:n_select].astype(np.int64))
    if method == "maxdiag":
        return _maxdiag((xp * xp).sum(1), n_select)
    parts = (xp, xt) if mode == "tp" else (xp,)
    n_total = n_pool + (xt.shape[0] if mode == "tp" else 0)
    if method in ("maxdist", "kmeanspp", "lcmd"):
        points = DensePoints.stacked(*parts)  # no concatenated copy
        state: Any
        if method == "maxdist":
            state = _MaxDist(points, n_pool)
        elif method == "kmeanspp":
            state = _KMeansPP(points, n_pool)
        else:
            state = _LCMD(points, n_pool, weight_mode)
        return _run(state, n_pool, n_total, n_select, n_select, gen)
    x = torch.cat(parts) if mode == "tp" else xp
    n_forward = n_select
    if method == "bait" and overselection > 1:
        n_forward = min(round(overselection * n_select), n_pool)
    if method == "bait" and sigma > 0:
        return _bait_rank_one(xp, xt, n_select, n_forward, sigma, mode, gen)
    if method == "maxdet" and sigma > 0 and x.shape[1] < x.shape[0]:
        state = _MaxDetFeatures(x, n_pool, sigma)
    elif method == "maxdet":
        state = _MaxDet(FeatureGram(x), n_pool, sigma, n_forward + x.shape[0] - n_pool)
    elif method == "bait":
        state = _Bait(x, n_pool, sigma, xt if mode == "p" else xt[:0])
    else:
        state = _FrankWolfe(x, n_pool)
    return _run(state, n_pool, x.shape[0], n_select, n_forward, gen)


KERNEL_METHODS = ("random", "maxdiag", "maxdet", "maxdist", "kmeanspp", "lcmd")


def select_bmdal_kernel(
    gram: Gram,
    n_pool: int,
    n_select: int,
    *,
    method: str = "lcmd",
    mode: str | None = None,
    sigma: float = 0.0,
    weight_mode: str = "sq-dist",
    rng: RNGLike = None,
) -> BatchResult:
    """`select_bmdal` on a kernel given by evaluations (kernel space).

    For kernels without (affordable) features: ``nngp`` and the kernel-space
    posterior. Only the methods that need kernel columns and the diagonal run
    here (`KERNEL_METHODS`); ``bait`` needs ``Σ_z k(x, z)²`` over the whole
    set (``O(n²)`` per step in kernel space) and ``fw`` needs the feature sum,
    so both ask for features.

    Args:
        gram: The kernel over the pool points followed by the training points,
            ``gram.n = n_pool + n_train``.
        n_pool: How many of the leading points are the pool.
        n_select: Batch size, ``1 <= n_select <= n_pool``.
        method: One of `KERNEL_METHODS`. Defaults to ``"lcmd"``.
        mode: ``"p"`` or ``"tp"``; defaults to the method's.
        sigma: ``σ_det`` of ``maxdet``.
        weight_mode: ``lcmd`` cluster weight, as `select_bmdal`.
        rng: Seed or generator (``random``, ``kmeanspp``, the random fill).

    Returns:
        A `BatchResult` of pool rows.

    Examples:
        >>> from labelwise.kernels._kspace import FeatureGram
        >>> g = FeatureGram(np.array([[0.0], [1.0], [5.0], [6.0], [0.0]]))
        >>> select_bmdal_kernel(g, 4, 2, method="maxdist").indices.tolist()
        [3, 1]
    """
    if not isinstance(gram, Gram):
        raise InvalidParameterError(
            f"gram must be a labelwise Gram (kernel space); got {type(gram).__name__}. "
            "For feature matrices use select_bmdal."
        )
    if not 0 < int(n_pool) <= gram.n:
        raise InvalidParameterError(
            f"n_pool must be in [1, {gram.n}] (the kernel's size); got {n_pool!r}."
        )
    n_pool = int(n_pool)
    n_select = _check_n_select(n_select, n_pool)
    mode = _check_options(method, mode, weight_mode, sigma, 1.0)
    if method not in KERNEL_METHODS:
        raise InvalidParameterError(
            f"{method!r} needs explicit features and cannot run in kernel space; "
            f"kernel-space methods: {', '.join(KERNEL_METHODS)}. Use a base kernel "
            "with features (linear, ll, grad) and feature-space transforms."
        )
    gen = check_rng(rng)
    if method == "random":
        return BatchResult(gen.permutation(n_pool)[:n_select].astype(np.int64))
    if method == "maxdiag":
        return _maxdiag(gram.diag()[:n_pool], n_select)
    g = gram if mode == "tp" else HeadGram(gram, n_pool)
    state: Any
    if method == "maxdet":
        state = _MaxDet(g, n_pool, sigma, n_select + g.n - n_pool)
    elif method == "maxdist":
        state = _MaxDist(GramPoints(g), n_pool)
    elif method == "kmeanspp":
        state = _KMeansPP(GramPoints(g), n_pool)
    else:
        state = _LCMD(GramPoints(g), n_pool, weight_mode)
    return _run(state, n_pool, g.n, n_select, n_select, gen)
