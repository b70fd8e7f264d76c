"""Loading: fetch into the cache, verify, preprocess and split a dataset.

`fetch_raw` fetches a registry entry once and caches its raw arrays;
`load` turns them into a `Dataset` (noise and imbalance wrappers,
regression preprocessing, subsampling, standardisation).
"""

from __future__ import annotations

import dataclasses
import fcntl
import os
import shutil
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from labelwise.datasets._fetch import PARTIAL, cache_dir, fetch_verified
from labelwise.datasets.auxiliary import AuxSpec, carve_auxiliary, parse_aux
from labelwise.datasets.imbalance import class_weights, parse_setting, protocol_split
from labelwise.datasets.noise import NoiseSpec, add_noise, parse_name
from labelwise.datasets.parsers import Raw, content_hash, unpack_texts
from labelwise.datasets.registry import _require_name, _Spec, _spec, check_name
from labelwise.datasets.shifted import NAME as SHIFTED
from labelwise.datasets.shifted import make_shifted, parse_shifted
from labelwise.exceptions import (
    ChecksumError,
    DatasetUnavailableError,
    InvalidParameterError,
)


@dataclass(frozen=True)
class Dataset:
    """A classification dataset with a fixed split.

    Attributes:
        name: Registry name.
        X_train: Training inputs ``(n_train, ...)`` (float32, standardised):
            images ``(n, 1, 28, 28)``, tables ``(n, d)``, sequences
            ``(n, T, C)`` (NaN-padded when lengths differ).
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
        texts_train: Text datasets: the training texts, one per row of
            ``X_train`` (whose features are TF-IDF, see `load`), else ``None``.
        texts_test: Text datasets: the test texts, else ``None``.
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
    texts_train: list[str] | None = None
    texts_test: list[str] | None = None

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


def fetch_raw(name: str, *, root: Path | None = None) -> Raw:
    """Raw arrays ``(X_train, y_train, X_test, y_test)``, fetched and verified.

    The cache is written atomically under a lock (one process fetches, the
    others wait and then read its file); a cached file is read without the
    lock, so a read-only cache that holds the dataset works.

    Args:
        name: Registry name.
        root: Cache root. Defaults to `cache_dir`.

    Raises:
        DatasetUnavailableError: No source is reachable and verified, or the
            cache folder cannot be written.
        ChecksumError: The cached file is unreadable or its content differs
            from the pinned hash.
    """
    spec = _spec(name)
    folder = (root or cache_dir()) / name
    cached = folder / "raw.npz"
    if not cached.exists():
        with _locked(folder):
            if not cached.exists():
                return _fetch_into(name, spec, folder, cached)
    raw = _read_cached(cached)
    _check_content(name, raw, spec, f"Delete {cached} and fetch again.")
    return raw


@contextmanager
def _locked(folder: Path) -> Iterator[None]:
    """Hold ``folder``'s fetch lock (creating the folder)."""
    with ExitStack() as stack:
        try:
            folder.mkdir(parents=True, exist_ok=True)
            lock = stack.enter_context(open(folder / ".lock", "w"))
            fcntl.flock(lock, fcntl.LOCK_EX)
        except OSError as exc:
            env = os.environ.get("LABELWISE_DATA")
            raise DatasetUnavailableError(
                f"Cannot write or lock the dataset cache folder {folder} "
                f"({type(exc).__name__}: {exc}). Set LABELWISE_DATA (now "
                f"{'unset' if env is None else repr(env)}) or pass root= for a "
                "writable local folder."
            ) from None
        yield


def _read_cached(cached: Path) -> Raw:
    """The arrays of a cache file; `ChecksumError` if it is unreadable."""
    try:
        with np.load(cached) as data:
            return (data["X_train"], data["y_train"], data["X_test"], data["y_test"])
    except MemoryError:  # a sound file too large for this machine: keep it
        raise
    except Exception as exc:  # a truncated or damaged file fails in many ways
        raise ChecksumError(
            f"The cached file {cached} is unreadable ({type(exc).__name__}: "
            f"{exc}): it is truncated or damaged. Delete it and fetch again."
        ) from None


def _fetch_into(name: str, spec: _Spec, folder: Path, cached: Path) -> Raw:
    """Fetch, parse, verify, then cache atomically; return the raw arrays.

    Runs under the folder's lock, so the temporary files of an earlier fetch
    that was killed are removed first.
    """
    for stale in [
        *folder.glob(PARTIAL + "*"),
        *folder.glob("tmp*"),
        folder / "raw.tmp.npz",
    ]:
        if stale.is_dir():
            shutil.rmtree(stale, ignore_errors=True)
        else:
            stale.unlink(missing_ok=True)

    def accept(fetched: dict[str, Path]) -> Raw:
        files = {
            k: v
            for k, v in fetched.items()
            if not spec.members or Path(k).name in spec.members
        }
        raw = spec.parse(files)
        _check_content(name, raw, spec, "The source served other data.")
        return raw

    if spec.sources:
        raw = fetch_verified(name, spec.sources, folder, accept)
    else:
        raw = accept({})
    tmp = folder / f"{PARTIAL}raw.npz"
    try:
        np.savez(tmp, X_train=raw[0], y_train=raw[1], X_test=raw[2], y_test=raw[3])
        tmp.replace(cached)
    finally:
        tmp.unlink(missing_ok=True)
    return raw


