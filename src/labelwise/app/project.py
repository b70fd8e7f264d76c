"""A labeling project on disk: settings, the items' features, how to show them.

``labelwise label init DIR`` writes::

    DIR/project.json     settings (source, classes or numeric target, strategy,
                         model, batch size, budget, retrain cadence, seed)
    DIR/features.npy     what the model sees, one row per item (with
                         --embeddings: what the page draws dataset images from)
    DIR/embeddings.npy   --embeddings only: what the model sees instead
    DIR/items.json       how the page shows each item (image file, table row)
    DIR/hidden.npy       --dataset only: the true labels, used for scoring
    DIR/vectorizer.pkl   --texts only: the fitted TextVectorizer (with model.pkl
                         it classifies new texts)
    DIR/holdout_*.npy    a labeled hold-out for the learning curve (--dataset:
                         the test split; --table: --holdout FILE)
    DIR/labels.sqlite    labels, queue and history (see labelwise.app.store)

Sources: a folder of images (PNG/JPEG/BMP/GIF; features are the pixels resized
to 32 x 32 grey, standardised), a CSV or Parquet table (numeric columns are the
features, the others are shown only; empty cells follow ``missing``: refuse,
drop the row, or fill with the column mean), a CSV of texts (features by
`labelwise.features.text.TextVectorizer`, TF-IDF by default; rows with a
filled ``--label-column`` cell are labeled at once; see
`labelwise.app.texts`), or a registered dataset (a demo: its labels stay hidden
from the person; flat features of a known image shape are drawn as images,
text datasets as texts, others shown as a row).

Precomputed embeddings (``--embeddings FILE.npy|.parquet``) work with every
source: after the source is read, its rows (one per item, in the items' order)
become the model's input; the page still shows the images or rows. The hold-out
then needs ``--holdout-embeddings`` (one row per hold-out item), or it is left out.
"""

from __future__ import annotations

import json
import warnings
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from labelwise.exceptions import InvalidParameterError, LabelwiseWarning

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".gif")
IMAGE_SIDE = 32
MAX_ITEMS = 2_000_000


@dataclass
class ProjectConfig:
    """Settings of a labeling project (``project.json``).

    Attributes:
        kind: ``images``, ``table``, ``texts`` or ``dataset``.
        source: Image folder, table file, text CSV or dataset name.
        classes: Class names; ``None`` for a numeric target.
        strategy: Strategy name, optionally with parameters
            (``NAME:KEY=VALUE,...``, as ``labelwise run --strategy``). Defaults
            to ``entropy`` (``lcmd`` for numeric).
        model: Model name (``labelwise.models.registry``).
        model_params: Model parameters.
        batch_size: Items per queried batch.
        budget: Label budget (``None``: no limit).
        retrain_every: Retrain after this many new labels even within a batch
            (``None``: when the batch is done).
        stable_share: Stop when fewer pool predictions than this share change.
        rmse_change: Regression: stop when the hold-out RMSE changes less.
        seed: Seed of the first batch, training and selection.
        display_columns: Table columns shown on the page.
        embeddings: The embedding file the model learns from (copied to
            ``embeddings.npy``); ``None``: the source's features.
    """

    kind: str
    source: str
    classes: list[str] | None
    strategy: str
    model: str
    model_params: dict[str, Any] = field(default_factory=dict)
    batch_size: int = 10
    budget: int | None = None
    retrain_every: int | None = None
    stable_share: float | None = 0.01
    rmse_change: float | None = None
    seed: int = 0
    display_columns: list[str] = field(default_factory=list)
    embeddings: str | None = None

    @property
    def regression(self) -> bool:
        """Whether the target is numeric."""
        return self.classes is None


def _check_folder_free(folder: Path) -> None:
    if (folder / "project.json").exists():
        raise InvalidParameterError(
            f"{folder} already holds a labeling project; serve it with "
            f"`labelwise label serve {folder}` or pick another folder."
        )


