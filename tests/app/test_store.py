"""The SQLite store: one transaction per action, undo, corrections, import."""

from __future__ import annotations

import sqlite3

import pytest

from labelwise import InvalidParameterError
from labelwise.app import LabelDB


@pytest.fixture
def db(tmp_path):
    d = LabelDB(tmp_path / "l.sqlite", strategy="entropy")
    d.enqueue([3, 1, 4], [0.9, 0.5, None], ["a", "b", None], 1, 0)
    return d


def test_wal_mode_and_queue_order(db, tmp_path):
    con = sqlite3.connect(tmp_path / "l.sqlite")
    assert con.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert [q["item"] for q in db.queue()] == [3, 1, 4]
    assert db.queue()[0]["score"] == 0.9 and db.queue()[2]["guess"] is None
    # items already queued or labeled are not queued again
    db.label(3, "x")
    assert db.enqueue([3, 1, 9], [None] * 3, [None] * 3, 2, 1) == 1


def test_label_skip_undo_correct_and_their_events(db):
    db.label(3, "x")
    db.skip(1)
    assert db.labels() == {3: "x"} and [q["item"] for q in db.queue()] == [4]
    assert db.undo() == {"item": 1, "action": "skip"}
    assert [q["item"] for q in db.queue()] == [1, 4]
    db.correct(3, "y")
    assert db.labels() == {3: "y"}
    assert db.undo() == {"item": 3, "action": "correct"}
    assert db.labels() == {3: "x"}
    assert db.undo() == {"item": 3, "action": "label"}
    assert db.labels() == {} and [q["item"] for q in db.queue()] == [3, 1, 4]
    assert db.undo() is None
    actions = [(e["action"], e["item"], e["undone"]) for e in db.events()]
    assert actions == [
        ("label", 3, 1),
        ("skip", 1, 1),
        ("undo", 1, 0),
        ("correct", 3, 1),
        ("undo", 3, 0),
        ("undo", 3, 0),
    ]
    assert all(e["strategy"] == "entropy" and e["round"] == 1 for e in db.events())


def test_bad_actions_change_nothing(db):
    before = (db.labels(), db.queue(status=None), db.events())
    with pytest.raises(InvalidParameterError, match="not in the queue"):
        db.label(99, "x")
    db.label(3, "x")
    before = (db.labels(), db.queue(status=None), db.events())
    with pytest.raises(InvalidParameterError, match="already done"):
        db.label(3, "y")
    with pytest.raises(InvalidParameterError, match="no label to correct"):
        db.correct(1, "y")
    with pytest.raises(InvalidParameterError, match="already done"):
        db.skip(3)
    assert (db.labels(), db.queue(status=None), db.events()) == before


def test_export_then_import_round_trips(db, tmp_path):
    db.label(3, "x")
    db.label(1, "y")
    text = db.export_csv()
    assert text.splitlines() == ["item,label,round", "1,y,1", "3,x,1"]
    other = LabelDB(tmp_path / "o.sqlite")
    other.enqueue([1, 3, 4], [None] * 3, [None] * 3, 1, 0)
    assert other.import_rows([(1, "y"), (3, "x")]) == 2
    assert other.labels() == {1: "y", 3: "x"}
    assert [q["item"] for q in other.queue()] == [4]
    assert other.import_rows([(1, "y"), (3, "z")]) == 1  # unchanged rows skipped
    assert [e["previous"] for e in other.events()][-1] == "x"


def test_a_failing_transaction_rolls_back(db):
    with pytest.raises(RuntimeError), db._tx() as con:
        con.execute("INSERT INTO labels VALUES (4, 'x', 1, 0)")
        raise RuntimeError("crash mid-transaction")
    assert db.labels() == {}
