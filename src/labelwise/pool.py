"""Label state of a pool: one absolute index space, labels and their provenance.

A `LabelState` records, for each of ``n_samples`` pool items, whether it is
labeled, its label and the round in which the label arrived. All indices are
absolute positions in the pool (never positions among the unlabeled items).
Adding labels is atomic: invalid input raises before anything is stored, so no bad
call can lose or corrupt labels already collected.
"""

from __future__ import annotations

import json
import os
import tempfile
import zipfile
import zlib
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from labelwise._typing import IndexArray
from labelwise._validation import check_indices
from labelwise.exceptions import InvalidParameterError, LabelError

UNLABELED = -1
_FORMAT = "labelwise.LabelState"
_VERSION = 2  # 1: class names through json with default=str (numpy ints -> str)
_SCALARS: dict[str, type] = {"str": str, "int": int, "float": float, "bool": bool}


class LabelState:
    """Labels collected for a pool of ``n_samples`` items.

    Args:
        n_samples: Size of the pool.
        classes: Class names for classification (labels are stored as class indices
            ``0..n_classes-1``); ``None`` for regression (float labels).

    Examples:
        >>> state = LabelState(5, classes=["cat", "dog"])
        >>> state.teach([3, 0], [1, 0], round=0)
        >>> state.labeled_indices().tolist(), state.unlabeled_indices().tolist()
        ([0, 3], [1, 2, 4])
    """

    def __init__(self, n_samples: int, *, classes: Sequence[Any] | None = None):
        if isinstance(n_samples, bool) or not isinstance(n_samples, int | np.integer):
            raise InvalidParameterError(f"n_samples must be an int; got {n_samples!r}.")
        if n_samples < 1:
            raise InvalidParameterError(
                f"n_samples must be at least 1 (the pool is empty); got {n_samples}."
            )
        if classes is not None:
            classes = list(classes)
            if len(classes) < 2 or len(set(map(str, classes))) != len(classes):
                raise InvalidParameterError(
                    "classes must list at least two distinct class names; got "
                    f"{classes!r}."
                )
        self.n_samples = int(n_samples)
        self.classes: list[Any] | None = classes
        dtype = np.int64 if classes is not None else np.float64
        self._labels = np.zeros(self.n_samples, dtype=dtype)
        self._round = np.full(self.n_samples, UNLABELED, dtype=np.int64)

    # ------------------------------------------------------------------ views
    @property
    def is_classification(self) -> bool:
        """Whether labels are class indices."""
        return self.classes is not None

    @property
    def n_classes(self) -> int:
        """Number of classes (classification only)."""
        if self.classes is None:
            raise InvalidParameterError("n_classes is undefined for regression.")
        return len(self.classes)

    @property
    def labeled_mask(self) -> np.ndarray:
        """Boolean mask of shape ``(n_samples,)``, True where labeled (a copy)."""
        mask: np.ndarray = self._round != UNLABELED
        return mask

    @property
    def n_labeled(self) -> int:
        """Number of labeled items."""
        return int(np.count_nonzero(self._round != UNLABELED))

    @property
    def n_unlabeled(self) -> int:
        """Number of unlabeled items."""
        return self.n_samples - self.n_labeled

    @property
    def last_round(self) -> int:
        """Largest round in which a label arrived (-1 when nothing is labeled)."""
        return int(self._round.max())

    def labeled_indices(self) -> IndexArray:
        """Absolute indices of labeled items, ascending."""
        return np.flatnonzero(self._round != UNLABELED).astype(np.int64)

    def unlabeled_indices(self) -> IndexArray:
        """Absolute indices of unlabeled items, ascending."""
        return np.flatnonzero(self._round == UNLABELED).astype(np.int64)

    def labels(self, indices: Any = None) -> np.ndarray:
        """Labels of ``indices`` (default: all labeled items, ascending index)."""
        idx = self.labeled_indices() if indices is None else self._check(indices)
        if indices is not None and (self._round[idx] == UNLABELED).any():
            missing = idx[self._round[idx] == UNLABELED][:5].tolist()
            raise InvalidParameterError(f"Indices {missing} are not labeled yet.")
        return self._labels[idx].copy()

    def rounds(self, indices: Any = None) -> IndexArray:
        """Round in which each label arrived (-1 = unlabeled); default all items."""
        if indices is None:
            return self._round.copy()
        return self._round[self._check(indices)].copy()

    # --------------------------------------------------------------- mutation
    def _check(self, indices: Any) -> IndexArray:
        return check_indices(indices, self.n_samples)

    def _check_labels(self, labels: Any, n: int) -> np.ndarray:
        arr = np.asarray(labels)
        if arr.ndim == 0:
            arr = arr.reshape(1)
        if arr.shape != (n,):
            raise LabelError(
                f"Expected {n} labels (one per index, shape ({n},)); got shape "
                f"{arr.shape}. Nothing was stored."
            )
        if self.classes is None:
            if not np.issubdtype(arr.dtype, np.number) or arr.dtype.kind == "c":
                # complex -> float64 would drop the imaginary parts
                raise LabelError(
                    f"Regression labels must be real numbers; got dtype {arr.dtype}. "
                    "Nothing was stored."
                )
            out = arr.astype(np.float64)
            if not np.isfinite(out).all():
                raise LabelError(
                    "Regression labels must be finite; got NaN or infinity. "
                    "Nothing was stored."
                )
            return out
        n_classes = len(self.classes)
        if not np.issubdtype(arr.dtype, np.integer):
            if np.issubdtype(arr.dtype, np.floating) and np.all(arr == np.round(arr)):
                arr = arr.astype(np.int64)
            else:
                raise LabelError(
                    "Classification labels must be class indices in "
                    f"[0, {n_classes - 1}]; got dtype {arr.dtype}. Map class names "
                    "with state.classes.index(name). Nothing was stored."
                )
        bad = (arr < 0) | (arr >= n_classes)
        if bad.any():
            raise LabelError(
                f"Labels {np.unique(arr[bad])[:5].tolist()} are outside the known "
                f"classes 0..{n_classes - 1} ({self.classes}). Nothing was stored."
            )
        return arr.astype(np.int64)

    def teach(self, indices: Any, labels: Any, *, round: int) -> None:
        """Store labels for unlabeled items (atomic: all or nothing).

        Args:
            indices: Absolute indices, shape ``(n,)``, unique and not yet labeled.
            labels: Labels, shape ``(n,)``: class indices or finite floats.
            round: Round in which these labels arrive (``>= 0``).

        Raises:
            InvalidParameterError: Duplicates, out-of-range or already-labeled
                indices, or bad labels; nothing is stored then.
        """
        idx = self._check(indices)
        lab = self._check_labels(labels, idx.size)
        if not isinstance(round, int | np.integer) or round < 0:
            raise InvalidParameterError(f"round must be an int >= 0; got {round!r}.")
        already = idx[self._round[idx] != UNLABELED]
        if already.size:
            raise LabelError(
                f"Indices {already[:5].tolist()} are labeled already "
                f"({already.size} in all). Use relabel() to correct a label. "
                "Nothing was stored."
            )
        self._labels[idx] = lab
        self._round[idx] = int(round)

    def relabel(self, indices: Any, labels: Any) -> None:
        """Correct labels of items that are labeled already (their round is kept)."""
        idx = self._check(indices)
        lab = self._check_labels(labels, idx.size)
        missing = idx[self._round[idx] == UNLABELED]
        if missing.size:
            raise LabelError(
                f"Indices {missing[:5].tolist()} are not labeled; use teach(). "
                "Nothing was changed."
            )
        self._labels[idx] = lab

    def unlabel(self, indices: Any) -> None:
        """Remove labels (undo). The items become unlabeled again."""
        idx = self._check(indices)
        missing = idx[self._round[idx] == UNLABELED]
        if missing.size:
            raise LabelError(
                f"Indices {missing[:5].tolist()} are not labeled. Nothing was changed."
            )
        self._round[idx] = UNLABELED
        self._labels[idx] = 0

    # ----------------------------------------------------------- persistence
    def state_dict(self) -> dict[str, Any]:
        """Return a copy of the full state (arrays and metadata)."""
        return {
            "n_samples": self.n_samples,
            "classes": None if self.classes is None else list(self.classes),
            "labels": self._labels.copy(),
            "round": self._round.copy(),
        }

    @classmethod
    def from_state_dict(cls, state: dict[str, Any]) -> LabelState:
        """Rebuild a state from `state_dict` output, validating it."""
        try:
            out = cls(int(state["n_samples"]), classes=state["classes"])
            labels = np.asarray(state["labels"])
            rounds = np.asarray(state["round"])
        except KeyError as exc:
            raise InvalidParameterError(
                f"State is missing key {exc}; expected n_samples, classes, labels, "
                "round."
            ) from None
        if labels.shape != (out.n_samples,) or rounds.shape != (out.n_samples,):
            raise InvalidParameterError(
                f"State arrays must have shape ({out.n_samples},); got labels "
                f"{labels.shape} and round {rounds.shape}."
            )
        if rounds.dtype.kind not in "iu" and not (
            rounds.dtype.kind == "f" and bool(np.all(rounds == np.round(rounds)))
        ):
            # a cast would truncate round 0.7 to 0 without a word
            raise InvalidParameterError(
                f"State rounds must be integers; got dtype {rounds.dtype}."
            )
        if (rounds < UNLABELED).any():
            raise InvalidParameterError("State rounds must be >= -1.")
        rounds = rounds.astype(np.int64)
        labeled = rounds != UNLABELED
        if labeled.any():
            out._check_labels(labels[labeled], int(labeled.sum()))
        # unlabeled items keep label 0, as teach and unlabel leave them
        out._labels[labeled] = labels[labeled].astype(out._labels.dtype)
        out._round[:] = rounds
        return out

    def save(self, path: str | os.PathLike[str]) -> None:
        """Write the state to ``path`` (``.npz``) atomically (write, then rename).

        A missing parent folder is created. Class names keep their exact type
        through `load`: ``str``, ``int``, ``float``, ``bool`` and numpy
        scalars (``np.int32(3)`` comes back as ``np.int32(3)``).

        Raises:
            LabelError: A class name of another type, or the file cannot be
                written (the message names the path and the reason); the file
                at ``path`` is then unchanged.
        """
        path = Path(path)
        meta = json.dumps(
            {
                "format": _FORMAT,
                "version": _VERSION,
                "n_samples": self.n_samples,
                "classes": None
                if self.classes is None
                else [_encode_class(c) for c in self.classes],
            }
        )
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(dir=path.parent, suffix=".tmp.npz")
        except OSError as exc:
            raise LabelError(
                f"Cannot save the label state to {str(path)!r}: cannot create or "
                f"write its folder {str(path.parent)!r} ({exc.strerror or exc}). "
                "Choose a path in a writable folder."
            ) from None
        try:
            with os.fdopen(fd, "wb") as fh:
                np.savez(
                    fh, meta=np.array(meta), labels=self._labels, round=self._round
                )
                fh.flush()
                os.fsync(fh.fileno())
            os.replace(tmp, path)
        except OSError as exc:
            raise LabelError(
                f"Cannot save the label state to {str(path)!r} "
                f"({exc.strerror or exc}); nothing was written there."
            ) from None
        finally:
            if os.path.exists(tmp):
                os.unlink(tmp)

    @classmethod
    def load(cls, path: str | os.PathLike[str]) -> LabelState:
        """Load a state written by `save`.

        Raises:
            LabelError: The file is missing, empty, truncated, corrupt or not
                written by `save`; the message names the file and the
                problem.
        """
        path = Path(path)
        where = f"Cannot load a label state from {str(path)!r}"
        try:
            size = path.stat().st_size
        except OSError as exc:
            raise LabelError(f"{where}: {exc.strerror or exc}.") from None
        if path.is_dir():
            raise LabelError(f"{where}: it is a folder, not a file.")
        if size == 0:
            raise LabelError(f"{where}: the file is empty (0 bytes).")
        arrays = _read_npz(path, where)
        try:
            meta = json.loads(str(arrays["meta"]))
            if not isinstance(meta, dict):
                raise ValueError("meta is not a JSON object")
            if meta.get("format", _FORMAT) != _FORMAT:
                raise ValueError(f"format {meta.get('format')!r}")
            classes = meta.get("classes")
            if classes is not None and meta.get("version", 1) >= _VERSION:
                classes = [_decode_class(c) for c in classes]
            state = {**meta, "classes": classes}
            state.update(labels=arrays["labels"], round=arrays["round"])
            return cls.from_state_dict(state)
        except (ValueError, TypeError, KeyError, InvalidParameterError) as exc:
            raise LabelError(
                f"{where}: its contents are not a valid label state ({exc}). It "
                "was not written by LabelState.save, or it was altered."
            ) from None

    def __repr__(self) -> str:
        task = f"classes={len(self.classes)}" if self.classes else "regression"
        return (
            f"LabelState(n_samples={self.n_samples}, n_labeled={self.n_labeled}, "
            f"{task})"
        )