def _check_content(name: str, raw: Raw, spec: _Spec, fix: str) -> None:
    got = content_hash(raw)
    if got != spec.content_sha256:
        raise ChecksumError(
            f"Dataset '{name}': content SHA-256 {got} differs from the pinned "
            f"{spec.content_sha256}. {fix}"
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
    `labelwise.datasets.auxiliary` leave the pool before ``pool_size``
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
    name: str,
    setting: str,
    root: Path | None,
    pool_size: int | None,
    test_size: int | None,
) -> Dataset:
    """A classification dataset under an imbalance setting.

    See `labelwise.datasets.imbalance`: train and test rows pooled,
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
    keep_test = _subsample(len(parts["y_test"]), test_size)  # of the 200
    weights = class_weights(parts["factors"])
    return Dataset(
        name,
        parts["X_pool"][keep],
        parts["y_pool"][keep],
        parts["X_test"][keep_test],
        parts["y_test"][keep_test],
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


def _standardiser(
    spec: _Spec, xtr: np.ndarray
) -> tuple[tuple[int, ...], Any, Any, Any]:
    """``(shape, scale, mean, std)`` from the full clean training inputs.

    Images: one global mean and deviation after scaling to [0, 1]; sequences
    ``(n, T, C)``: per channel over items and steps, ignoring NaN (padding and
    missing values stay NaN); tables: per column.
    """
    if spec.image:
        ftr = xtr.astype(np.float32) / 255.0
        return (1, 28, 28), 255.0, float(ftr.mean()), float(ftr.std())
    ftr = xtr.astype(np.float32)
    if spec.sequence is not None:
        mean, std = np.nanmean(ftr, axis=(0, 1)), np.nanstd(ftr, axis=(0, 1))
    else:
        mean, std = ftr.mean(0), ftr.std(0)
    std[~(std > 0)] = 1.0
    return tuple(xtr.shape[1:]), 1.0, mean, std


def _load_classification(
    name: str,
    spec: _Spec,
    noise: NoiseSpec | None,
    raw: Raw,
    pool_size: int | None,
    test_size: int | None,
) -> Dataset:
    """Subsample, add the noise wrapper's items, and standardise a classification set.

    Standardisation uses the full clean training set's statistics (see
    `_standardiser`).
    """
    xtr, ytr, xte, yte = raw
    shape, scale, mean, std = _standardiser(spec, xtr)
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


def _load_text(
    name: str,
    spec: _Spec,
    raw: Raw,
    pool_size: int | None,
    test_size: int | None,
) -> Dataset:
    """A text dataset: TF-IDF features of its texts, and the texts themselves.

    The vectorizer (`labelwise.features.text.TextVectorizer` with its
    defaults: TF-IDF over the 2 000 most frequent terms, rows L2-normalised) is
    fitted on the full training set's texts, whatever the subset.
    """
    from labelwise.features.text import TextVectorizer

    xtr, ytr, xte, yte = raw
    texts_tr = unpack_texts(xtr, len(ytr))
    texts_te = unpack_texts(xte, len(yte))
    vec = TextVectorizer().fit(texts_tr)
    keep = _subsample(len(ytr), pool_size)
    keep_test = _subsample(len(yte), test_size)
    sub_tr = [texts_tr[i] for i in keep]
    sub_te = [texts_te[i] for i in keep_test]
    return Dataset(
        name,
        vec.transform(sub_tr),
        ytr[keep],
        vec.transform(sub_te),
        yte[keep_test],
        list(spec.classes),
        texts_train=sub_tr,
        texts_test=sub_te,
    )


def load(
    name: str,
    *,
    pool_size: int | None = None,
    test_size: int | None = None,
    root: Path | None = None,
) -> Dataset:
    """Load a dataset with its fixed split and standardised features.

    Args:
        name: One of `available_datasets`, optionally wrapped in a noise
            benchmark: ``BASE:KIND[:SHARE]`` (see `labelwise.datasets.noise`),
            e.g. ``fashion-mnist:noisy-blank`` (80 % noisy) or
            ``mnist:noisy-class:0.4``; regression datasets take auxiliary data
            for AGBAL: ``BASE:aux[:ZETA[:NAUX]]`` (see
            `labelwise.datasets.auxiliary`), e.g. ``diamonds:aux``.
        pool_size: Keep a random subset of this many clean training items (seed
            0) before noise is added. Defaults to all.
        test_size: Keep a random subset of the test set (seed 0); under an
            imbalance setting, of its 200 test rows.
        root: Cache root. Defaults to `cache_dir`.

    Returns:
        The `Dataset`. Standardisation uses the statistics of the full
        clean training set, whatever the subset or noise; noise wrappers have
        ``noisy`` set and noisy items after the clean ones. Text datasets
        (``reuters-corn``, ``reuters-grain``) have TF-IDF features (fitted on
        the full training set) and their texts in ``texts_train`` and
        ``texts_test``.

    Raises:
        InvalidParameterError: An unknown name, or ``pool_size``/``test_size``
            that is not a positive int.
    """
    _require_name(name)
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
        return _load_setting(name, setting[1], root, pool_size, test_size)
    aux = parse_aux(name)
    if aux is not None:
        base = check_name(name)
        xtr, ytr, xte, yte = fetch_raw(base, root=root)
        return _load_regression(
            name, xtr, ytr, xte, yte, pool_size, test_size, aux=aux[1]
        )
    base = check_name(name)
    noise = parse_name(name)[1]
    spec = _spec(base)
    if spec.text:  # check_name above refused the noise wrappers
        return _load_text(name, spec, fetch_raw(base, root=root), pool_size, test_size)
    xtr, ytr, xte, yte = fetch_raw(base, root=root)
    if spec.regression:
        return _load_regression(name, xtr, ytr, xte, yte, pool_size, test_size)
    return _load_classification(
        name, spec, noise, (xtr, ytr, xte, yte), pool_size, test_size
    )


def prefetch(name: str) -> None:
    """Fetch and verify what ``load(name)`` needs (nothing for generated tasks)."""
    base = check_name(name)
    if base != SHIFTED:
        fetch_raw(base)
