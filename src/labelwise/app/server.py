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
import ipaddress
import json
import re
import secrets
import socket
from importlib import resources
from typing import TYPE_CHECKING, Any

from fastapi import Request

from labelwise.app.checks import item_from_text, shown
from labelwise.app.session import ImageMissingError, LabelSession
from labelwise.app.store import DatabaseBusyError, UndoRefusedError
from labelwise.exceptions import InvalidParameterError

if TYPE_CHECKING:
    from fastapi import FastAPI

MAX_UPLOAD_BYTES = 5 * 1024 * 1024
"""Largest CSV import body."""
MAX_BODY_BYTES = 64 * 1024
"""Largest body of every other request (JSON actions)."""
TOKEN_HEADER = "X-Labelwise-Token"
_QUERY_INT = re.compile(r"[0-9]{1,9}")


class BodyTooLargeError(InvalidParameterError):
    """A request body over its limit (answered with 413)."""


def new_token() -> str:
    """A random URL-safe session token."""
    return secrets.token_urlsafe(16)


def body_limit(path: str) -> int:
    """The largest body accepted for a request to ``path``."""
    return MAX_UPLOAD_BYTES if path == "/api/import" else MAX_BODY_BYTES


async def read_body(request: Request) -> bytes:
    """The request body, refused once it grows past `body_limit`.

    Raises:
        BodyTooLargeError: the body grew past the limit (413).
        InvalidParameterError: the client closed the connection before the
            whole body arrived (400; nothing is changed, and the server logs
            no traceback).
    """
    from starlette.requests import ClientDisconnect

    limit = body_limit(request.url.path)
    data = bytearray()
    try:
        async for chunk in request.stream():
            data += chunk
            if len(data) > limit:
                raise BodyTooLargeError(
                    f"Request bodies to {request.url.path} are limited to {limit} "
                    "bytes."
                )
    except ClientDisconnect:
        raise InvalidParameterError(
            f"The client closed the connection after {len(data)} bytes of the "
            f"request body to {request.url.path}, before the whole body "
            "arrived; nothing was changed. Send the request again."
        ) from None
    return bytes(data)


def _no_constant(name: str) -> Any:
    raise InvalidParameterError(
        f"The body is not standard JSON: {name} is not a JSON number; send a "
        "finite number."
    )


def parse_json_object(data: bytes) -> dict[str, Any]:
    """A JSON object from a request body (``NaN``/``Infinity`` refused).

    Raises:
        InvalidParameterError: not UTF-8, not JSON, or not an object.
    """
    try:
        body = json.loads(data.decode("utf-8"), parse_constant=_no_constant)
    except InvalidParameterError:
        raise
    except (UnicodeDecodeError, ValueError, RecursionError) as exc:
        raise InvalidParameterError(
            f'The request body must be a JSON object such as {{"item": 3, '
            f'"value": "cat"}}; it is not valid JSON ({shown(str(exc), 80)}).'
        ) from None
    if not isinstance(body, dict):
        raise InvalidParameterError(
            'The request body must be a JSON object such as {"item": 3, '
            f'"value": "cat"}}; got a JSON {type(body).__name__}.'
        )
    return body


def query_int(request: Request, name: str, default: int, lo: int, hi: int) -> int:
    """Query parameter ``name``: digits only, within ``[lo, hi]``."""
    text = request.query_params.get(name)
    if text is None:
        return default
    if not _QUERY_INT.fullmatch(text) or not lo <= int(text) <= hi:
        raise InvalidParameterError(
            f"The query parameter {name} must be a whole number in [{lo}, {hi}]; "
            f"got {shown(text)}."
        )
    return int(text)


def _item(body: dict[str, Any]) -> Any:
    if "item" not in body:
        raise InvalidParameterError('The request body needs "item" (the item number).')
    return body["item"]


def _value(body: dict[str, Any]) -> Any:
    if "value" not in body:
        raise InvalidParameterError('The request body needs "value" (the label).')
    return body["value"]


