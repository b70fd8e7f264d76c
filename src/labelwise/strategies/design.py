"""BAIT: batch selection by greedy A-optimal design on last-layer Fisher information.

References:
    Ash, J., Goel, S., Krishnamurthy, A., Kakade, S. Gone Fishing: Neural Active
    Learning with Fisher Embeddings (NeurIPS 2021).
"""

from __future__ import annotations

from typing import Any, overload

import numpy as np
import torch

from labelwise._validation import check_positive
from labelwise.kernels import greedy_a_optimal, greedy_a_optimal_rank_one, kron_gram
from labelwise.models.base import (
    Embedder,
    GradientFeatures,
    ProbabilisticClassifier,
    Regressor,
)
from labelwise.pool import LabelState
from labelwise.strategies._registry import register
from labelwise.strategies.base import Selection, Strategy, model_outputs


@overload
def fisher_factors(proba: torch.Tensor) -> torch.Tensor: ...
@overload
def fisher_factors(proba: np.ndarray) -> np.ndarray: ...
def fisher_factors(proba: Any) -> Any:
    """Left Fisher factors ``B_x = diag(√p)(I - 1 pᵀ)``, shape ``(n, k, k)``.

    Row ``c`` of ``V_x = B_x ⊗ hᵀ`` is ``√p_c · g_c(x)``, where ``g_c`` is the
    last-layer cross-entropy gradient for the hypothetical label ``c``, so
    ``V_xᵀ V_x = (diag(p) - p pᵀ) ⊗ h hᵀ`` is the softmax Fisher information.
    A tensor gives a float64 tensor on its device.
    """
    if isinstance(proba, torch.Tensor):
        pt = proba.to(torch.float64)
        eye_t = torch.eye(pt.shape[1], dtype=torch.float64, device=pt.device)[None]
        return pt.sqrt()[:, :, None] * (eye_t - pt[:, None, :])
    p = np.asarray(proba, dtype=np.float64)
    k = p.shape[1]
    eye = np.eye(k)[None]
    return np.sqrt(p)[:, :, None] * (eye - p[:, None, :])


def reduced_fisher_factors(proba: torch.Tensor) -> torch.Tensor:
    """Square factors ``R_x``, ``(n, k-1, k-1)``, of the softmax Fisher on ``1⊥``.

    ``K_x = diag(p) - p pᵀ`` has ``K_x 1 = 0`` for every ``x``, so every
    candidate's information ``K_x ⊗ h hᵀ``, the pool Fisher and the labeled
    Fisher vanish on the ``d``-dimensional subspace ``1 ⊗ R^d``, and ``λI`` is
    the only term of ``M`` there. With an orthonormal basis ``Q`` of ``1⊥``
    (``k x (k-1)``, the same for all candidates), ``tr(M⁻¹ F)`` is therefore
    the same trace over ``(k-1) d`` coordinates with the factors
    ``R_x`` (``R_xᵀ R_x = Qᵀ K_x Q``, from a QR factorisation of ``B_x Q``):
    the A-optimal objective and every greedy gain are unchanged, and the
    ``(k d)²`` matrices shrink to ``((k-1) d)²``.

    Args:
        proba: Class probabilities, shape ``(n, k)``, ``k >= 2``.

    Returns:
        float64 tensor on the device of ``proba``.
    """
    left = fisher_factors(proba)
    k = left.shape[2]
    eye = torch.eye(k, dtype=left.dtype, device=left.device)
    ones = torch.full((k, 1), k**-0.5, dtype=left.dtype, device=left.device)
    start = torch.cat([ones, eye[:, : k - 1]], 1)
    basis = torch.linalg.qr(start).Q[:, 1:]  # orthonormal, orthogonal to 1
    out: torch.Tensor = torch.linalg.qr(left @ basis, mode="r").R
    return out


