"""SQLite result store: one row per measurement, written once per round.

Each round is committed in one transaction with the labels it selected, so an
interrupted experiment resumes from its last complete round without losing or
duplicating a label or a measurement. Runs are keyed by a stable id derived from
their full configuration.
"""

from __future__ import annotations

import hashlib
import json
import os
import sqlite3
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from labelwise.exceptions import InvalidParameterError

SCHEMA = """
CREATE TABLE IF NOT EXISTS runs (
    run_id TEXT PRIMARY KEY,
    dataset TEXT NOT NULL, model TEXT NOT NULL, strategy TEXT NOT NULL,
    seed INTEGER NOT NULL, config TEXT NOT NULL,
    status TEXT NOT NULL, error TEXT,
    created REAL NOT NULL, updated REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS measurements (
    run_id TEXT NOT NULL, round INTEGER NOT NULL, n_labeled INTEGER NOT NULL,
    metric TEXT NOT NULL, value REAL NOT NULL,
    PRIMARY KEY (run_id, round, metric)
);
CREATE TABLE IF NOT EXISTS labels (
    run_id TEXT NOT NULL, idx INTEGER NOT NULL, round INTEGER NOT NULL,
    label REAL NOT NULL,
    PRIMARY KEY (run_id, idx)
);
CREATE TABLE IF NOT EXISTS rounds (
    run_id TEXT NOT NULL, round INTEGER NOT NULL, info TEXT NOT NULL,
    PRIMARY KEY (run_id, round)
);
"""

EXPORT_COLUMNS = [
    "dataset",
    "model",
    "strategy",
    "seed",
    "round",
    "n_labeled",
    "metric",
    "value",
]


def run_id(config: Mapping[str, Any]) -> str:
    """Stable 16-hex-digit id of a run configuration (key order does not matter)."""
    blob = json.dumps(config, sort_keys=True, default=str, separators=(",", ":"))
    return hashlib.sha256(blob.encode()).hexdigest()[:16]


