"""Concurrency and ordering: clients racing on one item, undo races, cut-off bodies.

The fuzz and durability tests drive one request at a time or kill the
server; these drive the session and the ASGI app from several threads at once
(started together at a barrier, no sleeps), and check that every acknowledged
write is stored exactly once with the value it acknowledged, and that nothing
else is.
"""

from __future__ import annotations

import asyncio
import json
import random
import sqlite3
import threading
from typing import Any

import pytest
from fastapi.testclient import TestClient

from labelwise import InvalidParameterError
from labelwise.app import LabelDB, LabelSession
from labelwise.app.server import create_app
from labelwise.app.store import DatabaseBusyError

TOKEN = "s3cret"


def _session(folder) -> LabelSession:
    return LabelSession(folder, background=False).start()


def _asgi_post_cut_off(app: Any, path: str, first_chunk: bytes) -> list[Any]:
    """POST ``first_chunk`` of a longer body, then the client disconnects."""
    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "POST",
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "query_string": b"",
        "root_path": "",
        "headers": [
            (b"x-labelwise-token", TOKEN.encode()),
            (b"content-length", str(len(first_chunk) + 20).encode()),
        ],
        "client": ("127.0.0.1", 1),
        "server": ("127.0.0.1", 80),
    }
    incoming = [
        {"type": "http.request", "body": first_chunk, "more_body": True},
        {"type": "http.disconnect"},
    ]
    sent: list[Any] = []

    async def receive() -> Any:
        if incoming:
            return incoming.pop(0)
        await asyncio.sleep(3600)  # pragma: no cover - a disconnected client

    async def send(message: Any) -> None:
        sent.append(message)

    asyncio.run(app(scope, receive, send))
    return sent


def test_body_cut_off_by_a_disconnect_is_a_4xx_not_an_asgi_exception(
    blobs_project,
):
    folder, _ = blobs_project
    session = _session(folder)
    try:
        app = create_app(session, TOKEN)
        item = session.db.queue()[0]["item"]
        before = session.db.events()
        for path in ("/api/label", "/api/import"):
            # before the fix starlette's ClientDisconnect escaped the route:
            # a 500 and an "Exception in ASGI application" traceback in the log
            sent = _asgi_post_cut_off(
                app, path, json.dumps({"item": item})[:6].encode()
            )
            start = next(m for m in sent if m["type"] == "http.response.start")
            assert start["status"] == 400
            body = b"".join(m.get("body", b"") for m in sent[1:])
            assert "closed the connection" in json.loads(body)["detail"]
        assert session.db.events() == before and session.db.labels() == {}
    finally:
        session.db.close()


def test_write_while_another_program_holds_the_lock_is_a_423_that_says_why(
    blobs_project,
):
    folder, _ = blobs_project
    session = _session(folder)
    # a short wait keeps the test fast (the default is BUSY_TIMEOUT_S)
    session.db.close()
    session.db = LabelDB(folder / "labels.sqlite", busy_timeout=0.05)
    other = sqlite3.connect(folder / "labels.sqlite", isolation_level=None)
    try:
        c = TestClient(create_app(session, TOKEN), raise_server_exceptions=False)
        c.headers["X-Labelwise-Token"] = TOKEN
        item = session.db.queue()[0]["item"]
        other.execute("BEGIN IMMEDIATE")  # e.g. a SQLite tool's open transaction
        # before the fix: sqlite3.OperationalError, a bare 500
        r = c.post("/api/label", json={"item": item, "value": "neg"})
        assert r.status_code == 423 and r.headers["Retry-After"] == "1"
        assert "locked by another program" in r.json()["detail"]
        assert c.get("/api/state").status_code == 200  # reads go on
        with pytest.raises(DatabaseBusyError, match="Nothing was changed"):
            session.db.import_rows([(item, "pos")])
        other.execute("ROLLBACK")
        r = c.post("/api/label", json={"item": item, "value": "neg"})
        assert r.status_code == 200 and session.db.labels() == {item: "neg"}
        assert [e["action"] for e in session.db.events()] == ["label"]
    finally:
        other.close()
        session.db.close()


def test_busy_timeout_is_validated(tmp_path):
    for bad in (0, -1.0, True, "5", float("nan"), 1e9):
        with pytest.raises(InvalidParameterError, match="busy_timeout"):
            LabelDB(tmp_path / "x.sqlite", busy_timeout=bad)


def _replayed(events: list[dict[str, Any]]) -> dict[int, str]:
    """The labels the event log implies (label, correct, import, undo)."""
    labels: dict[int, str] = {}
    for e in events:
        if e["action"] in ("label", "correct") or (
            e["action"] == "import" and e["item"] is not None
        ):
            labels[e["item"]] = e["value"]
        elif e["action"] == "undo" and e["value"] == "label":
            del labels[e["item"]]
        elif e["action"] == "undo" and e["value"] == "correct":
            labels[e["item"]] = e["previous"]
    return labels


def test_racing_label_undo_correct_skip_on_one_item_keep_the_log_true(
    blobs_project,
):
    folder, _ = blobs_project
    session = _session(folder)
    rng = random.Random(0)
    try:
        for _ in range(12):
            item = rng.choice([q["item"] for q in session.db.queue()])
            undone: list[Any] = []
            actions = [
                lambda i=item: session.label(i, "neg"),
                lambda i=item: session.label(i, "pos"),
                lambda i=item: session.skip(i),
                lambda i=item: session.correct(i, "pos"),
                lambda u=undone: u.append(session.undo()),
            ]
            results = _race(actions)
            assert all(r in ("ok", "refused") for r in results), results
            # the item was open: one of label / label / skip wins, a second
            # only when the undo reopened the item in between
            reopened = bool(undone) and (undone[0] or {}).get("item") == item
            assert 1 <= sum(r == "ok" for r in results[:3]) <= 1 + reopened, results
        labels = session.db.labels()
        assert _replayed(session.db.events()) == labels
        done = {q["item"] for q in session.db.queue(status="done")}
        assert done == set(labels)
    finally:
        session.db.close()


def _race(actions: list[Any]) -> list[str]:
    """Run ``actions`` on threads released together; "ok", "refused" or the error."""
    barrier = threading.Barrier(len(actions))
    results = [""] * len(actions)

    def run(k: int) -> None:
        barrier.wait()
        try:
            actions[k]()
            results[k] = "ok"
        except InvalidParameterError:
            results[k] = "refused"
        except Exception as exc:  # reported by the caller's assertion
            results[k] = repr(exc)

    threads = [threading.Thread(target=run, args=(k,)) for k in range(len(actions))]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    return results


def test_replayed_label_is_refused_and_says_which_label_landed(blobs_project):
    folder, _ = blobs_project
    session = _session(folder)
    try:
        c = TestClient(create_app(session, TOKEN))
        c.headers["X-Labelwise-Token"] = TOKEN
        item = session.db.queue()[0]["item"]
        body = {"item": item, "value": "pos"}
        assert c.post("/api/label", json=body).status_code == 200
        # a client whose answer was lost sends it again: refused, nothing
        # stored twice, and the answer names the stored label
        r = c.post("/api/label", json={"item": item, "value": "neg"})
        assert r.status_code == 400
        assert "already done, labeled 'pos'" in r.json()["detail"]
        events = [e for e in session.db.events() if e["action"] == "label"]
        assert [(e["item"], e["value"]) for e in events] == [(item, "pos")]
        assert session.db.labels() == {item: "pos"}
    finally:
        session.db.close()