def _image_features(paths: list[Path]) -> np.ndarray:
    from PIL import Image

    out = np.empty((len(paths), IMAGE_SIDE * IMAGE_SIDE), dtype=np.float32)
    for i, p in enumerate(paths):
        try:
            with Image.open(p) as im:
                grey = im.convert("L").resize((IMAGE_SIDE, IMAGE_SIDE))
                out[i] = np.asarray(grey, dtype=np.float32).reshape(-1) / 255.0
        except OSError as exc:
            raise InvalidParameterError(f"Cannot read image {p}: {exc}") from None
    return out


def _standardise(x: np.ndarray) -> np.ndarray:
    mean, std = x.mean(0), x.std(0)
    std[std == 0] = 1.0
    out: np.ndarray = ((x - mean) / std).astype(np.float32)
    return out


MISSING_RULES = ("refuse", "drop", "mean")
"""What ``init`` does with empty numeric table cells (``--missing``)."""


def _handle_missing(df: Any, rule: str, name: str, fill: Any = None) -> tuple[Any, Any]:
    """Apply the ``--missing`` rule to ``df``'s numeric columns.

    Args:
        df: The table (a pandas DataFrame).
        rule: One of `MISSING_RULES`.
        name: What the table is (option and file name), for messages.
        fill: ``"mean"``: the column means to fill with (the pool's, when
            ``df`` is the hold-out); ``None`` computes them from ``df``.

    Returns:
        The table with the rule applied, and the fill values used (a pandas
        Series over the numeric columns; ``None`` unless ``rule == "mean"``).

    Raises:
        InvalidParameterError: ``refuse`` and an empty cell (naming its row
            and column); ``mean`` and a column without any value; ``drop``
            and no row left.
    """
    import pandas as pd

    numeric = df.select_dtypes("number").columns
    values = df[numeric].astype(np.float64)
    empty = ~np.isfinite(values.to_numpy())
    if not empty.any():
        return df, fill
    if rule == "refuse":
        r, c = (int(v[0]) for v in np.nonzero(empty))
        raise InvalidParameterError(
            f"{name} has an empty (or infinite) cell at row {r + 1} "
            f"(line {r + 2} of a CSV), column {numeric[c]!r}, and "
            f"{int(empty.sum())} in all. Fill them in, or pass --missing drop "
            "(leave those rows out) or --missing mean (fill with the column mean)."
        )
    if rule == "drop":
        kept = df.loc[~empty.any(axis=1)].reset_index(drop=True)
        if len(kept) == 0:
            raise InvalidParameterError(
                f"Every row of {name} has an empty numeric cell; "
                "--missing drop leaves nothing."
            )
        return kept, fill
    clean = values.where(np.isfinite(values))
    means = clean.mean() if fill is None else fill
    if isinstance(means, pd.Series) and means.isna().any():
        bad = [str(c) for c in means.index[means.isna()]]
        raise InvalidParameterError(
            f"The column(s) {bad} of {name} have no values to take a "
            "mean of; drop the column(s) or fill them in."
        )
    out = df.copy()
    out[numeric] = clean.fillna(means)
    return out, means


_IMAGE_SHAPES = {"digits": [8, 8]}
"""Registered datasets with flat features that are images (height, width)."""


def _dataset_items(name: str, x: np.ndarray) -> list[dict[str, Any]]:
    """How the page shows a dataset's items: pixels when their shape is known.

    Image tensors ``(n, c, h, w)`` and flat features of a known image shape
    (``digits``: 8 x 8; any 784 features: 28 x 28) are drawn as images; other
    flat features are shown as a table row of the first 12 features.
    """
    from labelwise.datasets.noise import parse_name

    if x.ndim == 4:
        return [{"pixels": True} for _ in range(len(x))]
    flat = x.reshape(len(x), -1)
    shape = _IMAGE_SHAPES.get(parse_name(name)[0])
    if shape is None and flat.shape[1] == 28 * 28:
        shape = [28, 28]
    if shape is not None and int(np.prod(shape)) == flat.shape[1]:
        return [{"pixels": shape} for _ in range(len(x))]
    cols = min(flat.shape[1], 12)
    return [
        {"row": {f"x{j}": round(float(v), 3) for j, v in enumerate(r[:cols])}}
        for r in flat
    ]


