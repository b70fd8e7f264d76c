"""Kernel transforms of the BMDAL framework, on explicit feature matrices.

A kernel ``k(x, x') = <φ(x), φ(x')>`` is carried by its features; each transform
maps the pool and training features to new ones (Holzmüller et al., JMLR 2023,
§4; written from the formulas). All computations run in float64.

=============== ===============================================================
transform       new features
=============== ===============================================================
scale           ``c φ`` with ``c = 1 / sqrt(mean_train k(x, x))`` (or given)
train (σ)       GP posterior given the training points with noise σ²:
                ``σ L⁻¹ φ`` with ``L Lᵀ = Φ_trᵀ Φ_tr + σ² I`` (robust Cholesky)
rp (p)          Gaussian sketch ``Pᵀ φ``, ``P_ij ~ N(0, 1/p)``
ens             concatenation of several models' features (sum of kernels)
acs-grad (σ)    product of the prior and posterior kernels over σ⁴ (tensor
                product of the features, tensor-sketched above ``max_dim``)
acs-rf (p, σ)   ACS-FW random features of the Gaussian-likelihood posterior
acs-rf-hyper    the same with an inverse-Gamma noise prior (needs ``y``)
=============== ===============================================================

The kernel-space variant of ``train`` (for feature dimensions far above the
number of training points) is not provided: explicit features are sketched to
a few hundred dimensions first, as BMDAL's recommended configurations do.

Feature tensors stay on their device (a CUDA tensor is transformed on its GPU);
random projections are drawn on the CPU from the seed and moved there, so the
same seed gives the same projection on every device.
"""

from __future__ import annotations

import math
import warnings
from typing import Any

import numpy as np
import torch

from labelwise._typing import RNGLike
from labelwise._validation import check_rng, child_seed
from labelwise.exceptions import InvalidParameterError, NumericsWarning
from labelwise.kernels._inputs import check_square_width

Pair = tuple[torch.Tensor, torch.Tensor]


def _raw(x: Any) -> torch.Tensor:
    """``x`` as a tensor without a copy (numpy: on the CPU; torch: its device)."""
    return x.detach() if isinstance(x, torch.Tensor) else torch.as_tensor(np.asarray(x))


def _t(x: Any) -> torch.Tensor:
    return _raw(x).to(torch.float64)


def _fresh(x: Any) -> torch.Tensor:
    """A float64 copy of ``x`` that may be changed in place (one copy only)."""
    src = _raw(x)
    out = src.to(torch.float64)
    return out.clone() if src.dtype == torch.float64 else out


def robust_cholesky(a: torch.Tensor, max_tries: int = 15) -> torch.Tensor:
    """Lower Cholesky factor of a symmetric PSD matrix, adding jitter if needed.

    On failure (an exception or NaN) it retries with ``a + ε I``, ``ε₀ = 1e-5
    trace / n + 1e-30``, doubling ``ε`` each time, up to ``max_tries`` times
    (the BMDAL code's rule), and warns with `NumericsWarning` when jitter
    was needed.

    Examples:
        >>> robust_cholesky(torch.eye(2, dtype=torch.float64)).tolist()
        [[1.0, 0.0], [0.0, 1.0]]
    """
    n = a.shape[0]
    eps = 1e-5 * float(torch.trace(a)) / max(n, 1) + 1e-30
    eye = torch.eye(n, dtype=a.dtype, device=a.device)
    for attempt in range(max_tries + 1):
        m = a if attempt == 0 else a + eps * (2 ** (attempt - 1)) * eye
        factor: torch.Tensor
        factor, info = torch.linalg.cholesky_ex(m)
        if int(info) == 0 and not bool(torch.isnan(factor).any()):
            if attempt:
                warnings.warn(
                    f"Cholesky needed jitter {eps * 2 ** (attempt - 1):.3g} "
                    f"(attempt {attempt}).",
                    NumericsWarning,
                    stacklevel=2,
                )
            return factor
    raise InvalidParameterError(
        f"Cholesky failed even with jitter {eps * 2 ** (max_tries - 1):.3g}: the "
        "matrix is not positive semi-definite (NaN or infinite features?)."
    )


