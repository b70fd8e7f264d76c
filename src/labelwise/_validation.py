"""Validation helpers used at the public boundary (private kernels trust inputs)."""

from __future__ import annotations

import difflib
import math
import warnings
from collections.abc import Iterable
from typing import Any

import numpy as np

from labelwise._typing import IndexArray, RNGLike
from labelwise.exceptions import BatchSizeWarning, InvalidParameterError


def check_rng(rng: RNGLike) -> np.random.Generator:
    """Normalise a seed or generator into a ``numpy.random.Generator``.

    Args:
        rng: ``None`` (fresh entropy), an ``int`` seed or a ``Generator``.

    Returns:
        A generator. A passed generator is returned as is (and advanced by its user).
    """
    if rng is None or isinstance(rng, int | np.integer):
        if rng is not None and int(rng) < 0:
            raise InvalidParameterError(
                f"rng seed must be a non-negative int; got {rng}. Pass e.g. rng=0."
            )
        return np.random.default_rng(None if rng is None else int(rng))
    if isinstance(rng, np.random.Generator):
        return rng
    raise InvalidParameterError(
        "rng must be None, an int seed or a numpy.random.Generator; "
        f"got {type(rng).__name__}. Pass e.g. rng=0 or np.random.default_rng(0)."
    )


def child_seed(rng: np.random.Generator) -> int:
    """Draw a 63-bit seed from ``rng`` for a sub-component (e.g. torch)."""
    return int(rng.integers(0, 2**63 - 1))


def check_features(
    x: Any,
    *,
    name: str = "X",
    ndim_min: int = 2,
    allow_nan: bool = False,
    allow_padding: bool = False,
) -> np.ndarray:
    """Check that ``x`` is a finite real array with at least ``ndim_min`` dims.

    Args:
        x: Array-like of shape ``(n_samples, ...)``.
        name: Name used in error messages.
        ndim_min: Minimal number of dimensions.
        allow_nan: Whether non-finite values are accepted.
        allow_padding: Accept padded sequences (see `check_padding`): NaN
            only in whole time steps after each row's last real step.

    Returns:
        The array (no copy when already an ndarray).

    Raises:
        InvalidParameterError: Not numeric, complex, too few dimensions, no
            rows, or (unless ``allow_nan``) NaN or infinite values (with
            ``allow_padding``, NaN outside trailing padded steps).
    """
    arr = np.asarray(x)
    if arr.dtype == object or not np.issubdtype(arr.dtype, np.number):
        raise InvalidParameterError(
            f"{name} must be a numeric array; got dtype {arr.dtype}. "
            "Convert it with np.asarray(X, dtype=np.float32)."
        )
    if np.issubdtype(arr.dtype, np.complexfloating):
        # casting to float would drop the imaginary parts without a word
        raise InvalidParameterError(
            f"{name} must hold real numbers; got complex values (dtype "
            f"{arr.dtype}). Choose real features yourself, e.g. "
            f"np.concatenate([{name}.real, {name}.imag], axis=-1) or np.abs({name})."
        )
    if arr.ndim < ndim_min:
        hint = (
            " Reshape with X.reshape(-1, 1) for a single feature."
            if arr.ndim == 1
            else ""
        )
        raise InvalidParameterError(
            f"{name} must have shape (n_samples, n_features, ...) with at least "
            f"{ndim_min} dimensions; got shape {arr.shape}.{hint}"
        )
    if arr.shape[0] == 0:
        raise InvalidParameterError(
            f"{name} is empty (shape {arr.shape}); pass at least one sample."
        )
    if not allow_nan and np.issubdtype(arr.dtype, np.floating):
        _check_finite(arr, name, allow_padding and arr.ndim in (2, 3))
    return arr


def _check_finite(arr: np.ndarray, name: str, allow_padding: bool) -> None:
    """Finite rows, or (``allow_padding``) valid NaN-padded sequences."""
    rows = arr.reshape(arr.shape[0], -1)
    # chunked, so no boolean temporary the size of the pool
    bad = np.concatenate(
        [
            s + np.flatnonzero(~np.isfinite(rows[s : s + 8192]).all(axis=1))
            for s in range(0, rows.shape[0], 8192)
        ]
    )
    if not bad.size:
        return
    some = bad[:8192]
    steps = arr[some] if arr.ndim == 3 else arr[some].reshape(some.size, -1, 1)
    if allow_padding and np.isnan(steps).all(axis=2).any():
        check_padding(arr, name=name)  # looks padded: raises unless valid
        return
    raise InvalidParameterError(
        f"{name} contains NaN or infinite values in {bad.size} row(s), "
        f"first at rows {bad[:5].tolist()}. Impute or drop them before "
        f"active learning.{_padding_hint(arr)}"
    )