def _read_table(path: Path) -> Any:
    import pandas as pd

    if path.suffix.lower() == ".csv":
        return pd.read_csv(path)
    if path.suffix.lower() in (".parquet", ".pq"):
        return pd.read_parquet(path)  # pyarrow is a dependency
    raise InvalidParameterError(
        f"--table takes a .csv or .parquet file; got {path.name}."
    )


@dataclass
class _Pool:
    """What a project's source gives: features, items and any known labels."""

    x: np.ndarray
    items: list[dict[str, Any]]
    kind: str
    source: str
    classes: list[str] | None
    display: list[str] = field(default_factory=list)
    hidden: np.ndarray | None = None
    holdout_x: np.ndarray | None = None
    holdout_y: np.ndarray | None = None
    known: list[tuple[int, str]] = field(default_factory=list)  # labeled at init
    vectorizer: Any = None  # texts: the fitted TextVectorizer
    embeddings: np.ndarray | None = None


def _check_init_args(
    sources: list[Any],
    dataset: str | None,
    classes: list[str] | None,
    target: str | None,
    missing: str,
    batch_size: int,
    *,
    own_classes: bool = False,
) -> list[str] | None:
    """Validate ``init_project``'s choices; return the cleaned class names.

    ``own_classes``: the source names its classes (a text CSV's label column),
    so ``classes`` may be left out.
    """
    if len(sources) != 1:
        raise InvalidParameterError(
            "Give exactly one of --images FOLDER, --table FILE, --texts FILE or "
            f"--dataset NAME; got {len(sources)}."
        )
    if target not in (None, "numeric"):
        raise InvalidParameterError(f"--target takes 'numeric'; got {target!r}.")
    if (
        dataset is None
        and (classes is None) == (target is None)
        and not (own_classes and target is None)
    ):
        raise InvalidParameterError(
            "Give either --classes a,b,c (classification) or --target numeric "
            "(regression)."
        )
    if classes is not None:
        classes = [c.strip() for c in classes if c.strip()]
        if len(classes) < 2 or len(set(classes)) != len(classes):
            raise InvalidParameterError(
                f"--classes needs at least two distinct names; got {classes}."
            )
    if missing not in MISSING_RULES:
        raise InvalidParameterError(
            f"--missing takes one of {', '.join(MISSING_RULES)}; got {missing!r}."
        )
    if not 1 <= int(batch_size) <= 1000:
        raise InvalidParameterError(
            f"--batch-size must be in [1, 1000]; got {batch_size}."
        )
    return classes


def _pool_from_images(images: str | Path, classes: list[str] | None) -> _Pool:
    """Every image under ``images``, as standardised pixel features."""
    root = Path(images).resolve()
    if not root.is_dir():
        raise InvalidParameterError(f"--images: {root} is not a folder.")
    paths = sorted(p for p in root.rglob("*") if p.suffix.lower() in IMAGE_SUFFIXES)
    if len(paths) < 2:
        raise InvalidParameterError(
            f"--images: found {len(paths)} images ({', '.join(IMAGE_SUFFIXES)}) "
            f"in {root}; need at least 2."
        )
    x = _standardise(_image_features(paths))
    items: list[dict[str, Any]] = [{"image": str(p.relative_to(root))} for p in paths]
    return _Pool(x, items, "images", str(root), classes)