def _cpu_normal(shape: tuple[int, int], rng: RNGLike) -> torch.Tensor:
    """Standard normal float64 draws from a CPU generator seeded by ``rng``."""
    gen = torch.Generator().manual_seed(child_seed(check_rng(rng)))
    return torch.randn(*shape, generator=gen, dtype=torch.float64)


_ROWS = 8192


def _rowwise(
    f: Any,
    width: int,
    fn: Any,
    factor: float = 1.0,
    chunk: int = _ROWS,
    dtype: torch.dtype = torch.float64,
) -> torch.Tensor:
    """``fn`` over row chunks of ``factor · f`` (float64) into one new array.

    Bounds the temporaries of a transform to ``chunk`` rows, and reads a float32
    input without a full float64 copy; the result is stored in ``dtype``.
    """
    src = _raw(f)
    out = torch.empty(src.shape[0], width, dtype=dtype, device=src.device)
    for s in range(0, src.shape[0], chunk):
        block = src[s : s + chunk].to(torch.float64)
        if factor != 1.0:
            block = block * factor
        out[s : s + chunk] = fn(block)
    return out


def scale_factor(train: Any) -> float:
    """``1 / sqrt(mean_train k(x, x))`` (1 without training points or when 0)."""
    ft = _t(train)
    mean = float((ft * ft).sum(1).mean()) if ft.shape[0] else 0.0
    return 1.0 / math.sqrt(mean) if mean > 0 else 1.0


def scale(pool: Any, train: Any, factor: float | None = None) -> Pair:
    """Multiply the kernel by ``factor²``; ``None``: unit mean training variance.

    Args:
        pool: Pool features ``(n_pool, p)``.
        train: Training features ``(n_train, p)``.
        factor: Feature multiplier. ``None`` uses ``1 / sqrt(mean_train
            k(x, x))`` (1 when there are no training points or they are 0).

    Returns:
        ``(pool, train)`` features.
    """
    fp, ft = _fresh(pool), _fresh(train)
    if factor is None:
        mean = float((ft * ft).sum(1).mean()) if ft.shape[0] else 0.0
        factor = 1.0 / math.sqrt(mean) if mean > 0 else 1.0
    return fp.mul_(factor), ft.mul_(factor)


def posterior(
    pool: Any,
    train: Any,
    sigma: float,
    *,
    prescale: float = 1.0,
    dtype: torch.dtype = torch.float64,
) -> Pair:
    """GP posterior kernel given the training points (noise ``σ²``), as features.

    ``φ_post = σ L⁻¹ φ`` with ``L Lᵀ = Φ_trᵀ Φ_tr + σ² I``, so that
    ``<φ_post(x), φ_post(x')> = k(x, x') - k(x, X_tr) (K_tr + σ² I)⁻¹ k(X_tr, x')``.

    Args:
        pool: Pool features ``(n_pool, p)``.
        train: Training features ``(n_train, p)``.
        sigma: Noise standard deviation, > 0.
        prescale: Multiply the features by this first (``scale``'s factor),
            without a scaled copy.
        dtype: Dtype of the result, ``torch.float64`` (default) or
            ``torch.float32`` (half the memory; each row is computed in float64
            and rounded once).

    Returns:
        ``(pool, train)`` posterior features (computed in float64 row chunks).
    """
    if dtype not in (torch.float32, torch.float64):
        raise InvalidParameterError(
            f"posterior: dtype must be torch.float32 or torch.float64; got {dtype}."
        )
    if not sigma > 0:
        raise InvalidParameterError(f"train/posterior needs sigma > 0; got {sigma!r}.")
    raw = _raw(train)
    check_square_width(raw.shape[1], "train (the posterior)", raw.device)
    ft = _t(train) * prescale
    p = ft.shape[1]
    chol = robust_cholesky(
        ft.t() @ ft + sigma**2 * torch.eye(p, dtype=ft.dtype, device=ft.device)
    )

    def tf(f: torch.Tensor) -> torch.Tensor:
        out: torch.Tensor = torch.linalg.solve_triangular(chol, f.t(), upper=False)
        return out.mul_(sigma).t()

    return (
        _rowwise(pool, p, tf, prescale, dtype=dtype),
        _rowwise(train, p, tf, prescale, dtype=dtype),
    )