def _padding_hint(arr: np.ndarray) -> str:
    if arr.ndim not in (2, 3):
        return ""
    return (
        " NaN-padded sequences (labelwise.models.pad_sequences) need a sequence "
        "network that masks padding: lstm, gru, tcn or transformer."
    )


_PAD_ROWS = 8192


def check_padding(x: np.ndarray, *, name: str = "X") -> np.ndarray:
    """Check a batch of padded sequences; return its padding mask.

    Sequences are ``(n, T, C)`` (or ``(n, T)``, one channel). A time step is
    padding when every channel is NaN. Each row must start with at least one
    real step, its padding must come after all its real steps, a real step
    must have no NaN, and nothing may be infinite. Checked in row chunks.

    Args:
        x: Array of shape ``(n, T, C)`` or ``(n, T)``.
        name: Name used in error messages.

    Returns:
        Boolean mask ``(n, T)``, True at padded steps.

    Raises:
        InvalidParameterError: Infinite values, a NaN inside a real step, a
            row without real steps, or padding before a real step.
    """
    arr = np.asarray(x)
    steps = arr if arr.ndim == 3 else arr[:, :, None]
    if not np.issubdtype(arr.dtype, np.floating):
        return np.zeros(steps.shape[:2], dtype=bool)
    masks = []
    for s in range(0, steps.shape[0], _PAD_ROWS):
        chunk = steps[s : s + _PAD_ROWS]
        nan = np.isnan(chunk)
        pad = nan.all(axis=2)
        problem = _padding_problem(chunk, nan, pad)
        if problem is not None:
            what, rows = problem
            raise InvalidParameterError(
                f"{name} is not a valid batch of padded sequences: {what} in "
                f"{rows.size} row(s), first at rows {(s + rows[:5]).tolist()}. "
                "Padding is NaN in every channel of a step, after the real steps "
                "(pad_sequences writes it so); impute missing values in real "
                "steps first."
            )
        masks.append(pad)
    return np.concatenate(masks)


def _padding_problem(
    chunk: np.ndarray, nan: np.ndarray, pad: np.ndarray
) -> tuple[str, np.ndarray] | None:
    """What is wrong with one chunk of padded sequences, and in which rows."""
    checks = (
        ("infinite values", np.isinf(chunk).any(axis=(1, 2))),
        ("NaN inside a real (not all-NaN) step", (nan.any(axis=2) & ~pad).any(1)),
        ("no real step (all padding)", pad.all(axis=1)),
        (
            "padding before a real step (padded at the front?)",
            (pad[:, :-1] & ~pad[:, 1:]).any(1),
        ),
    )
    for what, bad in checks:
        if bad.any():
            return what, np.flatnonzero(bad)
    return None


def check_indices(
    indices: Any, n_samples: int, *, name: str = "indices", allow_empty: bool = False
) -> IndexArray:
    """Validate absolute indices: integers, 1-D, in range, unique.

    Args:
        indices: Array-like of integer indices into a pool of ``n_samples``.
        n_samples: Size of the pool.
        name: Name used in error messages.
        allow_empty: Whether an empty array is accepted.

    Returns:
        The indices as a 1-D ``int64`` array.
    """
    arr = np.asarray(indices)
    if arr.ndim == 0:
        arr = arr.reshape(1)
    if arr.size == 0:
        if allow_empty:
            return np.zeros(0, dtype=np.int64)
        raise InvalidParameterError(f"{name} is empty; pass at least one index.")
    if arr.ndim != 1:
        raise InvalidParameterError(
            f"{name} must be one-dimensional; got shape {arr.shape}. Flatten it."
        )
    if not np.issubdtype(arr.dtype, np.integer) and not (
        np.issubdtype(arr.dtype, np.floating) and np.all(arr == np.round(arr))
    ):
        raise InvalidParameterError(f"{name} must be integers; got dtype {arr.dtype}.")
    # the range is checked before the cast, which wraps 2**64 - 1 to -1
    out = (arr < 0) | (arr >= n_samples)
    if out.any():
        shown = [int(v) if math.isfinite(v) else v for v in arr[out][:5].tolist()]
        raise InvalidParameterError(
            f"{name} must lie in [0, {n_samples - 1}] (absolute pool indices); got "
            f"{shown} out of range."
        )
    arr = arr.astype(np.int64, copy=False)
    uniq, counts = np.unique(arr, return_counts=True)
    if (counts > 1).any():
        raise InvalidParameterError(
            f"{name} contains duplicates: {uniq[counts > 1][:5].tolist()}. "
            "Pass each index once."
        )
    return arr