def _pool_from_table(
    table: str | Path,
    holdout: str | Path | None,
    classes: list[str] | None,
    missing: str,
    *,
    embedded: bool = False,
) -> _Pool:
    """A table's rows (numeric columns standardised) and its labeled holdout.

    With ``embedded`` (precomputed embeddings replace the features) the table
    may have no numeric column: its rows are only shown.
    """
    path = Path(table).resolve()
    df = _read_table(path)
    if df.select_dtypes("number").shape[1] == 0 and not embedded:
        raise InvalidParameterError(
            f"--table: {path.name} has no numeric columns to learn from. Give "
            "the model features: numeric columns, or --embeddings FILE."
        )
    df, fill = _handle_missing(df, missing, f"--table {path.name}")
    numeric = df.select_dtypes("number")
    x = _standardise(numeric.to_numpy(dtype=np.float32))
    display = [str(c) for c in df.columns][:12]
    items: list[dict[str, Any]] = [
        {"row": {c: _jsonable(v) for c, v in zip(display, r, strict=False)}}
        for r in df[display].itertuples(index=False)
    ]
    pool = _Pool(x, items, "table", str(path), classes, display=display)
    if holdout is not None:
        pool.holdout_x, pool.holdout_y = _read_holdout(
            holdout, numeric, fill, missing, classes
        )
    return pool


def _read_holdout(
    holdout: str | Path,
    numeric: Any,
    fill: Any,
    missing: str,
    classes: list[str] | None,
) -> tuple[np.ndarray, np.ndarray]:
    """The holdout table's features (the pool's statistics) and its labels."""
    hdf = _read_table(Path(holdout))
    if "label" not in hdf.columns:
        raise InvalidParameterError(
            "--holdout needs a 'label' column next to the table's columns."
        )
    hdf, _ = _handle_missing(hdf, missing, f"--holdout {Path(holdout).name}", fill=fill)
    hx = hdf[numeric.columns].to_numpy(dtype=np.float32)
    mean = numeric.to_numpy(dtype=np.float32).mean(0)
    std = numeric.to_numpy(dtype=np.float32).std(0)
    std[std == 0] = 1.0
    holdout_x = ((hx - mean) / std).astype(np.float32)
    if classes is None:
        return holdout_x, hdf["label"].to_numpy(dtype=np.float64)
    holdout_y = hdf["label"].astype(str).to_numpy().astype(str)
    unknown = sorted(set(holdout_y) - set(classes))
    if unknown:
        raise InvalidParameterError(
            f"--holdout labels {unknown[:5]} are not among the classes {classes}."
        )
    return holdout_x, holdout_y


def _pool_from_dataset(
    dataset: str, pool_size: int | None, classes: list[str] | None
) -> _Pool:
    """A registry dataset: its training set with hidden labels, its test set."""
    from labelwise.datasets import load

    d = load(dataset, pool_size=pool_size, test_size=1000)
    x = d.X_train.astype(np.float32)
    hidden = d.y_train
    holdout_y = d.y_test
    if d.classes is not None:
        classes = [str(c) for c in d.classes]
        holdout_y = np.asarray([classes[int(v)] for v in holdout_y])
        hidden = np.asarray([classes[int(v)] for v in hidden])
    items = (
        _dataset_items(dataset, x)
        if d.texts_train is None
        else [{"text": t} for t in d.texts_train]
    )
    return _Pool(
        x,
        items,
        "dataset",
        dataset,
        classes,
        hidden=hidden,
        holdout_x=d.X_test,
        holdout_y=holdout_y,
    )


