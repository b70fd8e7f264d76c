"""Imperfect auxiliary data for the real regression datasets (ours, for AGBAL).

AGBAL (Min et al., NeurIPS 2025) assumes auxiliary labeled data from a shifted or
noisier distribution next to the unlabeled pool. The real datasets have none, so
``NAME:aux[:ZETA[:NAUX]]`` carves it out of the dataset itself; the construction
is labelwise's, in the spirit of the ``shifted`` task (same ζ scale):

1. After BMDAL's preprocessing (`labelwise.datasets.load`), ``s(x)`` is
   the standardised projection of the inputs on their first principal axis
   (over the non-validation training rows; sign: largest loading positive).
2. ``N_aux`` of those rows are drawn without replacement with probability
   ``∝ exp(ζ s(x) / 8)`` (covariate shift along the main axis; uniform at
   ζ = 0) and **removed from the pool**, so no auxiliary row is ever queried.
3. Their labels (standardised) get a bias ``(ζ / 64)(1 + s(x)) / 2`` and
   Gaussian noise of standard deviation ``0.1 ζ / 16``.

ζ = 0 gives a clean, unshifted held-out sample; the defaults are ζ = 8 and
``N_aux`` = 1 000 (``diamonds:aux`` = ``diamonds:aux:8:1000``). Seeds are fixed
by ``(ζ, N_aux)``, so every run of a grid sees the same auxiliary set.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from labelwise.datasets._names import parse_zeta_naux
from labelwise.exceptions import InvalidParameterError

KIND = "aux"
DEFAULT_ZETA = 8.0
DEFAULT_N_AUX = 1_000


@dataclass(frozen=True)
class AuxSpec:
    """Shift ``zeta`` and size ``n_aux`` of the auxiliary set."""

    zeta: float = DEFAULT_ZETA
    n_aux: int = DEFAULT_N_AUX


def parse_aux(name: str) -> tuple[str, AuxSpec] | None:
    """``(base, spec)`` of ``BASE:aux[:ZETA[:NAUX]]``, ``None`` for other names.

    Examples:
        >>> parse_aux("diamonds:aux:16:500")
        ('diamonds', AuxSpec(zeta=16.0, n_aux=500))
        >>> parse_aux("diamonds") is None
        True
    """
    parts = name.split(":")
    if len(parts) < 2 or parts[1] != KIND:
        return None
    usage = "BASE:aux, BASE:aux:ZETA or BASE:aux:ZETA:NAUX (e.g. diamonds:aux:8:1000)"
    zeta, n_aux = parse_zeta_naux(name, parts[2:], usage, DEFAULT_ZETA, DEFAULT_N_AUX)
    return parts[0], AuxSpec(zeta, n_aux)


def shift_score(x: np.ndarray) -> np.ndarray:
    """Standardised projection on the first principal axis, shape ``(n,)``."""
    flat = x.reshape(x.shape[0], -1).astype(np.float64)
    centred = flat - flat.mean(0)
    _, _, vt = np.linalg.svd(centred, full_matrices=False)
    axis = vt[0] * np.sign(vt[0][np.argmax(np.abs(vt[0]))])
    proj = centred @ axis
    std = float(proj.std())
    out: np.ndarray = (proj - proj.mean()) / (std if std > 0 else 1.0)
    return out


def carve_auxiliary(
    x: np.ndarray, y: np.ndarray, spec: AuxSpec
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Pick the auxiliary rows and make their labels.

    Args:
        x: Preprocessed candidate inputs ``(n, d)`` (the non-validation rows).
        y: Their standardised targets ``(n,)``.
        spec: ζ and ``N_aux``.

    Returns:
        ``(rows, X_aux, y_aux)``: the sorted chosen row indices (to remove from
        the pool), their inputs and their corrupted labels.

    Raises:
        InvalidParameterError: if ``N_aux`` exceeds half the rows.
    """
    n = x.shape[0]
    if spec.n_aux > n // 2:
        raise InvalidParameterError(
            f"NAUX = {spec.n_aux} is more than half of the {n} training rows; "
            f"use at most {n // 2}."
        )
    s = shift_score(x)
    logits = spec.zeta * s / 8.0
    p = np.exp(logits - logits.max())
    rng = np.random.default_rng([2, round(spec.zeta * 1000), spec.n_aux])
    rows = np.sort(rng.choice(n, size=spec.n_aux, replace=False, p=p / p.sum()))
    bias = (spec.zeta / 64.0) * 0.5 * (1.0 + s[rows])
    noise = 0.1 * spec.zeta / 16.0 * rng.normal(size=spec.n_aux)
    y_aux = (y[rows] + bias + noise).astype(np.float64)
    return rows, x[rows], y_aux