def check_batch_size(batch_size: Any, n_available: int, *, stacklevel: int = 3) -> int:
    """Validate a batch size; warn and shrink it when the pool is smaller.

    Args:
        batch_size: Requested number of samples.
        n_available: Number of unlabeled candidates.
        stacklevel: Passed to ``warnings.warn``.

    Returns:
        ``min(batch_size, n_available)``.
    """
    if isinstance(batch_size, bool) or not isinstance(batch_size, int | np.integer):
        raise InvalidParameterError(
            f"batch_size must be a positive int; got {batch_size!r}."
        )
    if batch_size < 1:
        raise InvalidParameterError(
            f"batch_size must be a positive int; got {batch_size}."
        )
    if n_available == 0:
        raise InvalidParameterError(
            "The unlabeled pool is empty: every sample is labeled already. "
            "Stop querying or add unlabeled samples."
        )
    if batch_size > n_available:
        warnings.warn(
            f"batch_size={batch_size} exceeds the {n_available} unlabeled samples; "
            f"selecting {n_available}.",
            BatchSizeWarning,
            stacklevel=stacklevel,
        )
        return n_available
    return int(batch_size)


def check_positive(
    value: Any, name: str, *, integer: bool = False, finite: bool = False
) -> None:
    """Raise unless ``value`` is a positive number (an int when ``integer``).

    With ``finite``, infinity is refused too (a learning rate of ``inf`` turns
    every weight into NaN without an error).
    """
    kinds: tuple[type, ...] = (int, np.integer) if integer else (int, float, np.number)
    number: Any = value  # not narrowed by the isinstance below
    if (
        isinstance(value, bool)
        or not isinstance(value, kinds)
        or not number > 0
        or (finite and not math.isfinite(number))
    ):
        kind = "int" if integer else "number"
        kind = f"finite {kind}" if finite else kind
        raise InvalidParameterError(f"{name} must be a positive {kind}; got {value!r}.")


def check_weight_decay(value: Any, name: str = "weight_decay") -> None:
    """Raise unless ``value`` is a finite number ``>= 0`` (0 = no weight decay)."""
    if (
        isinstance(value, bool)
        or not isinstance(value, int | float | np.number)
        or not 0 <= value < np.inf
    ):
        raise InvalidParameterError(
            f"{name} must be a finite number >= 0 (0 = no weight decay); got {value!r}."
        )


def check_class_labels(
    y: Any, n: int, n_classes: Any, *, name: str = "y"
) -> IndexArray:
    """Class indices ``(n,)`` in ``[0, n_classes)`` as int64, or a clear error.

    Booleans (classes 0 and 1) and integral floats (``1.0``, which `LabelState`
    accepts too) are accepted; other floats, strings and out-of-range indices
    are refused (a classifier would otherwise truncate ``1.7`` to class 1, or
    fail deep in its loss).
    """
    if isinstance(n_classes, bool) or not isinstance(n_classes, int | np.integer):
        raise InvalidParameterError(f"n_classes must be an int; got {n_classes!r}.")
    if n_classes < 1:
        raise InvalidParameterError(f"n_classes must be >= 1; got {n_classes}.")
    arr = np.asarray(y)
    if arr.shape != (n,):
        raise InvalidParameterError(
            f"{name} must have shape ({n},) to match X; got {arr.shape}."
        )
    if arr.dtype == np.bool_:  # False/True: classes 0 and 1
        arr = arr.astype(np.int64)
    if not np.issubdtype(arr.dtype, np.integer) and not (
        np.issubdtype(arr.dtype, np.floating)
        and bool(np.all(np.isfinite(arr)))
        and bool(np.all(arr == np.round(arr)))
    ):
        raise InvalidParameterError(
            f"{name} must hold class indices in [0, {int(n_classes) - 1}]; got dtype "
            f"{arr.dtype}{' with non-integer values' if arr.dtype.kind == 'f' else ''}"
            ". Map class names to indices first (e.g. with np.unique(..., "
            "return_inverse=True))."
        )
    out = arr.astype(np.int64)
    bad = (out < 0) | (out >= n_classes)
    if bad.any():
        raise InvalidParameterError(
            f"{name} holds {np.unique(out[bad])[:5].tolist()}, outside the classes "
            f"0..{int(n_classes) - 1} (n_classes={int(n_classes)}). Pass the right "
            "n_classes or map the labels to 0..n_classes-1."
        )
    return out