def _pool_from_texts(
    texts: str | Path,
    text_column: str,
    label_column: str | None,
    classes: list[str] | None,
    options: dict[str, Any],
) -> _Pool:
    """A CSV's texts as vectorizer features; filled label cells become labels.

    ``options``: ``missing``, ``holdout``, ``vectorizer`` (an unfitted
    `TextVectorizer`, or ``None`` for the defaults) and ``seed``. ``classes``
    is ``None`` when the label column names them (`text_classes`).
    """
    from labelwise.app.texts import holdout_texts, read_text_csv, text_classes
    from labelwise.features.text import TextVectorizer

    vec = options.get("vectorizer") or TextVectorizer()
    if not isinstance(vec, TextVectorizer):
        raise InvalidParameterError(
            f"vectorizer must be a labelwise.features.TextVectorizer; got "
            f"{type(vec).__name__}."
        )
    path = Path(texts).resolve()
    table = read_text_csv(path, text_column, label_column, missing=options["missing"])
    classes = text_classes(table, classes)
    x = vec.fit_transform(table.texts, rng=options["seed"])
    items: list[dict[str, Any]] = [{"text": t} for t in table.texts]
    pool = _Pool(x, items, "texts", str(path), classes, display=[text_column])
    pool.known = [(i, v) for i, v in enumerate(table.labels) if v is not None]
    pool.vectorizer = vec
    if options["holdout"] is not None:
        h_texts, h_labels = holdout_texts(
            options["holdout"], text_column, label_column, classes
        )
        pool.holdout_x, pool.holdout_y = vec.transform(h_texts), np.asarray(h_labels)
    return pool


def _write_text_extras(out: Path, cfg: ProjectConfig, pool: _Pool) -> None:
    """Texts: pickle the vectorizer; store the labels known at init (round 0)."""
    import os
    import pickle

    from labelwise.app.store import LabelDB

    if pool.vectorizer is not None:
        tmp = out / "vectorizer.pkl.tmp"
        with open(tmp, "wb") as fh:
            pickle.dump(pool.vectorizer, fh)
        os.replace(tmp, out / "vectorizer.pkl")
    if pool.known:
        db = LabelDB(out / "labels.sqlite", strategy=cfg.strategy)
        try:
            db.import_rows(pool.known)
        finally:
            db.close()


def _write_project(out: Path, cfg: ProjectConfig, pool: _Pool) -> None:
    """Write the project's files (features, items, known labels, config)."""
    out.mkdir(parents=True, exist_ok=True)
    np.save(out / "features.npy", pool.x)
    if pool.embeddings is not None:
        np.save(out / "embeddings.npy", pool.embeddings)
    (out / "items.json").write_text(json.dumps(pool.items))
    if pool.hidden is not None:
        np.save(out / "hidden.npy", np.asarray(pool.hidden))
    if pool.holdout_x is not None and pool.holdout_y is not None:
        np.save(out / "holdout_X.npy", np.asarray(pool.holdout_x, dtype=np.float32))
        np.save(out / "holdout_y.npy", np.asarray(pool.holdout_y))
    (out / "project.json").write_text(json.dumps(asdict(cfg), indent=2))


def _use_embeddings(
    pool: _Pool,
    embeddings: str | Path,
    column: str | None,
    holdout_embeddings: str | Path | None,
) -> None:
    """Make precomputed embeddings the model's input (and the hold-out's).

    Raises:
        InvalidParameterError: a bad file (see `load_embeddings`), a row count
            other than the items' (or the hold-out's), or ``holdout_embeddings``
            for a project without a hold-out.
    """
    from labelwise.models.embedding import load_embeddings

    pool.embeddings = load_embeddings(embeddings, len(pool.items), column=column)
    if holdout_embeddings is None:
        if pool.holdout_y is not None:
            warnings.warn(
                "The hold-out is left out: its items have no embeddings. Pass "
                "--holdout-embeddings FILE (one row per hold-out item) to keep "
                "the learning curve.",
                LabelwiseWarning,
                stacklevel=3,
            )
        pool.holdout_x = pool.holdout_y = None
        return
    if pool.holdout_y is None:
        raise InvalidParameterError(
            "--holdout-embeddings needs a hold-out: --holdout FILE with --table, "
            "or a --dataset (its test split)."
        )
    pool.holdout_x = load_embeddings(
        holdout_embeddings, len(pool.holdout_y), column=column
    )
    if pool.holdout_x.shape[1] != pool.embeddings.shape[1]:
        raise InvalidParameterError(
            f"--holdout-embeddings have {pool.holdout_x.shape[1]} dimensions, "
            f"--embeddings {pool.embeddings.shape[1]}; compute both with the "
            "same model."
        )


