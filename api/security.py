"""Guards around every request: body size, CORS refusals in the error shape, CSP for HTML."""

from __future__ import annotations

import base64
import hashlib
import json
import re
from typing import Any

from starlette.datastructures import Headers
from starlette.middleware.cors import CORSMiddleware
from starlette.responses import JSONResponse, Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

_INLINE_SCRIPT = re.compile(rb"<script(?![^>]*\bsrc=)[^>]*>(.*?)</script>", re.S | re.I)

TILE_HOSTS = "https://tile.openstreetmap.org https://*.tile.openstreetmap.org"
"""Where a map page may load background tiles from (the only outside requests it makes)."""


def error_body(code: str, message: str, detail: Any = None) -> bytes:
    """The common error shape as bytes (for answers made outside FastAPI's handlers)."""
    body = {"error": {"code": code, "message": message, "detail": detail}}
    return json.dumps(body, ensure_ascii=False).encode("utf-8")


def content_security_policy(page: bytes) -> str:
    """A Content-Security-Policy allowing exactly the inline scripts of ``page``, by hash.

    Nothing else runs: an ``<img onerror=...>`` or ``<script>`` smuggled into the page
    through data (which the maps escape anyway) is refused by the browser.
    """
    hashes = " ".join(
        "'sha256-" + base64.b64encode(hashlib.sha256(m.group(1)).digest()).decode() + "'"
        for m in _INLINE_SCRIPT.finditer(page)
    )
    return (
        "default-src 'none'; "
        f"script-src 'self' {hashes}; "
        "style-src 'self' 'unsafe-inline'; "
        f"img-src 'self' data: blob: {TILE_HOSTS}; "
        "font-src 'self' data:; connect-src 'self'; worker-src 'self' blob:; "
        "base-uri 'none'; form-action 'none'; frame-ancestors 'self'"
    )


class BodyLimit:
    """Refuse request bodies above ``max_bytes`` with 413, before they are read whole.

    A declared ``Content-Length`` above the limit is refused at once; a chunked body is
    counted as it arrives and refused when it passes the limit.
    """

    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        message = f"request body is larger than the limit max_body_bytes = {self.max_bytes:,} bytes"
        detail = {"limit": "max_body_bytes", "maximum": self.max_bytes}
        length = Headers(scope=scope).get("content-length")
        if length is not None and (not length.isdigit() or int(length) > self.max_bytes):
            await _send_error(send, 413, "payload_too_large", message, detail)
            return
        seen = 0
        started = refused = False

        async def limited_receive() -> Message:
            # Past the limit: answer 413 now and tell the app the client has gone (the
            # app's own body parser would turn an exception into a 400/422).
            nonlocal seen, refused
            if refused:
                return {"type": "http.disconnect"}
            msg = await receive()
            if msg["type"] == "http.request":
                seen += len(msg.get("body", b""))
                if seen > self.max_bytes:
                    refused = True
                    if not started:
                        await _send_error(send, 413, "payload_too_large", message, detail)
                    return {"type": "http.disconnect"}
            return msg

        async def tracking_send(msg: Message) -> None:
            nonlocal started
            if refused:
                return  # the 413 is the answer
            if msg["type"] == "http.response.start":
                started = True
            await send(msg)

        try:
            await self.app(scope, limited_receive, tracking_send)
        except Exception:
            if not refused:
                raise


async def _send_error(send: Send, status: int, code: str, message: str, detail: Any) -> None:
    body = error_body(code, message, detail)
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(body)).encode()),
                (b"connection", b"close"),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})


class JsonCORSMiddleware(CORSMiddleware):
    """Starlette's CORS handling, with refused preflights answered in the common error shape."""

    def preflight_response(self, request_headers: Headers) -> Response:
        response = super().preflight_response(request_headers)
        if response.status_code == 200:
            return response
        reason = bytes(response.body).decode("utf-8", "replace") if response.body else "refused"
        headers = {
            k: v for k, v in response.headers.items() if k.lower() not in ("content-length",)
        }
        headers.pop("content-type", None)
        return JSONResponse(
            {
                "error": {
                    "code": "cors_refused",
                    "message": f"cross-origin request refused: {reason}",
                    "detail": {
                        "origin": request_headers.get("origin"),
                        "method": request_headers.get("access-control-request-method"),
                        "headers": request_headers.get("access-control-request-headers"),
                    },
                }
            },
            status_code=403,
            headers=headers,
        )


class HtmlPolicy:
    """Add a Content-Security-Policy (by script hash) and ``nosniff`` to every HTML answer."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        start: Message | None = None
        chunks: list[bytes] = []

        async def wrapped(msg: Message) -> None:
            nonlocal start
            if msg["type"] == "http.response.start":
                headers = Headers(raw=msg["headers"])
                is_html = headers.get("content-type", "").startswith("text/html")
                if not is_html or headers.get("content-security-policy"):
                    await send(_with_header(msg, b"x-content-type-options", b"nosniff"))
                    return
                start = msg
                return
            if start is None:
                await send(msg)
                return
            chunks.append(msg.get("body", b""))
            if msg.get("more_body"):
                return
            body = b"".join(chunks)
            headers = Headers(raw=start["headers"])
            page = body
            if headers.get("content-encoding") == "gzip":
                import gzip

                page = gzip.decompress(body)
            policy = content_security_policy(page).encode()
            out = _with_header(start, b"content-security-policy", policy)
            await send(_with_header(out, b"x-content-type-options", b"nosniff"))
            await send({"type": "http.response.body", "body": body})

        await self.app(scope, receive, wrapped)


def _with_header(msg: Message, name: bytes, value: bytes) -> Message:
    headers = [(k, v) for k, v in msg["headers"] if k.lower() != name]
    return {**msg, "headers": [*headers, (name, value)]}
