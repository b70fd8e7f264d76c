"""Evaluation metrics: accuracies, regression errors, clean share, curve areas.

Pure functions of arrays (the bottom layer: no models, datasets or loop), used by
the loop, the strategies that score on a reward set, the benchmark statistics and
the reports.

References:
    Bakker, T., van Hoof, H., Welling, M. Learning Objective-Specific Active
    Learning Strategies with Attentive Neural Processes (ECML PKDD 2023), §5.6
    (weighted balanced accuracy, AUAC). Khosla, S. et al. Neural Active Learning on
    Heteroskedastic Distributions (ECAI 2023), Tables 3-4 (clean share).
"""

from __future__ import annotations

import numpy as np

LOWER_IS_BETTER = frozenset(
    {"rmse", "mae", "max_error", "q95_error", "q99_error", "mse"}
)
"""Error metrics: a smaller area is better."""


def weighted_accuracy(
    y_true: np.ndarray, y_pred: np.ndarray, weights: np.ndarray
) -> float:
    """``Σ_c w_c correct_c / Σ_c w_c n_c`` (§5.6's balanced accuracy).

    Examples:
        >>> y = np.array([0, 1, 1, 1])
        >>> weighted_accuracy(y, np.array([0, 1, 0, 0]), np.array([3.0, 1.0]))
        0.6666666666666666
    """
    y_true = np.asarray(y_true)
    w = np.asarray(weights, dtype=np.float64)[y_true]
    return float(np.sum(w * (y_true == np.asarray(y_pred))) / np.sum(w))


def classification_metrics(
    y_true: np.ndarray, y_pred: np.ndarray, weights: np.ndarray | None = None
) -> dict[str, float]:
    """Accuracy and balanced accuracy.

    Balanced accuracy is the mean recall over the classes in ``y_true``, or with
    per-class ``weights`` ``Σ_c w_c correct_c / Σ_c w_c n_c`` (the learning-AL
    paper's definition, Bakker et al. 2023, §5.6; the imbalance settings give the
    weights).

    Examples:
        >>> y = np.array([0, 1, 1, 1])
        >>> classification_metrics(y, np.array([0, 1, 0, 0]))["balanced_accuracy"]
        0.6666666666666666
    """
    y_true = np.asarray(y_true)
    y_pred = np.asarray(y_pred)
    if weights is None:
        recalls = [np.mean(y_pred[y_true == c] == c) for c in np.unique(y_true)]
        balanced = float(np.mean(recalls))
    else:
        balanced = weighted_accuracy(y_true, y_pred, weights)
    return {
        "accuracy": float(np.mean(y_true == y_pred)),
        "balanced_accuracy": balanced,
    }


def regression_metrics(y_true: np.ndarray, y_pred: np.ndarray) -> dict[str, float]:
    """Test metrics: MSE (AGBAL), RMSE, MAE, max and 95/99 % quantiles of |error|.

    Examples:
        >>> regression_metrics(np.array([0.0, 0.0]), np.array([3.0, -4.0]))["rmse"]
        3.5355339059327378
    """
    err = np.abs(np.asarray(y_pred, dtype=np.float64) - np.asarray(y_true))
    return {
        "mse": float(np.mean(err**2)),
        "rmse": float(np.sqrt(np.mean(err**2))),
        "mae": float(np.mean(err)),
        "max_error": float(err.max()),
        "q95_error": float(np.quantile(err, 0.95)),
        "q99_error": float(np.quantile(err, 0.99)),
    }


def clean_share(
    noisy: np.ndarray, indices: np.ndarray, rounds: np.ndarray, upto: int
) -> dict[str, float]:
    """Share of clean items among those a strategy selected (LHD paper, Tables 3-4).

    Only labels of rounds ``1..upto`` count (round 0 is the random initial set,
    the same for every strategy).

    Args:
        noisy: Boolean mask over the pool, ``True`` for noisy items.
        indices: Labeled pool indices ``(m,)``.
        rounds: Round of each label ``(m,)``.
        upto: The current round.

    Returns:
        ``{"clean_share": ..., "clean_share_round": ...}``: the clean fraction of
        everything selected in rounds ``1..upto`` and of round ``upto``'s batch;
        empty for ``upto == 0``.

    Examples:
        >>> noisy = np.array([False, True, False, True])
        >>> clean_share(noisy, np.array([0, 1, 2, 3]), np.array([0, 1, 1, 2]), 2)
        {'clean_share': 0.3333333333333333, 'clean_share_round': 0.0}
    """
    if upto < 1:
        return {}
    chosen = indices[(rounds >= 1) & (rounds <= upto)]
    last = indices[rounds == upto]
    out = {}
    if chosen.size:
        out["clean_share"] = float(np.mean(~noisy[chosen]))
    if last.size:
        out["clean_share_round"] = float(np.mean(~noisy[last]))
    return out


def normalized_auc(n_labeled: np.ndarray, values: np.ndarray) -> float:
    """Trapezoidal area under ``values`` over ``n_labeled``, divided by its range.

    The result is the curve's mean height, in the metric's units (e.g. a mean
    accuracy over the labeling budget).
    """
    order = np.argsort(n_labeled)
    x = np.asarray(n_labeled, dtype=float)[order]
    y = np.asarray(values, dtype=float)[order]
    if x.size < 2 or x[-1] == x[0]:
        return float(y.mean())
    return float(np.trapezoid(y, x) / (x[-1] - x[0]))


def auac(values: np.ndarray) -> float:
    """Area under ``values`` over unit steps: the learning-AL paper's AUAC.

    Trapezoid rule with spacing 1 over the rounds ``0, 1, ...`` (Bakker et al.,
    ECML PKDD 2023, §5.6): ten steps of accuracies near 0.9 give about 9.

    Examples:
        >>> auac(np.array([0.5, 0.7, 0.9]))
        1.4
    """
    v = np.asarray(values, dtype=np.float64)
    return float(((v[1:] + v[:-1]) / 2).sum())
