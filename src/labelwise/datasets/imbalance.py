"""Class-imbalance settings of the learning-AL paper (Bakker et al. 2023, §5.6).

``NAME:balanced``, ``NAME:imbalanced`` and ``NAME:imbalanced-weighted`` load any
classification dataset under the paper's protocol:

1. Imbalance factors ``f``: binary data ``[1, 10]`` (class 0 rare), more
   classes ``[1, 10, 1, 10, ...]`` (the even-indexed half rare); all ones for
   ``balanced``. With ``target_c ∝ f_c max_c n_c``, each class keeps
   ``int(min_c(n_c / target_c) target_c)`` random rows (seed 0) — train and test
   rows together, so the balanced setting subsamples the majority classes.
2. Standardisation as in the learning-AL code: one global scalar mean and
   standard deviation over all entries of X for tabular data and one-channel
   images (MNIST, Fashion-MNIST), per-channel mean and deviation for images with
   several channels (SVHN, CIFAR-10). Images keep their shape: ``(n, H, W)``
   grey images become ``(n, 1, H, W)`` and ``(n, C, H, W)`` stay as they are, so
   convolutional networks (``cnn``, ``resnet18``) take them; tabular rows stay
   ``(n, d)``.
3. Stratified split (seed 0): 200 test rows, 100 reward rows (``Dataset.X_reward``,
   the labeled set the neural-process strategy scores its simulations on), the
   rest is the pool; the harness draws the annotated start set from the pool.

Evaluation weights (every setting): ``w_c = (1/f_c) / mean_c(1/f_c)``, and the
``balanced_accuracy`` metric becomes ``Σ_c w_c correct_c / Σ_c w_c n_c`` (all
ones, i.e. plain accuracy, when balanced). ``imbalanced-weighted`` also trains
with those class weights (``Dataset.class_weights``).
"""

from __future__ import annotations

import numpy as np

from labelwise.exceptions import InvalidParameterError

SETTINGS = ("balanced", "imbalanced", "imbalanced-weighted")
FACTOR = 10.0
N_TEST = 200
N_REWARD = 100


def parse_setting(name: str) -> tuple[str, str] | None:
    """``(base, setting)`` of ``BASE:SETTING``, ``None`` for other names.

    Examples:
        >>> parse_setting("waveform:imbalanced-weighted")
        ('waveform', 'imbalanced-weighted')
        >>> parse_setting("waveform") is None
        True
    """
    parts = name.split(":")
    if len(parts) != 2 or parts[1] not in SETTINGS:
        return None
    return parts[0], parts[1]


def imbalance_factors(n_classes: int, setting: str) -> np.ndarray:
    """Relative class frequencies ``f`` of a setting.

    Examples:
        >>> imbalance_factors(2, "imbalanced").tolist()
        [1.0, 10.0]
        >>> imbalance_factors(4, "imbalanced-weighted").tolist()
        [1.0, 10.0, 1.0, 10.0]
    """
    if setting not in SETTINGS:
        raise InvalidParameterError(
            f"Unknown imbalance setting {setting!r}; valid: {', '.join(SETTINGS)}."
        )
    if setting == "balanced":
        return np.ones(n_classes)
    return np.where(np.arange(n_classes) % 2 == 0, 1.0, FACTOR)


def class_weights(factors: np.ndarray) -> np.ndarray:
    """``w_c = (1/f_c) / mean_c(1/f_c)``.

    Examples:
        >>> class_weights(np.array([1.0, 10.0])).round(4).tolist()
        [1.8182, 0.1818]
    """
    inv = 1.0 / np.asarray(factors, dtype=np.float64)
    out: np.ndarray = inv / inv.mean()
    return out


def subsample(y: np.ndarray, factors: np.ndarray, seed: int = 0) -> np.ndarray:
    """Sorted rows kept so that class counts follow ``factors`` (see module doc)."""
    y = np.asarray(y)
    n_classes = len(factors)
    counts = np.bincount(y, minlength=n_classes).astype(np.float64)
    target = np.asarray(factors, dtype=np.float64) * counts.max()
    scale = float(np.min(counts / target))
    rng = np.random.default_rng(seed)
    keep = []
    for c in range(n_classes):
        rows = np.flatnonzero(y == c)
        k = int(scale * target[c])
        keep.append(rng.choice(rows, size=min(k, rows.size), replace=False))
    return np.sort(np.concatenate(keep))


def standardise(x: np.ndarray) -> np.ndarray:
    """Standardise as the learning-AL code: global scalar, per channel for colour.

    Args:
        x: ``(n, d)``, ``(n, H, W)`` or ``(n, C, H, W)``; other ranks are
            flattened to ``(n, d)``.

    Returns:
        float32 ``(n, d)`` or ``(n, C, H, W)`` (grey images get ``C = 1``), with
        mean 0 and deviation 1 over all entries, or per channel when ``C > 1``.

    Examples:
        >>> standardise(np.zeros((2, 5, 5))).shape
        (2, 1, 5, 5)
    """
    x = np.asarray(x, dtype=np.float64)
    if x.ndim == 3:
        x = x[:, None]
    elif x.ndim != 4:
        x = x.reshape(len(x), -1)
    if x.ndim == 4 and x.shape[1] > 1:
        mean = x.mean(axis=(0, 2, 3), keepdims=True)
        std = x.std(axis=(0, 2, 3), keepdims=True)
        std[std == 0] = 1.0
    else:
        mean, std = x.mean(), float(x.std()) or 1.0
    out: np.ndarray = ((x - mean) / std).astype(np.float32)
    return out


def protocol_split(
    x: np.ndarray, y: np.ndarray, setting: str, n_classes: int
) -> dict[str, np.ndarray]:
    """Imbalance, standardisation (see the module doc) and the stratified split.

    Args:
        x: Inputs ``(n, d)`` (tabular), ``(n, H, W)`` (grey images) or
            ``(n, C, H, W)`` (images).
        y: Class indices ``(n,)``.
        setting: One of `SETTINGS`.
        n_classes: Number of classes.

    Returns:
        ``X_pool, y_pool, X_test, y_test, X_reward, y_reward, factors``; inputs
        ``(m, d)`` or ``(m, C, H, W)`` float32.
    """
    from sklearn.model_selection import train_test_split

    factors = imbalance_factors(n_classes, setting)
    keep = subsample(y, factors)
    x = standardise(np.asarray(x)[keep])
    y = y[keep]
    if len(y) < N_TEST + N_REWARD + 20:
        raise InvalidParameterError(
            f"After imbalancing only {len(y)} rows remain; the protocol needs more "
            f"than {N_TEST + N_REWARD + 20}."
        )
    rest, test = train_test_split(
        np.arange(len(y)), test_size=N_TEST, stratify=y, random_state=0
    )
    pool, reward = train_test_split(
        rest, test_size=N_REWARD, stratify=y[rest], random_state=0
    )
    pool, test, reward = np.sort(pool), np.sort(test), np.sort(reward)
    return {
        "X_pool": x[pool],
        "y_pool": y[pool],
        "X_test": x[test],
        "y_test": y[test],
        "X_reward": x[reward],
        "y_reward": y[reward],
        "factors": factors,
    }