class ResultStore:
    """Results of active-learning runs in one SQLite file (WAL mode).

    Args:
        path: Database file; its folder is created.
    """

    def __init__(self, path: str | os.PathLike[str]):
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        con = self._connect()
        try:
            con.executescript(SCHEMA)
        finally:
            con.close()

    def _connect(self) -> sqlite3.Connection:
        con = sqlite3.connect(self.path, timeout=60.0, isolation_level=None)
        con.execute("PRAGMA journal_mode=WAL")
        con.execute("PRAGMA synchronous=NORMAL")
        return con

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        """A write transaction (``BEGIN IMMEDIATE`` ... ``COMMIT``)."""
        con = self._connect()
        try:
            con.execute("BEGIN IMMEDIATE")
            yield con
            con.execute("COMMIT")
        except BaseException:
            con.execute("ROLLBACK")
            raise
        finally:
            con.close()

    # ------------------------------------------------------------------ runs
    def start_run(self, rid: str, config: Mapping[str, Any]) -> str:
        """Register a run (idempotent); return its status."""
        now = time.time()
        with self.transaction() as con:
            row = con.execute(
                "SELECT status FROM runs WHERE run_id=?", (rid,)
            ).fetchone()
            if row is not None:
                if row[0] == "failed":
                    con.execute(
                        "UPDATE runs SET status='running', error=NULL, updated=? "
                        "WHERE run_id=?",
                        (now, rid),
                    )
                    return "running"
                return str(row[0])
            con.execute(
                "INSERT INTO runs VALUES (?,?,?,?,?,?,?,?,?,?)",
                (
                    rid,
                    str(config["dataset"]),
                    str(config["model"]),
                    str(config["strategy"]),
                    int(config["seed"]),
                    json.dumps(config, sort_keys=True, default=str),
                    "running",
                    None,
                    now,
                    now,
                ),
            )
        return "running"

    def fail_run(self, rid: str, error: str) -> None:
        """Mark a run as failed, keeping its traceback."""
        with self.transaction() as con:
            con.execute(
                "UPDATE runs SET status='failed', error=?, updated=? WHERE run_id=?",
                (error, time.time(), rid),
            )

    def record_round(
        self,
        rid: str,
        round: int,
        n_labeled: int,
        metrics: Mapping[str, float],
        new_labels: tuple[np.ndarray, np.ndarray, int] | None,
        info: Mapping[str, Any],
        *,
        finished: bool = False,
    ) -> None:
        """Commit one complete round in a single transaction.

        Args:
            rid: Run id.
            round: Round number (0 = initial model).
            n_labeled: Labels the round's model was trained on.
            metrics: Metric name -> value.
            new_labels: ``(indices, labels, round)`` of labels that arrive with
                this commit (the initial set, or the batch selected this round).
            info: JSON-serialisable details (selection info, warnings).
            finished: Also mark the run finished.
        """
        with self.transaction() as con:
            con.executemany(
                "INSERT INTO measurements VALUES (?,?,?,?,?)",
                [(rid, round, n_labeled, k, float(v)) for k, v in metrics.items()],
            )
            if new_labels is not None:
                idx, lab, lab_round = new_labels
                con.executemany(
                    "INSERT INTO labels VALUES (?,?,?,?)",
                    [
                        (rid, int(i), int(lab_round), float(v))
                        for i, v in zip(idx, lab, strict=True)
                    ],
                )
            con.execute(
                "INSERT INTO rounds VALUES (?,?,?)",
                (rid, round, json.dumps(info, default=str)),
            )
            con.execute(
                "UPDATE runs SET status=?, updated=? WHERE run_id=?",
                ("finished" if finished else "running", time.time(), rid),
            )

    def record_initial(self, rid: str, idx: np.ndarray, labels: np.ndarray) -> None:
        """Commit the initial labeled set (round 0) unless it is stored already."""
        with self.transaction() as con:
            have = con.execute(
                "SELECT COUNT(*) FROM labels WHERE run_id=? AND round=0", (rid,)
            ).fetchone()[0]
            if have:
                return
            con.executemany(
                "INSERT INTO labels VALUES (?,?,?,?)",
                [(rid, int(i), 0, float(v)) for i, v in zip(idx, labels, strict=True)],
            )

    def resume_point(self, rid: str) -> tuple[int, np.ndarray, np.ndarray]:
        """Last complete round (-1 if none) and the labels ``(idx, round)`` it implies.

        Labels of rounds beyond ``last + 1`` (none in a consistent store) are
        ignored.
        """
        con = self._connect()
        try:
            last = con.execute(
                "SELECT MAX(round) FROM rounds WHERE run_id=?", (rid,)
            ).fetchone()[0]
            last = -1 if last is None else int(last)
            rows = con.execute(
                "SELECT idx, round FROM labels WHERE run_id=? AND round<=? "
                "ORDER BY idx",
                (rid, last + 1),
            ).fetchall()
        finally:
            con.close()
        arr = np.asarray(rows, dtype=np.int64).reshape(-1, 2)
        return last, arr[:, 0], arr[:, 1]

    def runs(self) -> pd.DataFrame:
        """One row per run."""
        con = self._connect()
        try:
            return pd.read_sql_query("SELECT * FROM runs ORDER BY created", con)
        finally:
            con.close()

    def measurements(self) -> pd.DataFrame:
        """Tidy table with columns ``EXPORT_COLUMNS``."""
        con = self._connect()
        try:
            return pd.read_sql_query(
                "SELECT r.dataset, r.model, r.strategy, r.seed, m.round, m.n_labeled, "
                "m.metric, m.value FROM measurements m JOIN runs r USING (run_id) "
                "ORDER BY r.dataset, r.model, r.strategy, r.seed, m.round, m.metric",
                con,
            )
        finally:
            con.close()

    def export_csv(self, path: str | os.PathLike[str]) -> int:
        """Write `measurements` to CSV; return the number of rows."""
        df = self.measurements()
        df[EXPORT_COLUMNS].to_csv(path, index=False)
        return len(df)


def open_results(path: str | os.PathLike[str]) -> ResultStore:
    """Open (or create) a results database, refusing a damaged one.

    Raises:
        InvalidParameterError: The file is not an SQLite database or fails
            SQLite's ``quick_check``; the message says how to recover.
    """
    path = Path(path)
    fix = (
        f"Move it aside (e.g. mv {path} {path}.damaged) and rerun to start "
        "over, or restore it from a copy."
    )
    try:
        if path.exists():
            con = sqlite3.connect(path)
            try:
                rows = con.execute("PRAGMA quick_check").fetchall()
            finally:
                con.close()
            if rows != [("ok",)]:
                detail = "; ".join(str(r[0]) for r in rows[:3])
                raise InvalidParameterError(f"{path} is damaged ({detail}). {fix}")
        return ResultStore(path)
    except sqlite3.DatabaseError as exc:
        raise InvalidParameterError(f"{path} is damaged ({exc}). {fix}") from None