def sketch(pool: Any, train: Any, dim: int, *, rng: RNGLike = None) -> Pair:
    """Gaussian random projection to ``dim`` features (unbiased kernel).

    Args:
        pool: Pool features ``(n_pool, D)``.
        train: Training features ``(n_train, D)``.
        dim: Output dimension ``p``.
        rng: Seed or generator of the projection.
    """
    fp, ft = _t(pool), _t(train)
    proj = _cpu_normal((fp.shape[1], dim), rng).to(fp.device)
    proj /= math.sqrt(dim)
    return fp @ proj, ft @ proj


def product(a: Pair, b: Pair, *, max_dim: int = 4096, rng: RNGLike = None) -> Pair:
    """Features of the product kernel ``k_a · k_b``.

    The exact tensor product when ``p_a p_b <= max_dim``, else a tensor sketch
    to ``max_dim`` features: ``sqrt(p) (P_aᵀ φ_a) ⊙ (P_bᵀ φ_b)`` with independent
    Gaussian sketches, an unbiased estimate of the product kernel.
    """
    (pa, ta), (pb, tb) = (_t(a[0]), _t(a[1])), (_t(b[0]), _t(b[1]))
    if pa.shape[1] * pb.shape[1] <= max_dim:

        def kron(x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
            return (x[:, :, None] * y[:, None, :]).reshape(x.shape[0], -1)

        return kron(pa, pb), kron(ta, tb)
    gen = check_rng(rng)
    sa = sketch(pa, ta, max_dim, rng=child_seed(gen))
    sb = sketch(pb, tb, max_dim, rng=child_seed(gen))
    root = math.sqrt(max_dim)
    return root * sa[0] * sb[0], root * sa[1] * sb[1]


def acs_grad(pool: Any, train: Any, sigma: float, **kw: Any) -> Pair:
    """ACS-FW's gradient kernel ``k · k_post / σ⁴`` (``/ σ⁴`` only if ``σ ≠ 1``)."""
    prior = (_t(pool), _t(train))
    check_square_width(
        prior[1].shape[1], "acs-grad (the train posterior)", prior[1].device
    )
    post = posterior(pool, train, sigma)
    fp, ft = product(prior, post, **kw)
    c = 1.0 / sigma**2 if sigma != 1 else 1.0  # features: sqrt of 1 / sigma^4
    return fp * c, ft * c


def _acs_thetas(a: torch.Tensor, dim: int, rng: RNGLike) -> tuple[torch.Tensor, Any]:
    """``dim`` draws of ``N(0, A⁻¹)`` as columns, and the Cholesky factor of A."""
    chol = robust_cholesky(a)
    z = _cpu_normal((a.shape[0], dim), rng).to(a.device)
    theta = torch.linalg.solve_triangular(chol.t(), z, upper=True)  # L⁻ᵀ z
    return theta, chol


def _quad(chol: torch.Tensor, f: torch.Tensor) -> torch.Tensor:
    """``φᵀ A⁻¹ φ`` per row, with ``A = L Lᵀ``."""
    w: torch.Tensor = torch.linalg.solve_triangular(chol, f.t(), upper=False)
    return (w * w).sum(0)


def acs_rf(
    pool: Any,
    train: Any,
    dim: int,
    sigma: float,
    *,
    rng: RNGLike = None,
    prescale: float = 1.0,
) -> Pair:
    """ACS random features (Pinsler et al. 2019) under Gaussian noise ``σ²``.

    With ``A = Φ_trᵀ Φ_tr + σ² I``, ``θ_j ~ N(0, A⁻¹)`` and ``k_Σ(x) = φᵀ A⁻¹ φ``:
    ``ψ_j(x) = dim^{-1/2} [½ log(1 + k_Σ/σ²) - ((φᵀ θ_j)² + k_Σ) / (2σ²)]``.
    """
    if not sigma > 0:
        raise InvalidParameterError(f"acs-rf needs sigma > 0; got {sigma!r}.")
    raw = _raw(train)
    check_square_width(raw.shape[1], "acs-rf", raw.device)
    ft = _t(train) * prescale
    p = ft.shape[1]
    theta, chol = _acs_thetas(
        ft.t() @ ft + sigma**2 * torch.eye(p, dtype=ft.dtype, device=ft.device),
        dim,
        rng,
    )

    def tf(f: torch.Tensor) -> torch.Tensor:
        ks = _quad(chol, f)[:, None]
        out = (f @ theta).square_().add_(ks).mul_(-1.0 / (2 * sigma**2))
        out.add_(0.5 * torch.log1p(ks / sigma**2))
        return out.mul_(1.0 / math.sqrt(dim))

    return _rowwise(pool, dim, tf, prescale), _rowwise(train, dim, tf, prescale)


def acs_rf_hyper(
    pool: Any,
    train: Any,
    y_train: Any,
    dim: int,
    *,
    rng: RNGLike = None,
    prescale: float = 1.0,
) -> Pair:
    """ACS random features with an inverse-Gamma noise prior (a₀ = b₀ = 1).

    ``A = Φ_trᵀ Φ_tr + I``, ``θ̄ = A⁻¹ Φ_trᵀ y``, ``ã = 1 + n/2``, ``b̃ = 1 +
    ½ (yᵀy - θ̄ᵀ A θ̄)``, ``v(x) = (b̃/ã)(1 + φᵀ A⁻¹ φ)``, ``θ_j ~ N(0, A⁻¹)``:
    ``ψ_j(x) = dim^{-1/2} [-½ log(2π) - ½ ((φᵀ θ_j)² + v(x))]``.
    """
    raw = _raw(train)
    check_square_width(raw.shape[1], "acs-rf-hyper", raw.device)
    ft = _t(train) * prescale
    y = _t(y_train).reshape(-1).to(ft.device)
    if y.shape[0] != ft.shape[0]:
        raise InvalidParameterError(
            f"acs-rf-hyper needs one target per training point: {ft.shape[0]} "
            f"training points, {y.shape[0]} targets."
        )
    p = ft.shape[1]
    a = ft.t() @ ft + torch.eye(p, dtype=ft.dtype, device=ft.device)
    theta, chol = _acs_thetas(a, dim, rng)
    theta_bar = torch.cholesky_solve((ft.t() @ y)[:, None], chol)[:, 0]
    a_tilde = 1.0 + ft.shape[0] / 2
    b_tilde = 1.0 + 0.5 * float(y @ y - theta_bar @ (a @ theta_bar))

    def tf(f: torch.Tensor) -> torch.Tensor:
        v = (b_tilde / a_tilde) * (1.0 + _quad(chol, f))[:, None]
        out = (f @ theta).square_().add_(v).mul_(-0.5)
        out.add_(-0.5 * math.log(2 * math.pi))
        return out.mul_(1.0 / math.sqrt(dim))

    return _rowwise(pool, dim, tf, prescale), _rowwise(train, dim, tf, prescale)


def ensemble(pairs: list[Pair]) -> Pair:
    """Sum of kernels: the models' features side by side."""
    if not pairs:
        raise InvalidParameterError("ens needs at least one feature set.")
    dev = _raw(pairs[0][0]).device
    return (
        torch.cat([_t(p[0]).to(dev) for p in pairs], dim=1),
        torch.cat([_t(p[1]).to(dev) for p in pairs], dim=1),
    )
