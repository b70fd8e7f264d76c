"""Kernels given by evaluations rather than features (BMDAL's kernel space).

A `Gram` stands for the ``n x n`` kernel matrix of a point set without
forming it: it gives the diagonal and any columns on demand. The BMDAL selection
methods that only need kernel rows and the diagonal (``maxdiag``, ``maxdet``,
``maxdist``, ``kmeanspp``, ``lcmd``) run on it, so infinite-dimensional kernels
(``nngp``) and the kernel-space posterior work with them
(Holzmüller et al., JMLR 2023, §4;
written from the formulas):

================ ==============================================================
gram             ``k(x_i, x_j)``
================ ==============================================================
FeatureGram      ``<φ_i, φ_j>`` of explicit features
NNGPGram         ReLU NNGP of an ``L``-layer network (arc-cosine recursion)
ScaledGram       ``c² k``
PosteriorGram    ``k(x, x') - z(x)ᵀ z(x')`` with ``z(x) = L̃⁻¹ k(X_tr, x)`` and
                 ``L̃ L̃ᵀ = K_tr + σ² I`` (robust Cholesky)
================ ==============================================================

Everything is float64, on the device of the data (a CUDA tensor stays on its
GPU). Columns are computed from data stored transposed (``(d, n)``,
contiguous), which torch's CPU BLAS reads fastest.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import torch

from labelwise._validation import check_features
from labelwise.exceptions import InvalidParameterError
from labelwise.kernels._inputs import check_finite_tensor
from labelwise.kernels._transforms import robust_cholesky


def _index(idx: Any, device: torch.device | None = None) -> torch.Tensor:
    if isinstance(idx, torch.Tensor):
        return idx.reshape(-1).to(device=device, dtype=torch.long)
    return torch.as_tensor(np.asarray(idx, dtype=np.int64).reshape(-1), device=device)


def _float64(x: Any) -> torch.Tensor:
    """``x`` as a float64 tensor on its own device (numpy: on the CPU)."""
    if isinstance(x, torch.Tensor):
        return x.detach().to(torch.float64)
    return torch.as_tensor(np.asarray(x), dtype=torch.float64)


class Gram:
    """A kernel matrix over ``n`` points, evaluated lazily (float64).

    Subclasses implement `diag` and `cols`.
    """

    n: int

    def diag(self) -> torch.Tensor:
        """``k(x_i, x_i)`` for every point, shape ``(n,)``."""
        raise NotImplementedError

    def cols(self, idx: Any) -> torch.Tensor:
        """``k(x_i, x_j)`` for every ``i`` and ``j`` in ``idx``, shape ``(n, m)``."""
        raise NotImplementedError

    def row(self, j: int) -> torch.Tensor:
        """``k(x_i, x_j)`` for every ``i``, shape ``(n,)``."""
        return self.cols([j])[:, 0]

    def dense(self) -> torch.Tensor:
        """The full ``(n, n)`` matrix (for small ``n``: tests, references)."""
        return self.cols(np.arange(self.n))


class FeatureGram(Gram):
    """``k(x_i, x_j) = <φ_i, φ_j>`` of a feature matrix ``(n, p)``."""

    def __init__(self, features: Any):
        f = _float64(features)
        if f.ndim != 2:
            raise InvalidParameterError(
                f"features must have shape (n, p); got {tuple(f.shape)}."
            )
        self.n = int(f.shape[0])
        self.ft = f.t().contiguous()
        self._diag = (self.ft * self.ft).sum(0)

    def diag(self) -> torch.Tensor:
        return self._diag

    def cols(self, idx: Any) -> torch.Tensor:
        return self.ft.t() @ self.ft[:, _index(idx, self.ft.device)]

    def row(self, j: int) -> torch.Tensor:
        return torch.mv(self.ft.t(), self.ft[:, j].contiguous())


class NNGPGram(Gram):
    """ReLU NNGP kernel of a fully connected network with ``n_layers`` layers.

    ``k₁(x, x') = σ_w² xᵀx' / d + σ_b²`` and, for ``l = 1 .. L-1``, with
    ``θ = arccos(k_l(x,x') / (sqrt(k_l(x,x) k_l(x',x')) + 1e-30))`` (cosine
    clipped to [-1, 1]),
    ``k_{l+1}(x, x') = σ_w² sqrt(k_l(x,x) k_l(x',x')) (sin θ + (π - θ) cos θ) / (2π)
    + σ_b²``; the diagonal follows ``k_{l+1}(x,x) = σ_w² k_l(x,x) / 2 + σ_b²``.

    Args:
        X: Inputs ``(n, ...)``, flattened to ``(n, d)``.
        n_layers: ``L``, the network's number of linear layers. Defaults to 3.
        sigma_w: Weight gain ``σ_w``. Defaults to 0.25 (bmdal_reg's default;
            its benchmark passes the network's 0.2).
        sigma_b: Bias gain ``σ_b``. Defaults to 0 (bmdal_reg: biases start at
            zero, so the NNGP has none).

    Examples:
        >>> g = NNGPGram(np.eye(2), n_layers=1, sigma_w=1.0)
        >>> g.dense().tolist()
        [[0.5, 0.0], [0.0, 0.5]]
    """

    def __init__(
        self,
        X: Any,
        *,
        n_layers: int = 3,
        sigma_w: float = 0.25,
        sigma_b: float = 0.0,
    ):
        if isinstance(X, torch.Tensor):
            check_finite_tensor(X, "X")
            x = X.detach().reshape(X.shape[0], -1).to(torch.float64)
        else:
            arr = check_features(X, name="X", ndim_min=2)
            x = torch.as_tensor(arr.reshape(arr.shape[0], -1), dtype=torch.float64)
        if int(n_layers) < 1 or not sigma_w > 0 or not sigma_b >= 0:
            raise InvalidParameterError(
                "nngp needs n_layers >= 1, sigma_w > 0 and sigma_b >= 0; got "
                f"n_layers={n_layers!r}, sigma_w={sigma_w!r}, sigma_b={sigma_b!r}."
            )
        self.n = int(x.shape[0])
        self.n_layers = int(n_layers)
        self.sw2, self.sb2 = float(sigma_w) ** 2, float(sigma_b) ** 2
        self.d = int(x.shape[1])
        self.xt = x.t().contiguous()
        first = self.sw2 * (self.xt * self.xt).sum(0) / self.d + self.sb2
        self.diags: list[torch.Tensor] = [first]
        for _ in range(self.n_layers - 1):
            self.diags.append(self.sw2 * self.diags[-1] / 2 + self.sb2)

    def diag(self) -> torch.Tensor:
        return self.diags[-1]

    def cols(self, idx: Any) -> torch.Tensor:
        i = _index(idx, self.xt.device)
        k: torch.Tensor = self.sw2 * (self.xt.t() @ self.xt[:, i]) / self.d + self.sb2
        for diag in self.diags[:-1]:
            root = torch.sqrt(diag[:, None] * diag[i][None, :])
            cos = (k / (root + 1e-30)).clamp_(-1.0, 1.0)
            theta = torch.arccos(cos)
            k = (
                self.sw2
                / (2 * math.pi)
                * root
                * (torch.sin(theta) + (math.pi - theta) * cos)
                + self.sb2
            )
        return k


class ScaledGram(Gram):
    """``factor² k``."""

    def __init__(self, base: Gram, factor: float):
        self.base, self.n, self.c2 = base, base.n, float(factor) ** 2

    def diag(self) -> torch.Tensor:
        return self.c2 * self.base.diag()

    def cols(self, idx: Any) -> torch.Tensor:
        return self.c2 * self.base.cols(idx)

    def row(self, j: int) -> torch.Tensor:
        return self.c2 * self.base.row(j)


def scale_gram(base: Gram, train: Any, factor: float | None = None) -> Gram:
    """``scale`` in kernel space: ``None`` gives unit mean variance on ``train``.

    Args:
        base: The kernel.
        train: Indices of the training points in ``base``.
        factor: Kernel multiplier's square root; ``None`` = ``1 / sqrt(mean
            k(x, x))`` over ``train`` (1 when there are none or they are 0).
    """
    if factor is None:
        diag = base.diag()
        t = _index(train, diag.device)
        mean = float(diag[t].mean()) if t.numel() else 0.0
        factor = 1.0 / math.sqrt(mean) if mean > 0 else 1.0
    return ScaledGram(base, factor)


class PosteriorGram(Gram):
    """GP posterior kernel given the points ``train`` observed with noise ``σ²``.

    ``k_post(x, x') = k(x, x') - k(x, X_tr) (K_tr + σ² I)⁻¹ k(X_tr, x')``, held as
    ``z = L̃⁻¹ k(X_tr, ·)`` (``(n_train, n)``) so a column costs one base column
    and one ``n x n_train`` product.

    Args:
        base: The prior kernel.
        train: Indices of the observed points in ``base``.
        sigma: Noise standard deviation, > 0.
    """

    def __init__(self, base: Gram, train: Any, sigma: float):
        if not sigma > 0:
            raise InvalidParameterError(
                f"train/posterior needs sigma > 0; got {sigma!r}."
            )
        self.base, self.n = base, base.n
        dev = base.diag().device
        t = _index(train, dev)
        if t.numel():
            k_tr = base.cols(t)  # (n, m)
            chol = robust_cholesky(
                k_tr[t]
                + sigma**2 * torch.eye(t.numel(), dtype=torch.float64, device=dev)
            )
            self.z = torch.linalg.solve_triangular(
                chol, k_tr.t().contiguous(), upper=False
            )
        else:
            self.z = torch.zeros(0, base.n, dtype=torch.float64, device=dev)
        self._diag: torch.Tensor = base.diag() - (self.z * self.z).sum(0)

    def diag(self) -> torch.Tensor:
        return self._diag

    def cols(self, idx: Any) -> torch.Tensor:
        i = _index(idx, self.z.device)
        out: torch.Tensor = self.base.cols(i) - self.z.t() @ self.z[:, i]
        return out

    def row(self, j: int) -> torch.Tensor:
        out: torch.Tensor = self.base.row(j) - torch.mv(
            self.z.t(), self.z[:, j].contiguous()
        )
        return out


class HeadGram(Gram):
    """The first ``n`` points of ``base`` (mode P on a pool ∪ train kernel)."""

    def __init__(self, base: Gram, n: int):
        self.base, self.n = base, int(n)

    def diag(self) -> torch.Tensor:
        return self.base.diag()[: self.n]

    def cols(self, idx: Any) -> torch.Tensor:
        return self.base.cols(idx)[: self.n]

    def row(self, j: int) -> torch.Tensor:
        return self.base.row(j)[: self.n]


class GramPoints:
    """Squared kernel distances ``k(x,x) + k(x',x') - 2 k(x,x')`` to one point."""

    def __init__(self, gram: Gram):
        self.gram = gram
        self.n = gram.n
        self.sq = gram.diag()

    def sqdist_to(self, i: int) -> torch.Tensor:
        """Squared distances of all points to point ``i``, shape ``(n,)``."""
        out = self.gram.row(i).mul(-2.0).add_(self.sq).add_(self.sq[i])
        return out.clamp_min_(0.0)

    def sq_norms(self) -> torch.Tensor:
        """``k(x, x)``, shape ``(n,)``."""
        return self.sq

    def sqdist_block(
        self, idx: torch.Tensor, rows: slice = slice(None)
    ) -> torch.Tensor:
        """Squared distances of points ``rows`` to the points ``idx``, ``(r, m)``."""
        out = self.gram.cols(idx)[rows].mul_(-2.0)
        out.add_(self.sq[rows, None]).add_(self.sq[idx][None, :])
        return out.clamp_min_(0.0)
