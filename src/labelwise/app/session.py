"""A labeling session: the queue a person works through, and the model behind it.

`LabelSession` owns a project's `LabelDB`.
Person-facing actions (label, skip, undo, correct) only touch SQLite and return
at once; retraining and the next selection run on a background thread, started
when the open batch is done or after ``retrain_every`` new labels. The person
keeps labeling what is queued meanwhile; when a newer model exists, queued items
whose score and guess came from an older one are marked stale.

The first batch (no labels yet) is a seeded random draw. On restart the session
picks up the queue and labels from SQLite; if labels exist it retrains in the
background. After every retrain the fitted model is pickled to
``DIR/model.pkl`` (a labelwise model: ``predict_proba`` / ``predict``).
"""

from __future__ import annotations

import threading
import time
import traceback
from pathlib import Path
from typing import Any

import numpy as np

from labelwise.app.checks import check_item, label_value, parse_import
from labelwise.app.project import ProjectConfig, load_config
from labelwise.app.store import LabelDB
from labelwise.exceptions import InvalidParameterError
from labelwise.loop.stopping import StoppingCriteria, changed_share


class LabelSession:
    """The labeling engine of one project folder.

    Args:
        folder: Project folder (``labelwise label init``).
        background: Run retraining on a thread (``False``: synchronously, for
            tests and scripts).
        device: Where a torch model trains (``"auto"``, ``"cpu"``, ``"cuda"``,
            ``"cuda:N"``) and ``precision`` (``"fp32"``, or ``"bf16"`` on CUDA);
            both checked here.
    """

    def __init__(
        self,
        folder: str | Path,
        *,
        background: bool = True,
        device: str = "auto",
        precision: str = "fp32",
    ):
        from labelwise.models._placement import check_placement

        self.placement = {
            "device": str(check_placement(device, precision, 0)),
            "precision": precision,
        }
        self.folder = Path(folder)
        self.config: ProjectConfig = load_config(folder)
        self.X = np.load(self.folder / "features.npy", mmap_mode="r")
        # what the model learns from: the precomputed embeddings, if any (the
        # page keeps drawing items from X)
        self.X_model = (
            self.X
            if self.config.embeddings is None
            else np.load(self.folder / "embeddings.npy", mmap_mode="r")
        )
        self.n_items = int(self.X.shape[0])
        self.db = LabelDB(self.folder / "labels.sqlite", strategy=self.config.strategy)
        self.background = background
        self.holdout: tuple[np.ndarray, np.ndarray] | None = None
        if (self.folder / "holdout_X.npy").exists():
            self.holdout = (
                np.load(self.folder / "holdout_X.npy"),
                np.load(self.folder / "holdout_y.npy", allow_pickle=False),
            )
        self.criteria = StoppingCriteria(
            budget=self.config.budget,
            stable_share=self.config.stable_share,
            rmse_change=self.config.rmse_change,
        )
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._busy = threading.Event()
        self._labels_at_train = -1
        self._top_up = False
        self._last_pred: np.ndarray | None = None
        self.last_error: str | None = None
        self._thread: threading.Thread | None = None

    # ------------------------------------------------------------- start
    def start(self) -> LabelSession:
        """Queue the first batch if needed and start the background worker.

        The first batch is a seeded random draw, unless labels were given at
        init (a text CSV's label column): then the first model picks it.
        """
        if not self.db.queue(status=None) and not self.db.n_labels():
            rng = np.random.default_rng([self.config.seed, 0])
            first = rng.choice(
                self.n_items,
                size=min(self.config.batch_size, self.n_items),
                replace=False,
            )
            self.db.enqueue(
                [int(i) for i in first], [None] * len(first), [None] * len(first), 1, 0
            )
        if self.background and self._thread is None:
            self._thread = threading.Thread(target=self._worker, daemon=True)
            self._thread.start()
        if self.db.n_labels():
            # a fresh process has no model: train one (fresh guesses), and queue
            # a batch only if the queue ran dry before the restart, so the person
            # resumes exactly the batch they were on
            self.request_retrain(top_up=not self.db.queue())
        return self

    def close(self) -> None:
        """Stop the worker (after its current step) and close the database."""
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout=60)
        self.db.close()

    # ----------------------------------------------------------- actions
    def parse_value(self, value: Any) -> str:
        """Validate a label: a class name (a string), or a finite number.

        See `labelwise.app.checks` for the exact rules.
        """
        return label_value(value, self.config.classes)

    def _check_item(self, item: Any) -> int:
        return check_item(item, self.n_items)

    def label(self, item: Any, value: Any) -> None:
        """Label a queued item; may start a retrain in the background."""
        self.db.label(self._check_item(item), self.parse_value(value))
        self._maybe_retrain()

    def skip(self, item: Any) -> None:
        """Skip a queued item."""
        self.db.skip(self._check_item(item))
        self._maybe_retrain()

    def correct(self, item: Any, value: Any) -> None:
        """Change an earlier label."""
        self.db.correct(self._check_item(item), self.parse_value(value))

    def undo(self) -> dict[str, Any] | None:
        """Take back the newest action (see `LabelDB.undo`)."""
        return self.db.undo()

    def import_csv(self, text: str) -> int:
        """Set labels from ``item,label`` CSV text (all rows valid or none set).

        A leading UTF-8 byte-order mark is ignored (spreadsheets write one);
        other columns (such as ``round`` from an export) are ignored. Every
        row needs an item and a label, and an item may appear only once.

        Raises:
            InvalidParameterError: naming the line and what is wrong with it;
                nothing is changed then.
        """
        return self.db.import_rows(
            parse_import(text, self.n_items, self.config.classes)
        )

    # ---------------------------------------------------------- training
    def _maybe_retrain(self) -> None:
        n = self.db.n_labels()
        every = self.config.retrain_every
        batch_done = not self.db.queue()
        if batch_done or (
            every is not None and n - max(self._labels_at_train, 0) >= every
        ):
            self.request_retrain()

    def request_retrain(self, *, top_up: bool = True) -> None:
        """Ask for a retrain and (``top_up``) the next selection.

        Runs now when the session is not in background mode.
        """
        self._top_up = self._top_up or top_up
        if self.background:
            self._wake.set()
        else:
            self.retrain_and_select()

    @property
    def training(self) -> bool:
        """Whether a retrain is queued or running."""
        return self._busy.is_set() or self._wake.is_set()

    def _worker(self) -> None:
        while not self._stop.is_set():
            self._wake.wait()
            if self._stop.is_set():
                return
            self._wake.clear()
            self._busy.set()
            try:
                self.retrain_and_select()
            except Exception:
                self.last_error = traceback.format_exc()
            finally:
                self._busy.clear()

    def retrain_and_select(self) -> int:
        """Fit on all labels, score the hold-out, top the queue up to a batch.

        The queue is topped up when the request asked for it (a finished batch,
        ``retrain_every``, a dry queue at start), not after a plain restart.

        Returns:
            The new model version (0 when there were no labels yet).
        """
        from labelwise.loop import ActiveLearner
        from labelwise.models.registry import make_model
        from labelwise.pool import LabelState
        from labelwise.strategies import get_strategy, parse_strategy_spec

        top_up, self._top_up = self._top_up, False
        labels = self.db.labels()
        if not labels:
            return 0
        start = time.perf_counter()
        cfg = self.config
        X = np.asarray(self.X_model)
        idx = np.fromiter(labels, dtype=np.int64)
        state = LabelState(self.n_items, classes=cfg.classes)
        values = list(labels.values())
        if cfg.classes is None:
            y: Any = np.asarray([float(v) for v in values])
        else:
            y = np.asarray([cfg.classes.index(v) for v in values])
        state.teach(idx, y, round=0)
        model = make_model(cfg.model, **self.placement, **cfg.model_params)
        name, strategy_params = parse_strategy_spec(cfg.strategy)
        strategy = get_strategy(name, **strategy_params)
        learner = ActiveLearner(model, strategy, X, state=state, seed=cfg.seed)
        learner.fit()
        self._save_model(model)
        pred = learner.predict(X)
        changed = None
        if self._last_pred is not None:
            changed = changed_share(
                self._last_pred,
                pred,
                regression=cfg.classes is None,
                tolerance=self.criteria.tolerance,
            )
        self._last_pred = pred
        metric, value = self._holdout_metric(learner)
        open_items = [q["item"] for q in self.db.queue()]
        seconds = time.perf_counter() - start
        version = self.db.add_model(len(labels), metric, value, changed, seconds)
        self._labels_at_train = len(labels)
        # top the queue up to one batch: the person never waits for a retrain
        # while items remain, and items from older models are marked stale
        # skipped items stay out of later batches too
        queued = {q["item"] for q in self.db.queue(status=None)} - set(labels)
        n_free = state.n_unlabeled - len(queued)
        want = min(cfg.batch_size - len(open_items), n_free) if top_up else 0
        if want > 0:
            sel = learner.query(min(want + len(queued), state.n_unlabeled))
            scores = (
                [None] * len(sel.indices)
                if sel.scores is None
                else [float(v) for v in sel.scores]
            )
            keep = [
                (int(i), sc)
                for i, sc in zip(sel.indices, scores, strict=True)
                if int(i) not in queued
            ][:want]
            guesses: list[str | None] = [self._guess(pred[i]) for i, _ in keep]
            self.db.enqueue(
                [i for i, _ in keep],
                [s for _, s in keep],
                guesses,
                self.db.round() + 1,
                version,
            )
        return version

    MODEL_FILE = "model.pkl"

    def _save_model(self, model: Any) -> None:
        """Pickle the fitted model to ``DIR/model.pkl`` (atomically replaced)."""
        import os
        import pickle

        tmp = self.folder / (self.MODEL_FILE + ".tmp")
        with open(tmp, "wb") as fh:
            pickle.dump(model, fh)
        os.replace(tmp, self.folder / self.MODEL_FILE)

    def _guess(self, p: Any) -> str:
        if self.config.classes is None:
            return f"{float(p):.4g}"
        return self.config.classes[int(p)]

    def _holdout_metric(self, learner: Any) -> tuple[str | None, float | None]:
        if self.holdout is None:
            return None, None
        hx, hy = self.holdout
        pred = learner.predict(hx)
        if self.config.classes is None:
            err = pred - hy.astype(np.float64)
            return "rmse", float(np.sqrt(np.mean(err**2)))
        names = np.asarray(self.config.classes)
        return "accuracy", float(np.mean(names[pred] == hy.astype(str)))

    # ------------------------------------------------------------- views
    def stop_reasons(self) -> list[str]:
        """Stopping rules that hold now."""
        models = self.db.models()
        changed = models[-1]["changed"] if models else None
        rmse = None
        if len(models) >= 2 and models[-1]["metric"] == "rmse":
            rmse = (models[-2]["value"], models[-1]["value"])
        return self.criteria.reasons(
            n_labels=self.db.n_labels(), changed=changed, rmse=rmse
        )

    def snapshot(self) -> dict[str, Any]:
        """What the page shows: the open batch, progress, model, stop reasons."""
        version = self.db.model_version()
        batch = [
            {
                **q,
                "stale": q["model_version"] < version,
                "display": self.display(q["item"]),
            }
            for q in self.db.queue()
        ]
        models = self.db.models()
        return {
            "batch": batch,
            "classes": self.config.classes,
            "keys": None
            if self.config.classes is None
            else class_keys(self.config.classes),
            "target": "numeric" if self.config.classes is None else None,
            "labeled": self.db.n_labels(),
            "budget": self.config.budget,
            "n_items": self.n_items,
            "seconds_per_label": self.db.seconds_per_label(),
            "model_version": version,
            "training": self.training,
            "error": self.last_error,
            "curve": [
                {"n_labels": m["n_labels"], "metric": m["metric"], "value": m["value"]}
                for m in models
                if m["value"] is not None
            ],
            "stop": self.stop_reasons(),
            "strategy": self.config.strategy,
            "model": self.config.model,
        }

    def display(self, item: int) -> dict[str, Any]:
        """How to show ``item``: an image URL, a table row or a text."""
        entry = self._items()[item]
        if "text" in entry:
            return {"kind": "text", "text": entry["text"]}
        if "row" in entry:
            # projects made before flat dataset items had rows stored {} here
            row = entry["row"] or {
                f"x{j}": round(float(v), 3)
                for j, v in enumerate(np.asarray(self.X[item]).reshape(-1)[:12])
            }
            return {"kind": "row", "row": row}
        return {"kind": "image", "src": f"/api/item/{item}/image"}

    def _items(self) -> list[dict[str, Any]]:
        if not hasattr(self, "_items_cache"):
            import json

            self._items_cache: list[dict[str, Any]] = json.loads(
                (self.folder / "items.json").read_text()
            )
        return self._items_cache

    def image_bytes(self, item: int) -> tuple[bytes, str]:
        """PNG (or the registered file's bytes) of item ``item``.

        Only the file registered for this item at ``init`` is read, resolved
        inside the project's image folder; nothing else on disk is reachable.
        Flat features are drawn when the project knows their image shape
        (``{"pixels": [height, width]}`` in ``items.json``, as for ``digits``).

        Raises:
            InvalidParameterError: ``item`` is not an image item.
            ImageMissingError: its registered file is gone or unreadable.
        """
        i = self._check_item(item)
        entry = self._items()[i]
        if "image" in entry:
            root = Path(self.config.source).resolve()
            path = (root / entry["image"]).resolve()
            if root not in path.parents:
                raise InvalidParameterError(f"item {i} has no image inside {root}.")
            suffix = path.suffix.lower().lstrip(".")
            kind = {"jpg": "jpeg"}.get(suffix, suffix)
            try:
                return path.read_bytes(), f"image/{kind}"
            except OSError as exc:
                raise ImageMissingError(
                    f"The image file of item {i} ({entry['image']}) cannot be read "
                    f"from {root} ({exc.strerror or exc}); restore it, or skip "
                    "the item."
                ) from None
        x = np.asarray(self.X[i], dtype=np.float32)
        shape = entry.get("pixels")
        if isinstance(shape, list) and x.ndim == 1 and int(np.prod(shape)) == x.size:
            x = x.reshape(shape)
        if x.ndim == 3:
            x = x[0] if x.shape[0] == 1 else x.mean(0)
        if x.ndim != 2 or "row" in entry:
            raise InvalidParameterError(f"item {i} is not an image.")
        return _png(x, scale=max(4, 112 // max(x.shape))), "image/png"


RESERVED_KEYS = ("s", "u")
"""Keys the page keeps for itself: skip and undo."""


def class_keys(classes: list[str]) -> dict[str, str]:
    """The keyboard key of each class, shown on its button.

    When every class name is one character (and none is a reserved key), the
    key is the name itself: with classes ``0``-``9`` the key ``1`` labels class
    ``"1"``. Otherwise classes get ``1``-``9``, ``0``, then the letters
    ``a``-``z`` except the reserved ones, in order; a project with more than 34
    classes leaves the rest without a key (their buttons stay clickable).

    Args:
        classes: The project's class names, in order.

    Returns:
        Class name -> key (one character).
    """
    if all(len(c) == 1 and c.lower() not in RESERVED_KEYS for c in classes) and len(
        {c.lower() for c in classes}
    ) == len(classes):
        return {c: c for c in classes}
    pool = [
        *"1234567890",
        *(k for k in "abcdefghijklmnopqrstuvwxyz" if k not in RESERVED_KEYS),
    ]
    return dict(zip(classes, pool, strict=False))


class ImageMissingError(InvalidParameterError):
    """An item's registered image file is gone from disk (or unreadable)."""


def _png(x: np.ndarray, scale: int = 4) -> bytes:
    """A grey PNG of a 2-D array, min-max scaled and enlarged ``scale`` times."""
    import io

    from PIL import Image

    lo, hi = float(x.min()), float(x.max())
    img = ((x - lo) / (hi - lo if hi > lo else 1.0) * 255).astype(np.uint8)
    big = Image.fromarray(img, mode="L").resize(
        (img.shape[1] * scale, img.shape[0] * scale), Image.Resampling.NEAREST
    )
    buf = io.BytesIO()
    big.save(buf, format="PNG")
    return buf.getvalue()