def create_app(session: LabelSession, token: str) -> Any:
    """The FastAPI application serving ``session``.

    Every request body is capped (`MAX_BODY_BYTES`; imports
    `MAX_UPLOAD_BYTES`, answered with 413 beyond), every field is
    checked by type (`labelwise.app.checks`), and every bad request gets a
    4xx answer whose ``detail`` says what was wrong. There is no OpenAPI
    schema or docs page.

    Args:
        session: A started `LabelSession`.
        token: The session token every API request must carry.
    """
    from fastapi import FastAPI

    if not token:
        raise InvalidParameterError("The session token must not be empty.")
    app = FastAPI(
        title="labelwise labeling app",
        docs_url=None,
        redoc_url=None,
        openapi_url=None,
    )
    _add_guards(app, token)
    _add_read_routes(app, session)
    _add_write_routes(app, session)
    return app


def _add_guards(app: FastAPI, token: str) -> None:
    """The token and body-size check on every request, and the 4xx answers."""
    from fastapi.exceptions import RequestValidationError
    from fastapi.responses import JSONResponse

    @app.middleware("http")
    async def check_token_and_size(request: Request, call_next: Any) -> Any:
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
        length = request.headers.get("content-length")
        limit = body_limit(request.url.path)
        if length is not None and not (length.isascii() and length.isdigit()):
            return JSONResponse(
                {"detail": f"Bad Content-Length header {shown(length)}."}, 400
            )
        if length is not None and int(length) > limit:
            return JSONResponse(
                {
                    "detail": f"Request bodies to {request.url.path} are limited "
                    f"to {limit} bytes; got {length}."
                },
                status_code=413,
            )
        return await call_next(request)

    @app.exception_handler(InvalidParameterError)
    async def bad_input(request: Request, exc: InvalidParameterError) -> Any:
        status = 400
        if isinstance(exc, BodyTooLargeError):
            status = 413
        elif isinstance(exc, UndoRefusedError):
            status = 409
        elif isinstance(exc, ImageMissingError):
            status = 410
        return JSONResponse({"detail": str(exc)}, status_code=status)

    @app.exception_handler(DatabaseBusyError)
    async def busy(request: Request, exc: DatabaseBusyError) -> Any:
        # the project's file is locked by another program: 423 Locked (a 4xx, as
        # every refused request here), with when to try again
        return JSONResponse(
            {"detail": str(exc)}, status_code=423, headers={"Retry-After": "1"}
        )

    @app.exception_handler(RequestValidationError)
    async def bad_request(request: Request, exc: RequestValidationError) -> Any:
        # the default answer echoes the input, which may not be valid JSON
        what = "; ".join(
            f"{'.'.join(str(p) for p in e.get('loc', ()))}: {e.get('msg', '')}"
            for e in exc.errors()
        )
        return JSONResponse({"detail": f"Bad request: {shown(what, 300)}"}, 422)


def _add_read_routes(app: FastAPI, session: LabelSession) -> None:
    """The page and the GET endpoints: state, images, history, model, export."""
    from fastapi import HTTPException
    from fastapi.responses import HTMLResponse, Response

    page = resources.files("labelwise.app").joinpath("page.html").read_text()

    @app.get("/", response_class=HTMLResponse)
    def index() -> str:
        return page

    @app.get("/api/state")
    def state() -> dict[str, Any]:
        return session.snapshot()

    @app.get("/api/item/{item}/image")
    def image(item: str) -> Response:
        try:
            data, media = session.image_bytes(item_from_text(item, session.n_items))
        except ImageMissingError:
            raise
        except InvalidParameterError as exc:
            raise HTTPException(404, str(exc)) from None
        return Response(
            data, media_type=media, headers={"Cache-Control": "max-age=3600"}
        )

    @app.get("/api/history")
    def history(request: Request) -> list[dict[str, Any]]:
        limit = query_int(request, "limit", 50, 1, 1000)
        offset = query_int(request, "offset", 0, 0, 10**9)
        return session.db.history(limit, offset)

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

    @app.get("/api/export.csv")
    def export() -> Response:
        return Response(
            session.db.export_csv(),
            media_type="text/csv",
            headers={"Content-Disposition": 'attachment; filename="labels.csv"'},
        )