def _encode_class(c: Any) -> list[Any]:
    """``[type tag, value]`` of a class name, exact through JSON."""
    if isinstance(c, np.generic) and c.dtype.kind in "biufU":
        return [f"numpy:{c.dtype.str}", c.item()]
    if type(c) in _SCALARS.values():
        return [type(c).__name__, c]
    raise LabelError(
        f"Cannot save class name {c!r} of type {type(c).__name__}: saved class "
        "names must be str, int, float, bool or numpy scalars of those kinds. "
        "Use strings (e.g. str(c)) as class names."
    )


def _decode_class(item: Any) -> Any:
    tag, value = item
    if isinstance(tag, str) and tag.startswith("numpy:"):
        dtype = np.dtype(tag.removeprefix("numpy:"))
        if dtype.kind not in "biufU":
            raise ValueError(f"class type {tag!r}")
        return np.array(value, dtype=dtype)[()]
    want = _SCALARS.get(tag) if isinstance(tag, str) else None
    if want is not None and type(value) is want:
        return value
    if want is float and type(value) is int:
        return float(value)
    raise ValueError(f"class {value!r} tagged {tag!r}")


def _read_npz(path: Path, where: str) -> dict[str, np.ndarray]:
    """The arrays ``meta``, ``labels`` and ``round`` of a saved state."""
    try:
        with path.open("rb") as fh:
            magic = fh.read(4)
    except OSError as exc:
        raise LabelError(f"{where}: {exc.strerror or exc}.") from None
    if magic != b"PK\x03\x04":
        raise LabelError(
            f"{where}: it is not an .npz archive (it starts with {magic!r}); a "
            "label state is the .npz file LabelState.save writes."
        )
    try:
        with np.load(path, allow_pickle=False) as data:
            missing = sorted({"meta", "labels", "round"} - set(data.files))
            if missing:
                raise LabelError(
                    f"{where}: it lacks {', '.join(missing)}; it is an .npz "
                    f"archive of {sorted(data.files)[:5]}, not a label state "
                    "written by LabelState.save."
                )
            return {k: data[k] for k in ("meta", "labels", "round")}
    except ValueError as exc:
        if "allow_pickle" not in str(exc):
            raise LabelError(f"{where}: the file is corrupt ({exc}).") from None
        raise LabelError(
            f"{where}: it holds pickled Python objects, which are never loaded; "
            "it was not written by LabelState.save."
        ) from None
    except (OSError, EOFError, zipfile.BadZipFile, zlib.error) as exc:
        raise LabelError(
            f"{where}: the file is truncated or corrupt ({type(exc).__name__}: "
            f"{exc}). Restore it from a copy, or start a new state."
        ) from None
