"""Strict parsing of what people send the labeling app.

Item numbers are integers (a JSON integer, a Python or NumPy integer, or in a
CSV the ASCII digits ``0-9`` alone); never a float (``334.9``), a bool, or text
such as ``" 3 "``, ``"1_000"`` or non-ASCII digits, which Python's ``int``
would accept. Numeric targets are finite numbers (JSON numbers; in a CSV a
plain decimal such as ``-1.5e3``); never a bool, ``Infinity``, ``NaN`` or a
number that overflows to infinity (``1e400``). Class labels are strings naming
a class. Text that is echoed in an error message is shortened first.
"""

from __future__ import annotations

import math
import re
from typing import Any

import numpy as np

from labelwise.exceptions import InvalidParameterError

MAX_VALUE_CHARS = 256
"""Longest label value (class name or number as text) accepted."""

_DIGITS = re.compile(r"[0-9]{1,18}")
_DECIMAL = re.compile(r"[+-]?([0-9]+(\.[0-9]*)?|\.[0-9]+)([eE][+-]?[0-9]{1,4})?")


def shown(value: Any, limit: int = 60) -> str:
    """``repr(value)``, cut to ``limit`` characters for an error message."""
    text = repr(value) if not isinstance(value, str) else repr(value[: limit + 1])
    return text if len(text) <= limit else text[:limit] + "..."


def check_item(item: Any, n_items: int) -> int:
    """An item number in ``[0, n_items)`` from an integer (not a bool or float).

    Raises:
        InvalidParameterError: ``item`` is not an integer or out of range.
    """
    if isinstance(item, bool) or not isinstance(item, int | np.integer):
        raise InvalidParameterError(
            f"item must be an integer item number; got {shown(item)} "
            f"({type(item).__name__})."
        )
    i = int(item)
    if not 0 <= i < n_items:
        raise InvalidParameterError(
            f"item {shown(i)} is out of range [0, {n_items - 1}]."
        )
    return i


def item_from_text(text: str | None, n_items: int) -> int:
    """An item number from CSV text: ASCII digits only, in range."""
    if text is None or not _DIGITS.fullmatch(text):
        raise InvalidParameterError(
            f"item must be a whole number written with the digits 0-9 alone; got "
            f"{shown(text)}."
        )
    return check_item(int(text), n_items)


def label_value(value: Any, classes: list[str] | None) -> str:
    """A label as stored: the class name, or ``repr`` of a finite float.

    Args:
        value: A class name (``str``) or, for a numeric target, an ``int`` or
            ``float`` (not a bool, not text).
        classes: The project's classes; ``None`` for a numeric target.

    Raises:
        InvalidParameterError: naming what was received and what is valid.
    """
    if isinstance(value, str) and len(value) > MAX_VALUE_CHARS:
        raise InvalidParameterError(
            f"A label value has at most {MAX_VALUE_CHARS} characters; got {len(value)}."
        )
    if classes is None:
        if isinstance(value, bool) or not isinstance(
            value, int | float | np.integer | np.floating
        ):
            raise InvalidParameterError(
                "This project has a numeric target: send a JSON number; got "
                f"{shown(value)} ({type(value).__name__})."
            )
        try:
            v = float(value)
        except OverflowError:
            v = math.inf
        if not math.isfinite(v):
            raise InvalidParameterError(
                f"The target must be a finite number; got {shown(value)}."
            )
        return repr(v)
    if isinstance(value, str) and value in classes:
        return value
    raise InvalidParameterError(
        f"Unknown class {shown(value)}; send one of these names as a string: "
        f"{', '.join(classes)}."
    )


def label_from_text(text: str | None, classes: list[str] | None) -> str:
    """A label from CSV text (a class name, or a plain finite decimal)."""
    if text is None:
        raise InvalidParameterError("the label is missing.")
    if classes is not None:
        return label_value(text, classes)
    if len(text) > MAX_VALUE_CHARS or not _DECIMAL.fullmatch(text):
        raise InvalidParameterError(
            "This project has a numeric target: write a plain decimal number "
            f"such as 1.5 or -2e3; got {shown(text)}."
        )
    return label_value(float(text), None)


MAX_IMPORT_FIELD_CHARS = 4096
"""Longest CSV field accepted by an import (longer: the line is refused)."""


def parse_import(
    text: str, n_items: int, classes: list[str] | None
) -> list[tuple[int, str]]:
    """``(item, label)`` pairs from ``item,label`` CSV text, all checked.

    A leading UTF-8 byte-order mark is dropped; columns besides ``item`` and
    ``label`` are ignored; blank lines are skipped.

    Raises:
        InvalidParameterError: naming the line and what is wrong with it (no
            header, a short row, a field over `MAX_IMPORT_FIELD_CHARS`,
            a bad item or label, the same item twice).
    """
    import csv
    import io

    reader = csv.reader(io.StringIO(text.removeprefix("\ufeff")))
    try:
        header = next(reader, None)
        if header is None or not {"item", "label"} <= {h.strip() for h in header}:
            raise InvalidParameterError(
                "The CSV needs a header line with the columns item,label (as "
                f"labelwise label export writes them); got {shown(header)}."
            )
        names = [h.strip() for h in header]
        at_item, at_label = names.index("item"), names.index("label")
        rows: list[tuple[int, str]] = []
        seen: dict[int, int] = {}
        for fields in reader:
            line = reader.line_num
            if not fields:
                continue
            rows.append(_import_row(fields, line, at_item, at_label, n_items, classes))
            first = seen.setdefault(rows[-1][0], line)
            if first != line:
                raise InvalidParameterError(
                    f"line {line}: item {rows[-1][0]} already appears on line "
                    f"{first}; give each item once per file."
                )
    except csv.Error as exc:
        raise InvalidParameterError(
            f"line {reader.line_num}: not valid CSV ({exc})."
        ) from None
    return rows


def _import_row(
    fields: list[str],
    line: int,
    at_item: int,
    at_label: int,
    n_items: int,
    classes: list[str] | None,
) -> tuple[int, str]:
    if len(fields) <= max(at_item, at_label):
        raise InvalidParameterError(
            f"line {line}: needs an item and a label; got {len(fields)} field(s) "
            f"{shown(fields)}."
        )
    longest = max(len(f) for f in fields)
    if longest > MAX_IMPORT_FIELD_CHARS:
        raise InvalidParameterError(
            f"line {line}: a field has {longest} characters; at most "
            f"{MAX_IMPORT_FIELD_CHARS} are accepted."
        )
    try:
        return (
            item_from_text(fields[at_item], n_items),
            label_from_text(fields[at_label], classes),
        )
    except InvalidParameterError as exc:
        raise InvalidParameterError(f"line {line}: {exc}") from None
