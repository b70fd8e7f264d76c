"""Text projects: read a CSV of texts, check it, and settle the classes.

``labelwise label init DIR --texts FILE.csv --text-column COL`` reads one text
per row; with ``--label-column COL`` the rows whose cell is filled are already
labeled (they train the first model), the others are the pool to label. The
features come from `labelwise.features.text.TextVectorizer` (see
`labelwise.app.project`).
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from labelwise.exceptions import InvalidParameterError

TEXT_MISSING = ("refuse", "drop")
"""What ``init`` does with rows whose text is empty (``--missing``)."""


@dataclass
class TextTable:
    """The rows of a text CSV that ``init`` keeps.

    Attributes:
        texts: One text per kept row.
        labels: Its label (stripped), or ``None`` where the label cell is
            empty or there is no label column.
        lines: The CSV line number of each kept row (the header is line 1).
    """

    texts: list[str]
    labels: list[str | None]
    lines: list[int]


def _read_csv(path: Path, option: str) -> Any:
    """The CSV as a table of strings (empty cells stay ``""``)."""
    import pandas as pd

    if path.suffix.lower() != ".csv":
        raise InvalidParameterError(f"{option} takes a .csv file; got {path.name}.")
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise InvalidParameterError(
            f"{option}: cannot read {path} ({exc.strerror or exc})."
        ) from None
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise InvalidParameterError(
            f"{option} {path.name} is not UTF-8: the byte "
            f"{raw[exc.start : exc.start + 1]!r} at offset {exc.start} cannot be "
            "decoded. Save the file as UTF-8 (a spreadsheet's 'CSV UTF-8'), or "
            "convert it, e.g. iconv -f latin1 -t utf-8 in.csv > out.csv."
        ) from None
    try:
        return pd.read_csv(io.StringIO(text), dtype=str, keep_default_na=False)
    except pd.errors.EmptyDataError:
        raise InvalidParameterError(f"{option} {path.name} is empty.") from None
    except pd.errors.ParserError as exc:
        raise InvalidParameterError(
            f"{option} {path.name} is not a well-formed CSV: {exc}"
        ) from None


def _column(df: Any, column: str, what: str, path: Path) -> Any:
    if column not in df.columns:
        present = ", ".join(repr(str(c)) for c in df.columns)
        raise InvalidParameterError(
            f"{what} {column!r} is not a column of {path.name}; its columns are "
            f"{present}."
        )
    return df[column]


def read_text_csv(
    path: str | Path,
    text_column: str,
    label_column: str | None = None,
    *,
    missing: str = "refuse",
    option: str = "--texts",
) -> TextTable:
    """Read and check a CSV of texts (UTF-8, a header row).

    Args:
        path: The ``.csv`` file.
        text_column: The column holding the texts.
        label_column: A column of known labels (empty cell: unlabeled), or
            ``None``.
        missing: Rows whose text is empty or only whitespace: ``"refuse"``
            (stop, naming them) or ``"drop"`` (leave them out).
        option: The command-line option, for messages.

    Returns:
        The kept rows.

    Raises:
        InvalidParameterError: not a readable UTF-8 CSV, a column that is not
            there (naming the columns present), empty texts under
            ``"refuse"``, or fewer than 2 rows left.
    """
    if missing not in TEXT_MISSING:
        raise InvalidParameterError(
            f"--missing for texts takes {' or '.join(TEXT_MISSING)} (rows with an "
            f"empty text); got {missing!r}."
        )
    p = Path(path)
    df = _read_csv(p, option)
    texts = [str(t) for t in _column(df, text_column, "--text-column", p)]
    labels: list[str | None] = [None] * len(texts)
    if label_column is not None:
        if label_column == text_column:
            raise InvalidParameterError(
                f"--label-column and --text-column are both {text_column!r}; "
                "name two different columns."
            )
        cells = _column(df, label_column, "--label-column", p)
        labels = [str(v).strip() or None for v in cells]
    lines = list(range(2, len(texts) + 2))
    empty = [i for i, t in enumerate(texts) if not t.strip()]
    if empty and missing == "refuse":
        shown = ", ".join(str(lines[i]) for i in empty[:5])
        raise InvalidParameterError(
            f"{option} {p.name}: {len(empty)} row(s) have an empty "
            f"{text_column!r} (CSV lines {shown}{', ...' if len(empty) > 5 else ''})."
            " Fill them in, or pass --missing drop to leave them out."
        )
    keep = [i for i in range(len(texts)) if texts[i].strip()]
    if len(keep) < 2:
        raise InvalidParameterError(
            f"{option} {p.name} has {len(keep)} row(s) with a text; need at least 2."
        )
    return TextTable(
        [texts[i] for i in keep], [labels[i] for i in keep], [lines[i] for i in keep]
    )


def text_classes(table: TextTable, classes: list[str] | None) -> list[str]:
    """The project's classes: ``classes``, or the label column's values.

    Args:
        table: The rows read by `read_text_csv`.
        classes: ``--classes`` (validated), or ``None`` to take the distinct
            labels of the label column, sorted.

    Raises:
        InvalidParameterError: a label that is not among ``classes`` (naming
            its line), no way to know the classes, or every row labeled.
    """
    given = [(v, line) for v, line in zip(table.labels, table.lines, strict=True) if v]
    if classes is None:
        found = sorted({v for v, _ in given})
        if len(found) < 2:
            raise InvalidParameterError(
                f"The label column has {len(found)} distinct label(s) ({found}); "
                "give the class names with --classes a,b,c."
            )
        classes = found
    for value, line in given:
        if value not in classes:
            raise InvalidParameterError(
                f"CSV line {line}: the label {value!r} is not among the classes "
                f"{classes}. Fix the cell, or add the class to --classes."
            )
    if len(given) == len(table.labels):
        raise InvalidParameterError(
            "Every row already has a label: nothing is left to label. Leave the "
            "label cell empty on the rows to label, or give the labeled rows as "
            "--holdout."
        )
    return classes


def holdout_texts(
    path: str | Path, text_column: str, label_column: str | None, classes: list[str]
) -> tuple[list[str], list[str]]:
    """A labeled hold-out CSV: its texts and labels (every row labeled).

    The hold-out has the pool's text column and its label column (``label``
    when the pool has none).

    Raises:
        InvalidParameterError: as `read_text_csv`, an empty label, or a
            label that is not a class.
    """
    table = read_text_csv(
        path, text_column, label_column or "label", option="--holdout"
    )
    labels: list[str] = []
    for value, line in zip(table.labels, table.lines, strict=True):
        if value is None or value not in classes:
            raise InvalidParameterError(
                f"--holdout line {line}: the label {value!r} is not one of the "
                f"classes {classes}; every hold-out row needs one."
            )
        labels.append(value)
    return table.texts, labels