async def _json_body(request: Request) -> dict[str, Any]:
    return parse_json_object(await read_body(request))


def _add_write_routes(app: FastAPI, session: LabelSession) -> None:
    """The POST endpoints: label, skip, correct, undo, retrain, import."""
    from starlette.concurrency import run_in_threadpool

    @app.post("/api/label")
    async def label(request: Request) -> dict[str, Any]:
        body = await _json_body(request)
        await run_in_threadpool(session.label, _item(body), _value(body))
        return {"ok": True}

    @app.post("/api/skip")
    async def skip(request: Request) -> dict[str, Any]:
        body = await _json_body(request)
        await run_in_threadpool(session.skip, _item(body))
        return {"ok": True}

    @app.post("/api/correct")
    async def correct(request: Request) -> dict[str, Any]:
        body = await _json_body(request)
        await run_in_threadpool(session.correct, _item(body), _value(body))
        return {"ok": True}

    @app.post("/api/undo")
    def undo() -> dict[str, Any]:
        return {"undone": session.undo()}

    @app.post("/api/retrain")
    def retrain() -> dict[str, Any]:
        session.request_retrain()
        return {"ok": True}

    @app.post("/api/import")
    async def import_csv(request: Request) -> dict[str, Any]:
        data = await read_body(request)
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError:
            raise InvalidParameterError("The upload must be UTF-8 CSV text.") from None
        return {"changed": await run_in_threadpool(session.import_csv, text)}


def is_loopback(host: str) -> bool:
    """Whether serving on ``host`` is reachable only from this machine.

    An address is parsed with `ipaddress`; a name is resolved, and counts
    as loopback only when it resolves and every address it resolves to is a
    loopback address (``127.evil.example`` does not resolve to one, so it is
    not loopback whatever it starts with).
    """
    text = host.strip("[]")
    try:
        return ipaddress.ip_address(text).is_loopback
    except ValueError:
        pass
    try:
        infos = socket.getaddrinfo(text, None, proto=socket.IPPROTO_TCP)
    except (OSError, UnicodeError):
        return False
    addrs = {str(info[4][0]).split("%")[0] for info in infos}
    return bool(addrs) and all(ipaddress.ip_address(a).is_loopback for a in addrs)


def resolve_address(host: str, port: int) -> tuple[int, int, int, Any]:
    """Socket family, type, protocol and address to listen on ``host:port``.

    Raises:
        InvalidParameterError: the port is out of range or the host does not
            resolve.
    """
    if not 1 <= port <= 65535:
        raise InvalidParameterError(f"--port must be in [1, 65535]; got {port}.")
    try:
        infos = socket.getaddrinfo(
            host.strip("[]"), port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE
        )
    except (OSError, UnicodeError) as exc:
        raise InvalidParameterError(
            f"--host {host!r} is not an address of this machine ({exc}); use e.g. "
            "127.0.0.1."
        ) from None
    family, kind, proto, _, addr = infos[0]
    return family, kind, proto, addr


def bind_socket(host: str, port: int) -> socket.socket:
    """A listening TCP socket on ``host:port``, or a clear error.

    ``labelwise label serve`` binds first and opens the project only once this
    succeeded, so a busy port, an impossible port or a bad host changes
    nothing in the project.

    Raises:
        InvalidParameterError: the port is out of range, the host does not
            resolve, or the address cannot be bound (in use, not local).
    """
    family, kind, proto, addr = resolve_address(host, port)
    sock = socket.socket(family, kind, proto)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(addr)
        sock.listen(128)
    except OSError as exc:
        sock.close()
        raise InvalidParameterError(
            f"Cannot listen on {host}:{port} ({exc.strerror or exc}); is another "
            "server using the port? Pick another with --port."
        ) from None
    sock.set_inheritable(True)
    return sock
