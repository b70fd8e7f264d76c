"""Time series: the ``.ts`` format, sliding windows, and the sequence datasets.

Sequences are arrays ``(n, T, C)`` (items, time steps, channels), float32.
Variable-length sets are padded at the end with NaN: a step whose channels are
all NaN is padding, the convention of the sequence networks. A missing value
(``?`` in a ``.ts`` file) is NaN too, so a step missing in every channel reads
as padding; impute missing values before training (the sequence networks refuse
a real step with some NaN channels). The shipped sets have none.

The ``.ts`` format is the one of the UCR/UEA time series classification
archive (Dau et al., IEEE/CAA JAS 2019; Bagnall et al., arXiv:1811.00075,
2018): ``#`` comment lines, ``@`` header lines (``@problemName``,
``@univariate``, ``@dimensions``, ``@equalLength``, ``@seriesLength``,
``@classLabel true A B ...``, ...), then ``@data`` and one case per line, its
channels separated by ``:``, the values of a channel by ``,``, the class label
last.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from labelwise.datasets.parsers import Raw
from labelwise.exceptions import InvalidParameterError

_MISSING = frozenset({"?", "nan", "NaN"})


@dataclass(frozen=True)
class TsData:
    """The cases of one ``.ts`` file.

    Attributes:
        X: Sequences ``(n, T, C)`` float32, NaN-padded at the end to the longest
            case; missing values (``?``) are NaN.
        y: Class indices ``(n,)`` into ``classes`` (int64).
        classes: Class labels in the order the header declares them.
        name: The ``@problemName`` (empty if the header has none).
    """

    X: np.ndarray
    y: np.ndarray
    classes: list[str]
    name: str


def read_ts(path: str | os.PathLike[str]) -> TsData:
    """Read a ``.ts`` file (UCR/UEA classification archive format).

    Args:
        path: The file.

    Returns:
        Its `TsData`; see `parse_ts`.

    Raises:
        InvalidParameterError: The file is not a labelled ``.ts`` file of the
            supported kind; the message names the line.
    """
    text = Path(path).read_bytes().decode("utf-8", errors="replace")
    return parse_ts(text, source=str(path))


def parse_ts(text: str, *, source: str = "<text>") -> TsData:
    r"""Parse the text of a ``.ts`` file.

    Header keywords are case-insensitive. ``@classLabel true`` with the class
    list is required (the cases are labelled); ``@timeStamps true`` is not
    supported. Channels of one case may differ in length; every channel is
    padded with NaN to the longest one of the file.

    Args:
        text: The file's text.
        source: Name used in error messages.

    Returns:
        `TsData` with ``X`` of shape ``(n, T, C)``.

    Raises:
        InvalidParameterError: Missing ``@data`` or class list, time stamps,
            no cases or a case without values, a label not declared in the
            header, a ``@dimensions`` that is not a number, or cases whose
            number of channels differs (from each other or from
            ``@dimensions``).

    Examples:
        >>> ts = parse_ts("@classLabel true a b\n@data\n1,2,3:4,5,6:b\n7,?:8,9:a\n")
        >>> ts.X.shape, ts.y.tolist(), ts.classes
        ((2, 3, 2), [1, 0], ['a', 'b'])
        >>> ts.X[1, :, 0].tolist()
        [7.0, nan, nan]
    """
    header, rows = _split_header(text, source)
    classes = _class_list(header, source)
    lookup = {c: i for i, c in enumerate(classes)}
    cases: list[list[np.ndarray]] = []
    labels: list[int] = []
    for lineno, line in rows:
        *channels, label = line.split(":")
        if label.strip() not in lookup:
            raise InvalidParameterError(
                f"{source}, line {lineno}: class label {label.strip()!r} is not "
                f"among the declared classes {classes}; add it to @classLabel."
            )
        case = [_values(ch, source, lineno) for ch in channels]
        if not any(ch.size for ch in case):
            raise InvalidParameterError(
                f"{source}, line {lineno}: the case has no values; every case "
                "needs at least one time step. Drop the line."
            )
        cases.append(case)
        labels.append(lookup[label.strip()])
    if not cases:
        raise InvalidParameterError(f"{source}: no cases after @data.")
    x = _stack(cases, header, source)
    return TsData(
        x, np.asarray(labels, np.int64), classes, header.get("problemname", "")
    )


def _split_header(
    text: str, source: str
) -> tuple[dict[str, str], list[tuple[int, str]]]:
    """The ``@`` header (lower-case keys) and the numbered data lines."""
    header: dict[str, str] = {}
    rows: list[tuple[int, str]] = []
    in_data = False
    for lineno, raw in enumerate(text.splitlines(), 1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        if in_data:
            rows.append((lineno, line))
            continue
        if not line.startswith("@"):
            raise InvalidParameterError(
                f"{source}, line {lineno}: expected a '@' header line or '#' "
                f"comment before @data; got {line[:40]!r}."
            )
        key, _, value = line[1:].partition(" ")
        if key.lower() == "data":
            in_data = True
        else:
            header[key.lower()] = value.strip()
    if not in_data:
        raise InvalidParameterError(f"{source}: no @data line; is this a .ts file?")
    if header.get("timestamps", "false").lower() == "true":
        raise InvalidParameterError(
            f"{source}: @timeStamps true is not supported; export the series "
            "without time stamps (equally spaced values)."
        )
    return header, rows


def _class_list(header: dict[str, str], source: str) -> list[str]:
    flag, *classes = header.get("classlabel", "false").split()
    if flag.lower() != "true" or not classes:
        raise InvalidParameterError(
            f"{source}: the header needs '@classLabel true LABEL1 LABEL2 ...' "
            f"(labelled classification cases); got "
            f"{header.get('classlabel', 'no @classLabel line')!r}."
        )
    return classes


def _values(channel: str, source: str, lineno: int) -> np.ndarray:
    text = channel.strip()
    if not text:
        return np.empty(0, np.float32)
    try:
        return np.array(
            [np.nan if v.strip() in _MISSING else float(v) for v in text.split(",")],
            dtype=np.float32,
        )
    except ValueError:
        raise InvalidParameterError(
            f"{source}, line {lineno}: a value is not a number (or '?' for "
            f"missing): {text[:60]!r}."
        ) from None


def _stack(
    cases: list[list[np.ndarray]], header: dict[str, str], source: str
) -> np.ndarray:
    """``(n, T, C)`` float32, every channel NaN-padded to the longest one."""
    n_channels = {len(c) for c in cases}
    declared = header.get("dimensions")
    if header.get("univariate", "").lower() == "true":
        declared = "1"
    if declared is not None and not declared.isdigit():
        raise InvalidParameterError(
            f"{source}: @dimensions must be a whole number; got {declared!r}."
        )
    if len(n_channels) > 1 or (
        declared and n_channels and {int(declared)} != n_channels
    ):
        raise InvalidParameterError(
            f"{source}: cases have {sorted(n_channels)} channels, but every case "
            f"needs the same number{f' (@dimensions {declared})' if declared else ''}."
        )
    c = n_channels.pop() if n_channels else int(declared or 1)
    t = max((len(ch) for case in cases for ch in case), default=0)
    out = np.full((len(cases), t, c), np.nan, dtype=np.float32)
    for i, case in enumerate(cases):
        for j, ch in enumerate(case):
            out[i, : len(ch), j] = ch
    return out


def sliding_windows(series: np.ndarray, length: int, stride: int) -> np.ndarray:
    """Cut one recording into windows of ``length`` steps, every ``stride`` steps.

    A tail shorter than ``length`` is dropped.

    Args:
        series: One recording ``(T, C)``.
        length: Steps per window (>= 1).
        stride: Steps between window starts (>= 1; ``stride < length``
            overlaps).

    Returns:
        Windows ``(m, length, C)``, ``m = max(0, (T - length) // stride + 1)``,
        copies in ``series``'s dtype.

    Raises:
        InvalidParameterError: ``series`` is not 2-D, or ``length``/``stride``
            not a positive int.

    Examples:
        >>> sliding_windows(np.arange(10).reshape(5, 2), 2, 2)[:, :, 0].tolist()
        [[0, 2], [4, 6]]
    """
    for arg, v in (("length", length), ("stride", stride)):
        if isinstance(v, bool) or not isinstance(v, int | np.integer) or v < 1:
            raise InvalidParameterError(f"{arg} must be a positive int; got {v!r}.")
    series = np.asarray(series)
    if series.ndim != 2:
        raise InvalidParameterError(
            f"series must be one recording of shape (T, C); got shape {series.shape}."
        )
    m = max(0, (series.shape[0] - length) // stride + 1)
    idx = np.arange(m)[:, None] * stride + np.arange(length)[None, :]
    return series[idx].copy()


def _pad_steps(x: np.ndarray, steps: int) -> np.ndarray:
    """``x`` ``(n, T, C)`` NaN-padded at the end to ``steps`` time steps."""
    if x.shape[1] >= steps:
        return x
    pad = np.full((x.shape[0], steps - x.shape[1], x.shape[2]), np.nan, x.dtype)
    return np.concatenate([x, pad], axis=1)


def parse_ts_pair(files: dict[str, Path]) -> Raw:
    """Raw arrays of a UCR/UEA problem from its ``*_TRAIN.ts`` and ``*_TEST.ts``.

    The archive's own train/test split is kept; both parts are padded to the
    longer one's length.

    Args:
        files: Extracted files, keyed by their path in the package.

    Returns:
        ``(X_train, y_train, X_test, y_test)``, sequences ``(n, T, C)`` float32.

    Raises:
        InvalidParameterError: A part is missing, or the parts declare
            different classes.
    """
    by_part = {Path(k).stem.rsplit("_", 1)[-1]: v for k, v in files.items()}
    if set(by_part) != {"TRAIN", "TEST"}:
        raise InvalidParameterError(
            f"Expected a *_TRAIN.ts and a *_TEST.ts file; got {sorted(files)}."
        )
    train, test = read_ts(by_part["TRAIN"]), read_ts(by_part["TEST"])
    if train.classes != test.classes:
        raise InvalidParameterError(
            f"{by_part['TEST']} declares classes {test.classes}, but the training "
            f"file declares {train.classes}."
        )
    steps = max(train.X.shape[1], test.X.shape[1])
    return _pad_steps(train.X, steps), train.y, _pad_steps(test.X, steps), test.y


WATCH_WINDOW = 100
"""Steps per window of ``watch-exercises`` (2 s at 50 Hz)."""
WATCH_STRIDE = 50
"""Steps between window starts of ``watch-exercises`` (half a window)."""
WATCH_TEST_SUBJECTS = (9, 10)
"""The participants whose windows form the ``watch-exercises`` test set."""


def parse_watch(files: dict[str, Path]) -> Raw:
    """The smartwatch shoulder-exercise recordings (seglearn's ``watch`` set), windowed.

    140 recordings (10 participants, 7 exercises, both arms) of a wrist-worn
    6-axis inertial sensor (accelerometer ``ax, ay, az``, gyroscope
    ``wx, wy, wz``) at 50 Hz, from Burns et al., "Shoulder physiotherapy
    exercise recognition: machine learning the inertial signals from a
    smartwatch", Physiological Measurement 39(7), 2018. Each recording is cut
    into windows of `WATCH_WINDOW` steps every `WATCH_STRIDE` steps, labelled
    with the recording's exercise. The test set is every window of the
    participants `WATCH_TEST_SUBJECTS`, so no participant is in both parts.

    Args:
        files: The extracted ``watch_dataset.npy``.

    Returns:
        ``(X_train, y_train, X_test, y_test)``: 3 675 and 1 002 windows
        ``(100, 6)`` float32, labels 0-6.
    """
    path = next(iter(files.values()))
    # The pickle (a dict of arrays) comes from a pinned, checksummed wheel.
    data = np.load(path, allow_pickle=True).item()
    parts: dict[bool, tuple[list[np.ndarray], list[np.ndarray]]] = {
        False: ([], []),
        True: ([], []),
    }
    for series, label, subject in zip(
        data["X"], data["y"], data["subject"], strict=True
    ):
        windows = sliding_windows(
            np.asarray(series, np.float32), WATCH_WINDOW, WATCH_STRIDE
        )
        xs, ys = parts[int(subject) in WATCH_TEST_SUBJECTS]
        xs.append(windows)
        ys.append(np.full(len(windows), int(label), np.int64))
    (xtr, ytr), (xte, yte) = parts[False], parts[True]
    return (
        np.concatenate(xtr),
        np.concatenate(ytr),
        np.concatenate(xte),
        np.concatenate(yte),
    )