def init_project(
    folder: str | Path,
    *,
    images: str | Path | None = None,
    table: str | Path | None = None,
    dataset: str | None = None,
    classes: list[str] | None = None,
    target: str | None = None,
    strategy: str | None = None,
    model: str | None = None,
    model_params: dict[str, Any] | None = None,
    batch_size: int = 10,
    budget: int | None = None,
    retrain_every: int | None = None,
    holdout: str | Path | None = None,
    pool_size: int | None = None,
    seed: int = 0,
    missing: str = "refuse",
    texts: str | Path | None = None,
    text_column: str = "text",
    label_column: str | None = None,
    vectorizer: Any = None,
    embeddings: str | Path | None = None,
    embedding_column: str | None = None,
    holdout_embeddings: str | Path | None = None,
) -> ProjectConfig:
    """Create a labeling project in ``folder`` (see the module docstring).

    Exactly one of ``images``, ``table``, ``texts``, ``dataset``; classes
    (``classes``) or a numeric target (``target="numeric"``), except for
    ``dataset``, whose classes (or numeric target) are its own, and ``texts``
    with a ``label_column``, whose distinct labels are the classes unless
    ``classes`` names them.

    ``texts`` is a UTF-8 CSV with the texts in ``text_column`` (see
    `labelwise.app.texts`); its features come from ``vectorizer`` (an
    unfitted `labelwise.features.TextVectorizer`; default TF-IDF over
    2 000 terms), fitted on the CSV's texts; the model defaults to ``logreg``.
    Rows with a filled ``label_column`` cell are labeled at init; ``holdout``
    is then a CSV with the same columns. Text projects classify.

    ``missing`` says what to do with empty cells in a table's numeric columns
    (the pool and ``holdout`` alike): ``"refuse"`` (the default) stops with
    the first empty cell's row and column; ``"drop"`` leaves out every row with
    an empty numeric cell (items are then numbered over the rows kept);
    ``"mean"`` fills each empty cell with its column's mean over the pool's
    non-empty cells. Infinite values count as empty.

    ``embeddings`` (a ``.npy`` or ``.parquet`` file, read by `load_embeddings`;
    ``embedding_column`` picks a Parquet list column) replaces what the model
    sees with one precomputed vector per item, in the items' order: the images
    sorted by path, the table's rows (those kept by ``missing="drop"``), the
    dataset's training split. The default model is then ``embedding-head``
    (``embedding-regressor`` for a numeric target). ``holdout_embeddings`` holds
    the hold-out's vectors; without it the hold-out is left out (a
    `LabelwiseWarning` says so).

    Raises:
        InvalidParameterError: naming what is wrong and how to fix it.
    """
    from labelwise.models.registry import check_model_params, check_padding_support
    from labelwise.strategies import get_strategy, parse_strategy_spec

    out = Path(folder)
    sources = [s for s in (images, table, dataset, texts) if s is not None]
    classes = _check_init_args(
        sources,
        dataset,
        classes,
        target,
        missing,
        batch_size,
        own_classes=texts is not None and label_column is not None,
    )
    if texts is not None and target is not None:
        raise InvalidParameterError(
            "Text projects classify; --target numeric does not go with --texts. "
            "Give --classes a,b,c or --label-column COL."
        )
    if texts is None and (label_column is not None or text_column != "text"):
        raise InvalidParameterError(
            "--text-column and --label-column go with --texts FILE.csv; got "
            f"text_column={text_column!r}, label_column={label_column!r} without it."
        )
    _check_folder_free(out)
    if texts is not None:
        opts = dict(missing=missing, holdout=holdout, vectorizer=vectorizer, seed=seed)
        pool = _pool_from_texts(texts, text_column, label_column, classes, opts)
    elif images is not None:
        pool = _pool_from_images(images, classes)
    elif table is not None:
        embedded = embeddings is not None
        pool = _pool_from_table(table, holdout, classes, missing, embedded=embedded)
    else:
        assert dataset is not None
        pool = _pool_from_dataset(dataset, pool_size, classes)
    if embeddings is not None:
        _use_embeddings(pool, embeddings, embedding_column, holdout_embeddings)
    elif holdout_embeddings is not None or embedding_column is not None:
        raise InvalidParameterError(
            "--holdout-embeddings and --embedding-column go with --embeddings FILE."
        )
    x, classes = pool.x, pool.classes
    if len(x) > MAX_ITEMS:
        raise InvalidParameterError(f"At most {MAX_ITEMS} items; got {len(x)}.")
    regression = classes is None
    if strategy is None:
        strategy = "lcmd" if regression else "entropy"
    padded = _is_padded(pool)
    model = _default_model(pool, regression, padded) if model is None else model
    name, strategy_params = parse_strategy_spec(strategy)
    chosen = get_strategy(name, **strategy_params)
    _refuse_simulation_only(chosen, strategy)
    if padded:
        check_padding_support(pool.source, model, strategy, chosen.accepts_padding)
    params = check_model_params(model, dict(model_params or {}))
    cfg = ProjectConfig(
        kind=pool.kind,
        source=pool.source,
        classes=classes,
        strategy=strategy,
        model=model,
        model_params=params,
        batch_size=int(batch_size),
        budget=budget,
        retrain_every=retrain_every,
        seed=seed,
        display_columns=pool.display,
        embeddings=None if embeddings is None else str(Path(embeddings).resolve()),
    )
    _write_project(out, cfg, pool)
    _write_text_extras(out, cfg, pool)
    return cfg


