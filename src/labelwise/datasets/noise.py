"""Heteroskedastic-noise benchmarks of the LHD paper as wrappers of any dataset.

A wrapped dataset is named ``BASE:KIND`` or ``BASE:KIND:SHARE``, e.g.
``fashion-mnist:noisy-blank`` or ``mnist:noisy-class:0.4``. Noisy items are added
to the training pool (the test set stays clean) so that they make up ``SHARE`` of
it (0.8 by default, the paper's ``mult = 4``: four noisy items per clean one).
Noise is generated in raw input space (pixel levels for images) with a fixed
seed, so every strategy and every seed of a benchmark sees the same pool.

========= =================================================================
kind      added items (as in the LHD code, ``dataset.py``)
========= =================================================================
noisy-    all-zero inputs (black images), labels uniform over the classes
blank
noisy-    ``K = 100`` types, each a solid colour (every channel uniform over
diverse   the pixel range; per feature over its range for tabular data) with
          3 distinct labels; each item picks a type, then one of its labels
noisy-    class 1's items all get uniform random labels, and copies of the
class     first ``K = 100`` class-1 items (cycled) are added, each with a
          fresh uniform label; class 1's relabelled items count as noisy
========= =================================================================

CIFAR-10 and SVHN, the paper's image sets, are not obtainable offline; labelwise
runs these benchmarks on Fashion-MNIST and MNIST (one grey channel).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from labelwise.datasets.imbalance import SETTINGS as IMBALANCE_SETTINGS
from labelwise.exceptions import InvalidParameterError

NOISE_KINDS = ("noisy-blank", "noisy-diverse", "noisy-class")
DEFAULT_SHARE = 0.8
N_TYPES = 100
NOISE_SEED = 0


@dataclass(frozen=True)
class NoiseSpec:
    """A parsed noise wrapper: ``kind`` and the noisy ``share`` of the pool."""

    kind: str
    share: float = DEFAULT_SHARE


def parse_name(name: str) -> tuple[str, NoiseSpec | None]:
    """Split ``BASE[:KIND[:SHARE]]`` into the base name and the noise wrapper.

    Examples:
        >>> parse_name("mnist:noisy-blank:0.4")
        ('mnist', NoiseSpec(kind='noisy-blank', share=0.4))
        >>> parse_name("digits")
        ('digits', None)
    """
    parts = name.split(":")
    if len(parts) == 1:
        return name, None
    if len(parts) > 3 or parts[1] not in NOISE_KINDS:
        raise InvalidParameterError(
            f"Dataset name {name!r}: expected BASE, BASE:KIND or BASE:KIND:SHARE "
            f"with KIND one of {', '.join(NOISE_KINDS)} (e.g. "
            "fashion-mnist:noisy-blank:0.8); or BASE:SETTING with SETTING one of "
            f"{', '.join(IMBALANCE_SETTINGS)} (e.g. mnist:imbalanced-weighted); "
            "or, for a regression set, BASE:aux[:ZETA[:NAUX]] (e.g. diamonds:aux)."
        )
    share = DEFAULT_SHARE
    if len(parts) == 3:
        try:
            share = float(parts[2])
        except ValueError:
            share = -1.0
        if not 0 < share < 1:
            raise InvalidParameterError(
                f"Dataset name {name!r}: the noisy share must be a number in (0, 1), "
                f"e.g. 0.2, 0.4 or 0.8; got {parts[2]!r}."
            )
    return parts[0], NoiseSpec(parts[1], share)


def n_noisy(n_clean: int, share: float) -> int:
    """Number of added items so that they are ``share`` of the pool."""
    return round(n_clean * share / (1 - share))


def add_noise(
    X: np.ndarray,
    y: np.ndarray,
    spec: NoiseSpec,
    *,
    n_classes: int,
    value_range: tuple[float, float] | None = None,
    seed: int = NOISE_SEED,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Add the noisy items of ``spec`` to a clean pool in raw input space.

    Args:
        X: Clean raw inputs ``(n, ...)`` (pixel levels for images).
        y: Clean labels ``(n,)``.
        spec: Kind and share.
        n_classes: Number of classes (labels are drawn from ``0..n_classes-1``).
        value_range: ``(low, high)`` of a pixel (images, e.g. ``(0, 255)``);
            ``None`` uses each feature's range in ``X`` (tabular data).
        seed: Seed of the noise.

    Returns:
        ``(X_noisy, y_noisy, noisy)``: the clean items first (class-1 items
        relabelled for ``noisy-class``), then the added ones; ``noisy`` marks
        every noisy item.
    """
    rng = np.random.default_rng([seed, NOISE_KINDS.index(spec.kind)])
    n = X.shape[0]
    m = n_noisy(n, spec.share)
    y = np.asarray(y).copy()
    noisy_clean = np.zeros(n, dtype=bool)
    if spec.kind == "noisy-blank":
        extra = np.zeros((m, *X.shape[1:]), dtype=X.dtype)
        labels = rng.integers(0, n_classes, size=m)
    elif spec.kind == "noisy-diverse":
        extra, labels = _diverse(X, m, n_classes, value_range, rng)
    else:
        ones = np.flatnonzero(y == 1)
        if ones.size == 0:
            raise InvalidParameterError(
                "noisy-class needs items of class 1 in the pool; there are none."
            )
        y[ones] = rng.integers(0, n_classes, size=ones.size)
        noisy_clean[ones] = True
        source = ones[:N_TYPES]
        extra = X[source[np.arange(m) % source.size]]
        labels = rng.integers(0, n_classes, size=m)
    return (
        np.concatenate([X, extra.astype(X.dtype)]),
        np.concatenate([y, labels.astype(y.dtype)]),
        np.concatenate([noisy_clean, np.ones(m, dtype=bool)]),
    )


def _diverse(
    X: np.ndarray,
    m: int,
    n_classes: int,
    value_range: tuple[float, float] | None,
    rng: np.random.Generator,
) -> tuple[np.ndarray, np.ndarray]:
    k_labels = min(3, n_classes)
    label_sets = np.stack(
        [rng.choice(n_classes, size=k_labels, replace=False) for _ in range(N_TYPES)]
    )
    if value_range is not None:
        # one colour per channel, constant over the image
        channels = X.shape[1] if X.ndim == 4 else 1
        lo, hi = value_range
        colours = rng.integers(int(lo), int(hi) + 1, size=(N_TYPES, channels))
        shape = (N_TYPES, *X.shape[1:])
        if X.ndim == 4:
            types = np.broadcast_to(colours[:, :, None, None], shape)
        else:
            types = np.broadcast_to(
                colours.reshape((N_TYPES,) + (1,) * (X.ndim - 1)), shape
            )
    else:
        flat = X.reshape(X.shape[0], -1)
        lo_f, hi_f = flat.min(0), flat.max(0)
        types = (lo_f + rng.random((N_TYPES, flat.shape[1])) * (hi_f - lo_f)).reshape(
            (N_TYPES, *X.shape[1:])
        )
    which = rng.integers(0, N_TYPES, size=m)
    pick = rng.integers(0, k_labels, size=m)
    return np.asarray(types)[which], label_sets[which, pick]