def check_regression_targets(y: Any, n: int, *, name: str = "y") -> np.ndarray:
    """Regression targets ``(n,)`` as float64, or a clear error.

    Real numbers only: strings, booleans, complex numbers (whose imaginary part
    a cast would drop) and NaN or infinite targets are refused, as `LabelState`
    refuses them as labels.

    Args:
        y: Targets, one per row of ``X``.
        n: The number of rows of ``X``.
        name: The parameter's name in the message.

    Returns:
        The targets as a float64 array of shape ``(n,)``.

    Raises:
        InvalidParameterError: Another shape, non-real values, NaN or infinity.
    """
    arr = np.asarray(y)
    if arr.shape != (n,):
        raise InvalidParameterError(
            f"{name} must have shape ({n},) to match X (one target per row); got "
            f"{arr.shape}."
        )
    if not np.issubdtype(arr.dtype, np.number) or arr.dtype.kind == "c":
        raise InvalidParameterError(
            f"{name} must hold real numbers (regression targets); got dtype "
            f"{arr.dtype}. Convert it with np.asarray({name}, dtype=float)."
        )
    out = arr.astype(np.float64)
    bad = np.flatnonzero(~np.isfinite(out))
    if bad.size:
        raise InvalidParameterError(
            f"{name} contains NaN or infinite targets at {bad.size} row(s), first at "
            f"rows {bad[:5].tolist()}. Drop or impute them."
        )
    return out


def check_sample_weight(
    w: Any, n: int, *, name: str = "sample_weight"
) -> np.ndarray | None:
    """``None`` or float64 weights ``(n,)``: finite, ``>= 0`` and not all zero.

    Args:
        w: ``None`` (unweighted) or one weight per item.
        n: The number of items.
        name: The parameter's name in the message.

    Returns:
        ``None`` or the weights as a float64 array.

    Raises:
        InvalidParameterError: Not numbers, another shape, a negative, NaN or
            infinite weight, or all weights zero.
    """
    if w is None:
        return None
    arr = np.asarray(w)
    if arr.dtype != np.bool_ and not np.issubdtype(arr.dtype, np.number):
        raise InvalidParameterError(  # booleans pass: weights 0 and 1
            f"{name} must hold numbers; got dtype {arr.dtype}. Pass one float "
            "weight per item, or None for no weighting."
        )
    if arr.dtype.kind == "c":
        raise InvalidParameterError(f"{name} must hold real numbers; got complex.")
    arr = arr.astype(np.float64)
    if arr.shape != (n,):
        raise InvalidParameterError(f"{name} must have shape ({n},); got {arr.shape}.")
    if not np.isfinite(arr).all() or (arr < 0).any() or not arr.sum() > 0:
        raise InvalidParameterError(
            f"{name} must be finite, >= 0 and not all zero; got min {arr.min()!r}, "
            f"sum {arr.sum()!r}."
        )
    return arr


def check_class_weights(
    weights: Any, n_classes: int | None = None, *, name: str = "class_weights"
) -> np.ndarray | None:
    """Per-class training weights as float64 ``(n_classes,)``, or a clear error.

    One positive finite number per class (``None`` passes through: unweighted).
    Zero, negative, NaN or infinite weights are refused: a class weighted 0 is
    a class the model never learns, and the imbalanced-weighted setting's
    posterior correction divides by the weights.

    Args:
        weights: ``None`` or a sequence of numbers.
        n_classes: The number of classes the weights must match; ``None``
            checks only that there is at least one.
        name: The parameter's name in the error message.

    Returns:
        ``None`` or the weights as a float64 array.

    Raises:
        InvalidParameterError: Not a vector of positive finite numbers, or not
            one per class.
    """
    if weights is None:
        return None
    try:
        w = np.asarray(weights, dtype=np.float64)
    except (TypeError, ValueError):
        w = np.full(0, np.nan)  # not numbers: refused below
    count = "one per class" if n_classes is None else f"{n_classes}, one per class"
    if (
        w.ndim != 1
        or w.size == 0
        or (n_classes is not None and w.size != n_classes)
        or not (np.isfinite(w).all() and (w > 0).all())
    ):
        try:
            shown: Any = np.asarray(weights).tolist()
        except (TypeError, ValueError):
            shown = weights
        raise InvalidParameterError(
            f"{name} must be positive finite numbers ({count}); got {shown!r}. "
            "To fix: pass e.g. the inverse class frequencies, or None for no "
            "weighting."
        )
    return w


def closest_name(name: str, choices: Iterable[str]) -> str:
    """Format a 'did you mean' hint for an unknown name (case and spaces aside)."""
    options = sorted(choices)
    folded = {o.strip().lower(): o for o in options}
    key = name.strip().lower()
    match = difflib.get_close_matches(key, list(folded), n=1, cutoff=0.5)
    match = [folded[m] for m in match]
    hint = f" Did you mean '{match[0]}'?" if match else ""
    return f"{hint} Available: {', '.join(options)}."