@register("bait")
class Bait(Strategy):
    """BAIT: minimise ``tr(M_S⁻¹ F)`` greedily, forward to ``2B``, back to ``B``.

    ``F`` is the mean last-layer Fisher over the whole pool (labeled and
    unlabeled, as in the reference code; the paper writes the unlabeled pool).
    Following the reference code, not the paper: ``M = λI + n_L/(n_L + B) F_L +
    B/(n_L + B) sum_{x in S} I(x)`` with ``F_L`` the mean labeled Fisher, i.e. the
    candidates' factors are scaled by ``sqrt(B / (n_L + B))``. The Fisher uses the
    model's predicted probabilities; the head's bias is not included. The greedy
    (`greedy_a_optimal`) runs on the ``(k-1) d``
    coordinates where the softmax Fisher lives (`reduced_fisher_factors`): the
    same objective, gains and picks as on all ``k d``, with smaller matrices.

    Regression (a `Regressor` on a pool with real
    labels): the paper's rank-one form (§5): the Fisher of a squared-loss model
    is ``φφᵀ`` (times the noise precision, which cancels) with ``φ`` the
    last-layer features (``grad_features(last_layers=1)``, i.e. ``[h_L, σ_b]``,
    or the inputs for models without gradient features); the same normalisation
    and forward-backward greedy run with Sherman–Morrison updates
    (`greedy_a_optimal_rank_one`). BMDAL's kernelised
    regression BAIT is the separate ``bmdal-bait``.

    Args:
        lam: Prior precision λ. Defaults to 1 (reference; 0.01 for CIFAR-10).
        oversample: Forward steps per selected item before pruning. Defaults to 2.
    """

    requires = (ProbabilisticClassifier, Embedder)
    accepts_padding = True

    def check_model(self, model: Any) -> None:
        """A classifier needs probabilities and embeddings; a regressor nothing more."""
        if isinstance(model, Regressor) and not isinstance(
            model, ProbabilisticClassifier
        ):
            return
        super().check_model(model)

    def __init__(self, *, lam: float = 1.0, oversample: float = 2.0):
        check_positive(lam, "lam")
        check_positive(oversample, "oversample")
        self.lam = lam
        self.oversample = oversample

    def _select(
        self,
        model: Any,
        X: np.ndarray,
        state: LabelState,
        batch_size: int,
        rng: np.random.Generator,
    ) -> Selection:
        if not state.is_classification:
            return self._select_regression(model, X, state, batch_size)
        proba = torch.as_tensor(model_outputs(model, X, "proba"))
        emb = torch.as_tensor(model_outputs(model, X, "embed"))
        left = reduced_fisher_factors(proba)  # same objective, (k-1) d dimensions
        del proba
        dev = emb.device
        n, _, k = left.shape
        dim = k * emb.shape[1]
        labeled = torch.as_tensor(state.labeled_indices(), device=dev)
        pool = state.unlabeled_indices()
        n_lab = int(labeled.numel())
        # F and M built in place (no second k d x k d temporary)
        fisher = kron_gram(left, emb).div_(n)
        if n_lab:
            precision = kron_gram(left[labeled], emb[labeled])
            precision.div_(n_lab + batch_size)
        else:
            precision = torch.zeros((dim, dim), dtype=torch.float64, device=dev)
        precision.diagonal().add_(self.lam)
        pool_t = torch.as_tensor(pool, device=dev)
        scale = (batch_size / (n_lab + batch_size)) ** 0.5
        # only the candidates' factors stay; the whole pool's are dropped here
        cand_left = left[pool_t].mul_(scale)
        del left
        # the model's dtype (float32): the kernel reads chunks in float64, so
        # the values are the same and the copy is half the size
        cand_emb = emb[pool_t]
        del emb
        idx, gains = greedy_a_optimal(
            cand_left,
            cand_emb,
            batch_size,
            fisher=fisher,
            precision=precision,
            n_forward=round(self.oversample * batch_size),
        )
        return Selection(indices=pool[idx], details={"forward_gains": gains.tolist()})

    def _select_regression(
        self, model: Any, X: np.ndarray, state: LabelState, batch_size: int
    ) -> Selection:
        if isinstance(model, GradientFeatures):
            feats = model.grad_features(X, last_layers=1)
        else:
            feats = X.reshape(X.shape[0], -1)
        phi = torch.as_tensor(np.asarray(feats), dtype=torch.float64)
        n, d = phi.shape
        labeled = torch.as_tensor(state.labeled_indices())
        pool = state.unlabeled_indices()
        n_lab = int(labeled.numel())
        fisher = phi.t() @ phi / n
        precision = self.lam * torch.eye(d, dtype=torch.float64)
        if n_lab:
            pl = phi[labeled]
            precision += pl.t() @ pl / (n_lab + batch_size)
        scale = (batch_size / (n_lab + batch_size)) ** 0.5
        idx, gains = greedy_a_optimal_rank_one(
            phi[torch.as_tensor(pool)] * scale,
            batch_size,
            fisher=fisher,
            precision=precision,
            n_forward=round(self.oversample * batch_size),
        )
        return Selection(indices=pool[idx], details={"forward_gains": gains.tolist()})
