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
from typing import Any

from labelwise.app import LabelSession
from labelwise.app.server import create_app

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
