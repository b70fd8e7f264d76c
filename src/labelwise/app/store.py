"""The labeling app's durable state: one SQLite file in WAL mode.

Every action a person takes (label, skip, undo, correction, import) is one
transaction that appends an event and updates the current labels and the queue,
so killing the process at any moment loses at most the action whose commit had
not returned, and never leaves a half-applied one. Tables:

=========  ====================================================================
events     every action: time, item, action, value, previous value, round,
           strategy, model version, and whether it was undone
labels     the current label of each labeled item (with its round and time)
queue      items the strategy asked for: round, position, score, the model's
           guess, model version, status (``open``, ``done``, ``skipped``)
models     each trained model version: time, labels used, hold-out metric,
           share of pool predictions that changed
meta       the project's settings (JSON)
=========  ====================================================================
"""

from __future__ import annotations

import csv
import io
import itertools
import json
import sqlite3
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from labelwise.app.checks import shown
from labelwise.exceptions import InvalidParameterError, LabelwiseError


class UndoRefusedError(InvalidParameterError):
    """Undo cannot take back the newest action (an import); nothing changed."""


BUSY_TIMEOUT_S = 5.0
"""How long a write waits for another program's lock on the database."""


class DatabaseBusyError(LabelwiseError, RuntimeError):
    """Another program held the database's write lock too long; nothing changed.

    The server answers it with 423 (Locked) and ``Retry-After``: the request
    was fine, the project's file was busy.
    """


SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS events (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    ts REAL NOT NULL,
    item INTEGER,
    action TEXT NOT NULL
        CHECK (action IN ('label', 'skip', 'undo', 'correct', 'import')),
    value TEXT,
    previous TEXT,
    round INTEGER NOT NULL,
    strategy TEXT NOT NULL,
    model_version INTEGER NOT NULL,
    undone INTEGER NOT NULL DEFAULT 0
);
CREATE TABLE IF NOT EXISTS labels (
    item INTEGER PRIMARY KEY,
    value TEXT NOT NULL,
    round INTEGER NOT NULL,
    ts REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS queue (
    item INTEGER PRIMARY KEY,
    round INTEGER NOT NULL,
    position INTEGER NOT NULL,
    score REAL,
    guess TEXT,
    model_version INTEGER NOT NULL,
    status TEXT NOT NULL DEFAULT 'open'
        CHECK (status IN ('open', 'done', 'skipped'))
);
CREATE TABLE IF NOT EXISTS models (
    version INTEGER PRIMARY KEY,
    ts REAL NOT NULL,
    n_labels INTEGER NOT NULL,
    metric TEXT,
    value REAL,
    changed REAL,
    seconds REAL
);
"""


class LabelDB:
    """Labels, queue and history of one labeling project (thread-safe).

    Args:
        path: The SQLite file; created with the schema when missing.
        strategy: Strategy name recorded with every event.
        busy_timeout: Seconds a write waits while another program (a second
            server, ``labelwise label import``, a SQLite tool) holds the write
            lock; then `DatabaseBusyError`, and nothing changes.
    """

    def __init__(
        self,
        path: str | Path,
        *,
        strategy: str = "",
        busy_timeout: float = BUSY_TIMEOUT_S,
    ):
        if isinstance(busy_timeout, bool) or not (
            isinstance(busy_timeout, (int, float)) and 0 < busy_timeout < 3600
        ):
            raise InvalidParameterError(
                f"busy_timeout must be seconds in (0, 3600); got {busy_timeout!r}."
            )
        self.path = Path(path)
        self.strategy = strategy
        self.busy_timeout = float(busy_timeout)
        self._lock = threading.RLock()
        self._con = sqlite3.connect(
            self.path,
            check_same_thread=False,
            isolation_level=None,
            timeout=self.busy_timeout,
        )
        self._con.execute("PRAGMA journal_mode=WAL")
        self._con.execute("PRAGMA synchronous=NORMAL")
        self._con.executescript(SCHEMA)

    def close(self) -> None:
        """Close the connection."""
        with self._lock:
            self._con.close()

    @contextmanager
    def _tx(self) -> Iterator[sqlite3.Connection]:
        """One ``BEGIN IMMEDIATE`` transaction; rolled back on any error."""
        with self._lock:
            try:
                self._con.execute("BEGIN IMMEDIATE")
            except sqlite3.OperationalError as exc:
                if "locked" not in str(exc) and "busy" not in str(exc):
                    raise
                raise DatabaseBusyError(
                    f"The project's database {self.path} stayed locked by another "
                    f"program for {self.busy_timeout:g} s ({exc}): a second `labelwise "
                    "label serve` or `label import` on the same project, or a SQLite "
                    "tool with an open transaction. Nothing was changed; finish or "
                    "close the other program's transaction and try again."
                ) from None
            try:
                yield self._con
            except BaseException:
                self._con.execute("ROLLBACK")
                raise
            self._con.execute("COMMIT")

    def _one(self, sql: str, args: tuple[Any, ...] = ()) -> Any:
        with self._lock:
            return self._con.execute(sql, args).fetchone()

    def _all(self, sql: str, args: tuple[Any, ...] = ()) -> list[Any]:
        with self._lock:
            return self._con.execute(sql, args).fetchall()

    # -------------------------------------------------------------- meta
    def set_meta(self, key: str, value: Any) -> None:
        """Store a JSON value under ``key``."""
        with self._tx() as con:
            con.execute(
                "INSERT OR REPLACE INTO meta VALUES (?, ?)", (key, json.dumps(value))
            )

    def meta(self, key: str, default: Any = None) -> Any:
        """The JSON value under ``key``, or ``default``."""
        row = self._one("SELECT value FROM meta WHERE key = ?", (key,))
        return default if row is None else json.loads(row[0])

    # ------------------------------------------------------------- reads
    def labels(self) -> dict[int, str]:
        """Current labels: item -> value (as stored text)."""
        return dict(self._all("SELECT item, value FROM labels ORDER BY item"))

    def n_labels(self) -> int:
        """How many items are labeled."""
        return int(self._one("SELECT COUNT(*) FROM labels")[0])

    def model_version(self) -> int:
        """The newest model version (0 before any training)."""
        row = self._one("SELECT MAX(version) FROM models")
        return int(row[0] or 0)

    def round(self) -> int:
        """The newest queued round (0 before any)."""
        row = self._one("SELECT MAX(round) FROM queue")
        return int(row[0] or 0)

    def queue(self, status: str | None = "open") -> list[dict[str, Any]]:
        """Queue rows (all when ``status`` is ``None``) in round, position order."""
        sql = (
            "SELECT item, round, position, score, guess, model_version, status "
            "FROM queue"
        )
        args: tuple[Any, ...] = ()
        if status is not None:
            sql += " WHERE status = ?"
            args = (status,)
        rows = self._all(sql + " ORDER BY round, position", args)
        keys = (
            "item",
            "round",
            "position",
            "score",
            "guess",
            "model_version",
            "status",
        )
        return [dict(zip(keys, r, strict=True)) for r in rows]

    def history(self, limit: int = 50, offset: int = 0) -> list[dict[str, Any]]:
        """Labeled items, newest first: item, value, round, time."""
        rows = self._all(
            "SELECT item, value, round, ts FROM labels ORDER BY ts DESC, item DESC "
            "LIMIT ? OFFSET ?",
            (limit, offset),
        )
        return [{"item": r[0], "value": r[1], "round": r[2], "ts": r[3]} for r in rows]

    def events(self) -> list[dict[str, Any]]:
        """All events in order."""
        cols = (
            "id",
            "ts",
            "item",
            "action",
            "value",
            "previous",
            "round",
            "strategy",
            "model_version",
            "undone",
        )
        rows = self._all(f"SELECT {', '.join(cols)} FROM events ORDER BY id")
        return [dict(zip(cols, r, strict=True)) for r in rows]

    def models(self) -> list[dict[str, Any]]:
        """Trained model versions in order."""
        cols = ("version", "ts", "n_labels", "metric", "value", "changed", "seconds")
        rows = self._all(f"SELECT {', '.join(cols)} FROM models ORDER BY version")
        return [dict(zip(cols, r, strict=True)) for r in rows]

    def seconds_per_label(self, window: int = 20) -> float | None:
        """Median gap between the last ``window`` label events (``None`` if < 2)."""
        rows = self._all(
            "SELECT ts FROM events WHERE action IN ('label', 'correct') AND undone = 0 "
            "ORDER BY id DESC LIMIT ?",
            (window + 1,),
        )
        ts = sorted(r[0] for r in rows)
        gaps = sorted(b - a for a, b in itertools.pairwise(ts) if b - a < 600)
        return gaps[len(gaps) // 2] if gaps else None

    # ----------------------------------------------------------- actions
    def _event(
        self,
        con: sqlite3.Connection,
        item: int | None,
        action: str,
        value: str | None = None,
        previous: str | None = None,
        round: int = 0,
    ) -> None:
        con.execute(
            "INSERT INTO events (ts, item, action, value, previous, round, strategy, "
            "model_version) VALUES (?, ?, ?, ?, ?, ?, ?, "
            "(SELECT COALESCE(MAX(version), 0) FROM models))",
            (time.time(), item, action, value, previous, round, self.strategy),
        )

    def _queued(self, con: sqlite3.Connection, item: int) -> tuple[int, str]:
        row = con.execute(
            "SELECT round, status FROM queue WHERE item = ?", (item,)
        ).fetchone()
        if row is None:
            raise InvalidParameterError(
                f"Item {item} is not in the queue; label the items the page shows "
                "(or correct an already labeled one)."
            )
        return int(row[0]), str(row[1])

    def label(self, item: int, value: str) -> None:
        """Label a queued open item (one transaction)."""
        with self._tx() as con:
            rnd, status = self._queued(con, item)
            if status != "open":
                row = con.execute(
                    "SELECT value FROM labels WHERE item = ?", (item,)
                ).fetchone()
                # a retried request (its answer lost) can tell whether it landed
                has = "" if row is None else f", labeled {shown(row[0])}"
                raise InvalidParameterError(
                    f"Item {item} is already {status}{has} (by an earlier request, "
                    "perhaps another client's); use correct to change a label or "
                    "undo to reopen it."
                )
            self._event(con, item, "label", value, None, rnd)
            con.execute(
                "INSERT INTO labels VALUES (?, ?, ?, ?)",
                (item, value, rnd, time.time()),
            )
            con.execute("UPDATE queue SET status = 'done' WHERE item = ?", (item,))

    def skip(self, item: int) -> None:
        """Skip a queued open item (it leaves the batch, unlabeled)."""
        with self._tx() as con:
            rnd, status = self._queued(con, item)
            if status != "open":
                raise InvalidParameterError(f"Item {item} is already {status}.")
            self._event(con, item, "skip", None, None, rnd)
            con.execute("UPDATE queue SET status = 'skipped' WHERE item = ?", (item,))

    def correct(self, item: int, value: str) -> None:
        """Change the label of an already labeled item."""
        with self._tx() as con:
            row = con.execute(
                "SELECT value, round FROM labels WHERE item = ?", (item,)
            ).fetchone()
            if row is None:
                raise InvalidParameterError(
                    f"Item {item} has no label to correct; label it first."
                )
            self._event(con, item, "correct", value, row[0], int(row[1]))
            con.execute(
                "UPDATE labels SET value = ?, ts = ? WHERE item = ?",
                (value, time.time(), item),
            )

    def undo(self) -> dict[str, Any] | None:
        """Take back the newest action; ``None`` if there is none.

        The newest action not yet undone is reversed, whatever its kind: a
        label (the item reopens), a skip (it reopens) or a correction (the
        previous value returns). An import is one action that undo cannot take
        back (it may have set many labels): undo then refuses and changes
        nothing, rather than reversing an older action behind it.

        Raises:
            UndoRefusedError: The newest action is an import.
        """
        with self._tx() as con:
            row = con.execute(
                "SELECT id, item, action, previous, round FROM events WHERE undone = 0 "
                "AND action IN ('label', 'skip', 'correct', 'import') "
                "ORDER BY id DESC LIMIT 1"
            ).fetchone()
            if row is None:
                return None
            eid, item, action, previous, rnd = row
            if action == "import":
                raise UndoRefusedError(
                    "The last action was an import; undo cannot take it back (it "
                    "may have set many labels). Correct the labels one by one or "
                    "import a CSV with the values you want."
                )
            con.execute("UPDATE events SET undone = 1 WHERE id = ?", (eid,))
            self._event(con, item, "undo", action, previous, rnd)
            if action == "label":
                con.execute("DELETE FROM labels WHERE item = ?", (item,))
                con.execute("UPDATE queue SET status = 'open' WHERE item = ?", (item,))
            elif action == "skip":
                con.execute("UPDATE queue SET status = 'open' WHERE item = ?", (item,))
            else:
                con.execute(
                    "UPDATE labels SET value = ? WHERE item = ?", (previous, item)
                )
            return {"item": item, "action": action}

    def enqueue(
        self,
        items: list[int],
        scores: list[float | None],
        guesses: list[str | None],
        round: int,
        model_version: int,
    ) -> int:
        """Queue a new batch; items already queued or labeled are left out.

        Returns:
            How many items were queued.
        """
        added = 0
        with self._tx() as con:
            for pos, (item, score, guess) in enumerate(
                zip(items, scores, guesses, strict=True)
            ):
                cur = con.execute(
                    "INSERT OR IGNORE INTO queue (item, round, position, score, guess, "
                    "model_version) SELECT ?, ?, ?, ?, ?, ? WHERE NOT EXISTS "
                    "(SELECT 1 FROM labels WHERE item = ?)",
                    (item, round, pos, score, guess, model_version, item),
                )
                added += cur.rowcount
        return added

    def add_model(
        self,
        n_labels: int,
        metric: str | None,
        value: float | None,
        changed: float | None,
        seconds: float,
    ) -> int:
        """Record a trained model version; returns its number."""
        with self._tx() as con:
            cur = con.execute(
                "INSERT INTO models (ts, n_labels, metric, value, changed, seconds) "
                "VALUES (?, ?, ?, ?, ?, ?)",
                (time.time(), n_labels, metric, value, changed, seconds),
            )
            return int(cur.lastrowid or 0)

    # ------------------------------------------------------ export/import
    def export_csv(self) -> str:
        """``item,label,round`` rows of the current labels."""
        buf = io.StringIO()
        w = csv.writer(buf)
        w.writerow(["item", "label", "round"])
        for item, value, rnd in self._all(
            "SELECT item, value, round FROM labels ORDER BY item"
        ):
            w.writerow([item, value, rnd])
        return buf.getvalue()

    def import_rows(self, rows: list[tuple[int, str]]) -> int:
        """Set labels from ``(item, value)`` pairs in one transaction.

        Labeled items get the new value (recorded as an ``import`` event with
        the previous value if it differs); queued items are marked done. The
        import is one action: a marker event (item NULL) is written first, so
        undo sees it as the newest action even when nothing changed. Returns
        how many labels changed.
        """
        changed = 0
        with self._tx() as con:
            # one marker event per import (item NULL, value "rows changed/given"):
            # an import that changed nothing is still the newest action for undo
            self._event(con, None, "import", None, None, 0)
            marker = con.execute("SELECT last_insert_rowid()").fetchone()[0]
            for item, value in rows:
                row = con.execute(
                    "SELECT value FROM labels WHERE item = ?", (item,)
                ).fetchone()
                if row is not None and row[0] == value:
                    continue
                q = con.execute(
                    "SELECT round FROM queue WHERE item = ?", (item,)
                ).fetchone()
                rnd = int(q[0]) if q is not None else 0
                prev = None if row is None else row[0]
                self._event(con, item, "import", value, prev, rnd)
                con.execute(
                    "INSERT OR REPLACE INTO labels VALUES (?, ?, ?, ?)",
                    (item, value, rnd, time.time()),
                )
                con.execute("UPDATE queue SET status = 'done' WHERE item = ?", (item,))
                changed += 1
            con.execute(
                "UPDATE events SET value = ? WHERE id = ?",
                (f"{changed}/{len(rows)}", marker),
            )
        return changed