def _is_padded(pool: _Pool) -> bool:
    """Whether the model learns from NaN-padded sequences (a variable-length set)."""
    x = pool.x
    return pool.embeddings is None and x.dtype.kind == "f" and bool(np.isnan(x).any())


def _default_model(pool: _Pool, regression: bool, padded: bool) -> str:
    """The model when none is given: by target, source and features."""
    if pool.embeddings is not None:
        return "embedding-regressor" if regression else "embedding-head"
    if padded:
        return "tcn"  # the other defaults cannot mask padding
    if pool.items and "text" in pool.items[0]:
        return "logreg"
    return ("bmdal-mlp" if regression else "mlp") if len(pool.x) > 0 else "mlp"


def _refuse_simulation_only(strategy: Any, spec: str) -> None:
    """Refuse a strategy that needs what only a simulation has.

    True labels or a reward set: a labeling project gives its strategy none,
    so such a strategy would fail at the first batch.
    """
    from labelwise.strategies import SimulationContext

    try:
        strategy.prepare_simulation(SimulationContext())
    except InvalidParameterError as exc:
        raise InvalidParameterError(
            f"Strategy '{spec}' needs data only a simulation has, which a labeling "
            f"project cannot give it ({exc}). Choose another strategy: entropy, "
            "margin or badge (lcmd for a numeric target), or eer on the pool."
        ) from None


def _jsonable(v: Any) -> Any:
    if isinstance(v, np.generic):
        return v.item()
    if isinstance(v, float) and not np.isfinite(v):
        return None
    return v


def load_config(folder: str | Path) -> ProjectConfig:
    """Read ``project.json``."""
    path = Path(folder) / "project.json"
    if not path.exists():
        raise InvalidParameterError(
            f"No labeling project in {folder}; create one with `labelwise label init`."
        )
    return ProjectConfig(**json.loads(path.read_text()))
