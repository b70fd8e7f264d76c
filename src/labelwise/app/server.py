"""The labeling app's web server (FastAPI; run with uvicorn).

Every ``/api`` request needs the session token (header ``X-Labelwise-Token`` or
query ``token``); the page takes it from its URL, which ``labelwise label serve``
prints. Items are addressed by number only, and an image is read only from the
file registered for that item, so no request can reach another path. Bad
requests get a 4xx answer with a sentence saying what was wrong, and change
nothing.
"""

from __future__ import annotations

import hmac
import secrets
from importlib import resources
from typing import Any

from fastapi import Request

from labelwise.app.session import LabelSession
from labelwise.exceptions import InvalidParameterError

MAX_UPLOAD_BYTES = 5 * 1024 * 1024
TOKEN_HEADER = "X-Labelwise-Token"


def new_token() -> str:
    """A random URL-safe session token."""
    return secrets.token_urlsafe(16)


def create_app(session: LabelSession, token: str) -> Any:
    """The FastAPI application serving ``session``.

    Args:
        session: A started :class:`LabelSession`.
        token: The session token every API request must carry.
    """
    from fastapi import Body, FastAPI, HTTPException
    from fastapi.responses import (
        HTMLResponse,
        JSONResponse,
        PlainTextResponse,
        Response,
    )

    if not token:
        raise InvalidParameterError("The session token must not be empty.")
    app = FastAPI(title="labelwise labeling app", docs_url=None, redoc_url=None)
    page = resources.files("labelwise.app").joinpath("page.html").read_text()

    @app.middleware("http")
    async def check_token(request: Request, call_next: Any) -> Any:
        if request.url.path.startswith("/api/"):
            given = request.headers.get(TOKEN_HEADER) or request.query_params.get(
                "token", ""
            )
            if not hmac.compare_digest(given.encode(), token.encode()):
                return JSONResponse(
                    {
                        "detail": "Missing or wrong session token: open the URL that "
                        "`labelwise label serve` printed (it carries ?token=...)."
                    },
                    status_code=401,
                )
        return await call_next(request)

    @app.exception_handler(InvalidParameterError)
    async def bad_input(request: Request, exc: InvalidParameterError) -> Any:
        return JSONResponse({"detail": str(exc)}, status_code=400)

    def _item(body: dict[str, Any]) -> Any:
        if not isinstance(body, dict) or "item" not in body:
            raise InvalidParameterError(
                'The request body must be JSON {"item": N, ...}.'
            )
        return body["item"]

    def _value(body: dict[str, Any]) -> Any:
        if "value" not in body:
            raise InvalidParameterError('The request body needs "value" (the label).')
        return body["value"]

    @app.get("/", response_class=HTMLResponse)
    def index() -> str:
        return page

    @app.get("/api/state")
    def state() -> dict[str, Any]:
        return session.snapshot()

    @app.get("/api/item/{item}/image")
    def image(item: int) -> Response:
        try:
            data, media = session.image_bytes(item)
        except InvalidParameterError as exc:
            raise HTTPException(404, str(exc)) from None
        return Response(
            data, media_type=media, headers={"Cache-Control": "max-age=3600"}
        )

    @app.get("/api/history")
    def history(limit: int = 50, offset: int = 0) -> list[dict[str, Any]]:
        if not 1 <= limit <= 1000 or offset < 0:
            raise InvalidParameterError("limit must be in [1, 1000] and offset >= 0.")
        return session.db.history(limit, offset)

    @app.post("/api/label")
    def label(body: dict[str, Any] = Body(...)) -> dict[str, Any]:  # noqa: B008
        session.label(_item(body), _value(body))
        return {"ok": True}

    @app.post("/api/skip")
    def skip(body: dict[str, Any] = Body(...)) -> dict[str, Any]:  # noqa: B008
        session.skip(_item(body))
        return {"ok": True}

    @app.post("/api/correct")
    def correct(body: dict[str, Any] = Body(...)) -> dict[str, Any]:  # noqa: B008
        session.correct(_item(body), _value(body))
        return {"ok": True}

    @app.post("/api/undo")
    def undo() -> dict[str, Any]:
        return {"undone": session.undo()}

    @app.post("/api/retrain")
    def retrain() -> dict[str, Any]:
        session.request_retrain()
        return {"ok": True}

    @app.get("/api/model.pkl")
    def model_file() -> Response:
        path = session.folder / session.MODEL_FILE
        if not path.exists():
            raise HTTPException(
                404, "No model yet: it is trained after the first batch."
            )
        return Response(
            path.read_bytes(),
            media_type="application/octet-stream",
            headers={"Content-Disposition": 'attachment; filename="model.pkl"'},
        )

    @app.get("/api/export.csv", response_class=PlainTextResponse)
    def export() -> Response:
        return PlainTextResponse(
            session.db.export_csv(),
            media_type="text/csv",
            headers={"Content-Disposition": 'attachment; filename="labels.csv"'},
        )

    @app.post("/api/import")
    async def import_csv(request: Request) -> dict[str, Any]:
        size = int(request.headers.get("content-length") or 0)
        if size > MAX_UPLOAD_BYTES:
            raise HTTPException(
                413, f"Uploads are limited to {MAX_UPLOAD_BYTES} bytes."
            )
        data = b""
        async for chunk in request.stream():
            data += chunk
            if len(data) > MAX_UPLOAD_BYTES:
                raise HTTPException(
                    413, f"Uploads are limited to {MAX_UPLOAD_BYTES} bytes."
                )
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError:
            raise InvalidParameterError("The upload must be UTF-8 CSV text.") from None
        return {"changed": session.import_csv(text)}

    return app


def is_loopback(host: str) -> bool:
    """Whether ``host`` only listens on this machine."""
    return host in ("127.0.0.1", "localhost", "::1") or host.startswith("127.")
