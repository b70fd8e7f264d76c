"""Density-ratio estimators ``r(z) = p(z) / q(z)`` on auxiliary samples.

``p`` is the target distribution (samples ``z_target``), ``q`` the auxiliary one
(samples ``z_aux``); the ratio re-weights auxiliary samples to look like target
ones. Every estimator returns the weights of the auxiliary samples, clipped to
``[0, clip]`` and self-normalised to mean 1 over the auxiliary set (AGBAL:
Min et al., NeurIPS 2025;
its slides do not say which estimator was used; see the AGBAL docs page).

=============== ============================================================
method          estimate
=============== ============================================================
classifier      logistic regression between target (1) and auxiliary (0)
                samples: ``r = (n_aux / n_target) P(1|z) / P(0|z)``
ulsif           unconstrained least-squares importance fitting (Kanamori
                et al. 2009): Gaussian kernels on target centres, closed form
kliep           KL importance estimation (Sugiyama et al. 2008): the same
                kernel model fitted by projected gradient ascent
=============== ============================================================

Kernel bandwidths default to the median pairwise distance of the pooled samples
(the median heuristic); inputs are standardised with the pooled statistics first.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from labelwise._typing import RNGLike
from labelwise._validation import check_features, check_rng
from labelwise.exceptions import InvalidParameterError

RATIO_METHODS = ("classifier", "ulsif", "kliep")


def _prepare(z_target: Any, z_aux: Any) -> tuple[np.ndarray, np.ndarray]:
    t = np.asarray(
        check_features(z_target, name="z_target", ndim_min=2), dtype=np.float64
    )
    a = np.asarray(check_features(z_aux, name="z_aux", ndim_min=2), dtype=np.float64)
    t, a = t.reshape(len(t), -1), a.reshape(len(a), -1)
    if t.shape[1] != a.shape[1]:
        raise InvalidParameterError(
            f"z_target and z_aux differ in width: {t.shape[1]} vs {a.shape[1]}."
        )
    both = np.concatenate([t, a])
    mean, std = both.mean(0), both.std(0)
    std[std == 0] = 1.0
    return (t - mean) / std, (a - mean) / std


def _sqdist(x: np.ndarray, c: np.ndarray) -> np.ndarray:
    out: np.ndarray = np.maximum(
        (x * x).sum(1)[:, None] + (c * c).sum(1)[None, :] - 2 * x @ c.T, 0.0
    )
    return out


def _median_width(z: np.ndarray, rng: np.random.Generator) -> float:
    sub = z[rng.choice(len(z), size=min(len(z), 500), replace=False)]
    d2 = _sqdist(sub, sub)
    med = float(np.sqrt(np.median(d2[np.triu_indices(len(sub), 1)])))
    return med if med > 0 else 1.0


def _finish(w: np.ndarray, clip: float) -> np.ndarray:
    w = np.clip(np.nan_to_num(w, nan=0.0, posinf=clip), 0.0, clip)
    mean = w.mean()
    return w / mean if mean > 0 else np.ones_like(w)


def density_ratio(
    z_target: Any,
    z_aux: Any,
    *,
    method: str = "classifier",
    clip: float = 20.0,
    n_centers: int = 100,
    width: float | None = None,
    lam: float = 1e-3,
    rng: RNGLike = None,
) -> np.ndarray:
    """Weights ``r(z_aux)`` of the auxiliary samples, shape ``(n_aux,)``.

    Args:
        z_target: Target samples ``(n_t, p)`` (e.g. labeled ``[x, y]``).
        z_aux: Auxiliary samples ``(n_a, p)``.
        method: ``classifier`` (default), ``ulsif`` or ``kliep``.
        clip: Upper clip before self-normalisation. Defaults to 20.
        n_centers: Kernel centres (target samples) of ``ulsif``/``kliep``.
        width: Gaussian kernel width; ``None`` = median heuristic.
        lam: Ridge of ``ulsif`` (``classifier`` uses scikit-learn's default
            ``C = 1``).
        rng: Seed or generator (centre subsampling).

    Returns:
        Non-negative weights with mean 1.

    Examples:
        >>> rng = np.random.default_rng(0)
        >>> w = density_ratio(rng.normal(1, 1, (300, 1)), rng.normal(0, 1, (300, 1)))
        >>> round(float(w.mean()), 6), bool(np.corrcoef(w, np.arange(300))[0, 1] != 0)
        (1.0, True)
    """
    if method not in RATIO_METHODS:
        raise InvalidParameterError(
            f"Unknown density-ratio method {method!r}; valid: "
            f"{', '.join(RATIO_METHODS)}."
        )
    if not clip > 0:
        raise InvalidParameterError(f"clip must be > 0; got {clip!r}.")
    gen = check_rng(rng)
    t, a = _prepare(z_target, z_aux)
    if method == "classifier":
        from sklearn.linear_model import LogisticRegression

        z = np.concatenate([t, a])
        lab = np.r_[np.ones(len(t)), np.zeros(len(a))]
        clf = LogisticRegression(max_iter=1000).fit(z, lab)
        logit = clf.decision_function(a)
        return _finish(len(a) / len(t) * np.exp(np.clip(logit, -50, 50)), clip)
    centers = t[gen.choice(len(t), size=min(n_centers, len(t)), replace=False)]
    sigma = width if width is not None else _median_width(np.concatenate([t, a]), gen)
    ka = np.exp(-_sqdist(a, centers) / (2 * sigma**2))  # (n_a, b)
    kt = np.exp(-_sqdist(t, centers) / (2 * sigma**2))  # (n_t, b)
    if method == "ulsif":
        h_mat = ka.T @ ka / len(a)
        h_vec = kt.mean(0)
        alpha = np.linalg.solve(h_mat + lam * np.eye(len(centers)), h_vec)
        return _finish(np.maximum(ka @ np.maximum(alpha, 0.0), 0.0), clip)
    return _finish(ka @ _kliep(kt, ka), clip)


def _kliep(kt: np.ndarray, ka: np.ndarray, iters: int = 500) -> np.ndarray:
    """Maximise mean log r on target s.t. mean r on aux = 1, r = K alpha, alpha >= 0."""
    b = ka.mean(0)
    alpha = np.ones(kt.shape[1]) / max(float(b.sum()), 1e-12)
    step = 1e-2
    for _ in range(iters):
        r = kt @ alpha
        grad = kt.T @ (1.0 / np.maximum(r, 1e-12)) / len(kt)
        alpha = alpha + step * grad
        alpha = alpha + (1 - b @ alpha) * b / (b @ b)  # back onto mean_aux r = 1
        alpha = np.maximum(alpha, 0.0)
        alpha = alpha / max(float(b @ alpha), 1e-12)
    return alpha
