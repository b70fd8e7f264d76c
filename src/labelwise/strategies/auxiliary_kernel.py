"""AGBAL's auxiliary-data scale of the ``grad-aux`` kernel (used by BMDAL presets).

AGBAL (Min, Xu, Li, Zou & Zhou, *Enhancing Deep Batch Active Learning for
Regression with Imperfect Data Guided Selection*, NeurIPS 2025, public as slides)
decomposes the risk gradient as ``E[φ₁(x) φ₂(x)]`` with
``φ₁ = ∂f/∂θ`` (BMDAL's ``grad`` features) and ``φ₂(x) = E[∂l/∂f | x]``, the
expected loss derivative (for the squared loss, ``f(x) - E[y|x]``), estimated
from auxiliary labeled data ``(X', Y')`` drawn from a shifted or noisier
distribution and re-weighted by a density ratio ``r̂``. The kernel is
``k(x, x') = φ̂₂(x) φ̂₂(x') k_grad(x, x')``: every BMDAL transform and selection
method runs on it unchanged, so each method has an AGBAL counterpart
(``agbal-lcmd``, ``agbal-maxdet``, ...).

The paper leaves the x-dependence of ``φ̂₂`` open (as printed, it is a constant,
which leaves every BMDAL method unchanged). labelwise's estimators are:

* ``krr`` (default): kernel ridge regression of the weighted auxiliary
  residuals ``r̂_i (f(X'_i) - Y'_i)`` on the auxiliary inputs, with the same
  (sketched) gradient kernel: ``φ̂₂(x) = k(x, X') (K' + λ I)⁻¹ (r̂ ⊙ e')``, ``λ =
  aux_ridge x mean diag K'``. With uniform weights over all points it reduces
  to the AGBAL paper's average.
* ``per-input``: the auxiliary labels are imperfect labels at the same inputs;
  ``φ̂₂(x)`` averages ``r̂ (f(x) - y')`` over the auxiliary rows equal to ``x``
  (points without one get the global average).
* ``constant``: the AGBAL paper's formula taken literally, ``mean_i r̂_i e'_i`` for
  every point; an ablation that reproduces BMDAL exactly.

Choices the AGBAL paper does not settle (docs: User guide, AGBAL page), and what
labelwise does: the density ratio
``r̂(x, y) = p(x, y) / q(x, y)`` is estimated between the labeled target data and
the auxiliary data on ``z = [x, y]`` (``ulsif`` by default; ``classifier``,
``kliep``), clipped at 20 and self-normalised, and re-estimated every round.
A probabilistic classifier is the usual first choice; on the ``shifted`` task its
weights made every AGBAL method 31-50 % worse than BMDAL, while uLSIF's smoother
weights gave the gains the AGBAL paper reports (docs: Reproductions, BMDAL and
AGBAL), so uLSIF is the default;
the scale is ``|φ̂₂|`` plus a floor of 1 % of its mean (``aux_signed=True``
keeps the sign; the floor keeps points with ``φ̂₂ ≈ 0`` selectable); training
points get the same estimate as pool points (``train_residual=True`` uses their
true residuals ``f(x) - y`` instead).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

from labelwise._validation import check_features, child_seed
from labelwise.exceptions import InvalidParameterError
from labelwise.kernels._ratio import density_ratio


def check_auxiliary(auxiliary: Any) -> tuple[np.ndarray, np.ndarray]:
    """Validate ``(X_aux, y_aux)``: a non-empty array pair with matching rows."""
    try:
        x_aux, y_aux = auxiliary
    except (TypeError, ValueError):
        raise InvalidParameterError(
            "auxiliary must be a pair (X_aux, y_aux) of arrays; got "
            f"{type(auxiliary).__name__}."
        ) from None
    x = check_features(x_aux, name="X_aux", ndim_min=2)
    y = np.asarray(y_aux, dtype=np.float64)
    if y.shape != (x.shape[0],) or not np.isfinite(y).all():
        raise InvalidParameterError(
            f"y_aux must hold {x.shape[0]} finite targets (one per row of X_aux); "
            f"got shape {y.shape}."
        )
    return x, y


def _rows(x: np.ndarray) -> list[bytes]:
    flat = np.ascontiguousarray(x.reshape(len(x), -1), dtype=np.float64)
    return [r.tobytes() for r in flat]


def phi2_scale(
    strategy: Any,
    model: Any,
    features: torch.Tensor,
    X: np.ndarray,
    y_train: np.ndarray,
    n_pool: int,
    n_train: int,
    auxiliary: tuple[np.ndarray, np.ndarray],
    rng: np.random.Generator,
) -> np.ndarray:
    """Per-point scale ``s(x)`` of the grad-aux features, shape ``(n_pool + n_train,)``.

    Args:
        strategy: The BMDAL strategy (its ``aux_*``, ``ratio`` settings).
        model: The fitted regressor (``predict``).
        features: Gradient features of pool, training and auxiliary points,
            in that order, ``(n_pool + n_train + n_aux, p)``.
        X: Pool then training inputs.
        y_train: Training targets ``(n_train,)``.
        n_pool: Pool points.
        n_train: Training points.
        auxiliary: ``(X_aux, y_aux)``.
        rng: Generator (density-ratio centres).
    """
    x_aux, y_aux = auxiliary
    resid_aux = np.asarray(model.predict(x_aux), dtype=np.float64) - y_aux
    if n_train >= 2:
        z_t = np.concatenate([X[n_pool:].reshape(n_train, -1), y_train[:, None]], 1)
        z_a = np.concatenate([x_aux.reshape(len(x_aux), -1), y_aux[:, None]], 1)
        weights = density_ratio(z_t, z_a, method=strategy.ratio, rng=child_seed(rng))
    else:  # too few labels to estimate a ratio: uniform weights
        weights = np.ones(len(y_aux))
    v = weights * resid_aux
    n = n_pool + n_train
    if strategy.aux_estimator == "constant":
        phi2 = np.full(n, v.mean())
    elif strategy.aux_estimator == "krr":
        f_aux = features[n:]
        k = f_aux @ f_aux.t()
        lam = strategy.aux_ridge * float(torch.diagonal(k).mean()) + 1e-12
        alpha = torch.linalg.solve(
            k + lam * torch.eye(len(k), dtype=k.dtype, device=k.device),
            torch.as_tensor(v, dtype=k.dtype, device=k.device),
        )
        phi2 = (features[:n] @ (f_aux.t() @ alpha)).cpu().numpy()
    else:
        sums: dict[bytes, list[float]] = {}
        for key, val in zip(_rows(x_aux), v, strict=True):
            sums.setdefault(key, []).append(float(val))
        default = float(v.mean())
        phi2 = np.array([np.mean(sums.get(key, [default])) for key in _rows(X)])
    if strategy.train_residual and n_train:
        phi2[n_pool:] = (
            np.asarray(model.predict(X[n_pool:]), dtype=np.float64) - y_train
        )
    if strategy.aux_signed:
        return np.asarray(phi2, dtype=np.float64)
    mag = np.abs(np.asarray(phi2, dtype=np.float64))
    out: np.ndarray = mag + strategy.aux_floor * float(mag.mean())
    return out
