"""Per-sample informativeness scores: pure functions of model outputs.

Every score is "higher means more informative". Inputs are validated once; a
non-finite input raises instead of being patched.

References:
    Settles, B. Active Learning Literature Survey (2009) (least confidence, margin,
    entropy). Houlsby et al., Bayesian Active Learning for Classification and
    Preference Learning (2011) (BALD). Freeman, Elementary Applied Statistics
    (1965) (variation ratio); Beluch et al., The power of ensembles for active
    learning in image classification (CVPR 2018).
"""

from __future__ import annotations

import numpy as np
from scipy.special import xlogy

from labelwise._typing import FloatArray
from labelwise.exceptions import InvalidParameterError


def _check_proba(proba: FloatArray, ndim: int, name: str) -> np.ndarray:
    p = np.asarray(proba, dtype=np.float64)
    if p.ndim != ndim:
        shape = (
            "(n_samples, n_classes)" if ndim == 2 else "(n_draws, n_samples, n_classes)"
        )
        raise InvalidParameterError(
            f"{name} expects probabilities of shape {shape}; got shape {p.shape}."
        )
    if not np.isfinite(p).all():
        raise InvalidParameterError(
            f"{name} received NaN or infinite probabilities; check the model output."
        )
    if p.shape[-1] < 2:
        raise InvalidParameterError(
            f"{name} needs at least 2 classes; got {p.shape[-1]} column(s)."
        )
    return p


def least_confidence(proba: FloatArray) -> FloatArray:
    """Return ``1 - max_c p(c|x)``.

    Args:
        proba: Class probabilities of shape ``(n_samples, n_classes)``.

    Returns:
        Scores of shape ``(n_samples,)``.

    Examples:
        >>> least_confidence(np.array([[0.9, 0.1], [0.5, 0.5]])).round(2).tolist()
        [0.1, 0.5]
    """
    p = _check_proba(proba, 2, "least_confidence")
    out: FloatArray = 1.0 - p.max(axis=1)
    return out


def margin(proba: FloatArray) -> FloatArray:
    """Return ``1 - (p_(1) - p_(2))``: one minus the gap between the top two classes.

    Args:
        proba: Class probabilities of shape ``(n_samples, n_classes)``.

    Returns:
        Scores of shape ``(n_samples,)``; the smallest margin scores highest.

    Examples:
        >>> margin(np.array([[0.7, 0.2, 0.1], [0.4, 0.35, 0.25]])).round(2).tolist()
        [0.5, 0.95]
    """
    p = _check_proba(proba, 2, "margin")
    top2 = np.partition(p, -2, axis=1)[:, -2:]
    out: FloatArray = 1.0 - (top2[:, 1] - top2[:, 0])
    return out


def entropy(proba: FloatArray) -> FloatArray:
    """Return the predictive entropy ``-sum_c p log p`` (nats; ``0 log 0 = 0``).

    Args:
        proba: Class probabilities of shape ``(n_samples, n_classes)``.

    Returns:
        Scores of shape ``(n_samples,)``.

    Examples:
        >>> entropy(np.array([[1.0, 0.0], [0.5, 0.5]])).round(4).tolist()
        [0.0, 0.6931]
    """
    p = _check_proba(proba, 2, "entropy")
    out: FloatArray = 0.0 - xlogy(p, p).sum(axis=1)  # 0.0 - 0.0 is +0.0
    return out


def bald(samples: FloatArray) -> FloatArray:
    """Return BALD's mutual information ``H[mean_t p_t] - mean_t H[p_t]``.

    Args:
        samples: Probabilities from T stochastic forward passes (MC dropout) or T
            ensemble members, shape ``(T, n_samples, n_classes)``.

    Returns:
        Scores of shape ``(n_samples,)``, non-negative up to round-off.

    Examples:
        >>> s = np.array([[[1.0, 0.0], [0.5, 0.5]], [[0.0, 1.0], [0.5, 0.5]]])
        >>> bald(s).round(4).tolist()
        [0.6931, 0.0]
    """
    p = _check_proba(samples, 3, "bald")
    mean = p.mean(axis=0)
    h_mean = -xlogy(mean, mean).sum(axis=1)
    mean_h = -xlogy(p, p).sum(axis=2).mean(axis=0)
    out: FloatArray = np.maximum(h_mean - mean_h, 0.0)
    return out


def variation_ratio(samples: FloatArray) -> FloatArray:
    """Return ``1 - f_mode / T``, the share of members not voting for the mode.

    Each member votes for its argmax class; votes ``[3, 4, 4, 4]`` give ``0.25``
    (Freeman's variation ratio, 1965). A printed form "1 - m/N" found in course
    material contradicts this worked value; labelwise follows the value.

    Args:
        samples: Member probabilities, shape ``(T, n_samples, n_classes)``.

    Returns:
        Scores of shape ``(n_samples,)`` in ``[0, 1 - 1/T]``.

    Examples:
        >>> votes = np.eye(5)[[3, 4, 4, 4]][:, None, :]
        >>> variation_ratio(votes).tolist()
        [0.25]
    """
    p = _check_proba(samples, 3, "variation_ratio")
    n_members, n_samples, n_classes = p.shape
    votes = p.argmax(axis=2)
    counts = np.zeros((n_samples, n_classes), dtype=np.int64)
    for member in range(n_members):
        counts[np.arange(n_samples), votes[member]] += 1
    out: FloatArray = 1.0 - counts.max(axis=1) / n_members
    return out
