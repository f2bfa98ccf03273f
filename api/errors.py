"""One JSON shape for every error: ``{"error": {"code", "message", "detail"}}``."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

from fastapi import FastAPI, Request
from fastapi.encoders import jsonable_encoder
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from planner.errors import InputError, NotFound, OutOfReach

log = logging.getLogger(__name__)

# Error codes a client can branch on; the message is for people and may change.
CODES: dict[int, str] = {
    400: "bad_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    406: "not_acceptable",
    413: "payload_too_large",
    415: "unsupported_media_type",
    422: "validation_error",
    429: "busy",
    500: "internal_error",
}

# English messages in one place (Chinese labels for people live in planner.text).
MESSAGES: dict[str, str] = {
    "no_route": "no endpoint {method} {path}; see /docs for the API",
    "limit": "{field} = {value:g} is more than the limit {limit} = {maximum:g}",
    "validation": "invalid request: {summary}",
    "unauthorized": "this endpoint needs a valid API key in the X-API-Key header",
    "busy": "{running} suggestions or isochrones are being computed already (limit {limit} = "
    "{maximum}); retry in a few seconds",
    "busy_scenario": "{running} scenarios or suggestions are being computed ({limit} = "
    "{maximum}); retry shortly",
    "work": "this isochrone asks for {work:,.0f} units of work ({points} points x {minutes:g} "
    "minutes x {edges:,} road edges), more than the limit max_isochrone_work = {maximum:,.0f}; "
    "ask for fewer points or minutes",
    "internal": "internal error; the server log has the details",
}


class ApiError(Exception):
    """An error answered with ``status`` and the common JSON shape."""

    def __init__(
        self,
        status: int,
        code: str,
        message: str,
        detail: Any = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.detail = detail
        self.headers = headers


def field_error(loc: Sequence[str | int], message: str, kind: str = "value_error") -> ApiError:
    """422 for one bad field, in the same shape as request validation errors."""
    item = {"loc": list(loc), "field": str(loc[-1]), "message": message, "type": kind}
    summary = f"{'.'.join(str(p) for p in loc)}: {message}"
    return ApiError(422, "validation_error", MESSAGES["validation"].format(summary=summary), [item])


def limit_exceeded(loc: Sequence[str | int], value: float, limit: str, maximum: float) -> ApiError:
    """422 naming the server limit that a request exceeds."""
    message = MESSAGES["limit"].format(field=loc[-1], value=value, limit=limit, maximum=maximum)
    detail = {
        "loc": list(loc),
        "field": str(loc[-1]),
        "limit": limit,
        "maximum": maximum,
        "value": value,
    }
    return ApiError(422, "limit_exceeded", message, detail)


def not_found(exc: NotFound, loc: Sequence[str | int] | None = None) -> ApiError:
    """404 for a name or code that matches nothing, with the close names; ``loc`` names the
    query or body field that gave it (a name in the path needs none)."""
    detail: dict[str, Any] = {
        "kind": exc.kind,
        "value": exc.value,
        "did_you_mean": exc.did_you_mean,
        "known": exc.known,
    }
    if loc is not None:
        detail = {"loc": list(loc), "field": str(loc[-1]), **detail}
    return ApiError(404, "not_found", str(exc), detail)


def _body(code: str, message: str, detail: Any = None) -> dict[str, Any]:
    return {"error": {"code": code, "message": message, "detail": jsonable_encoder(detail)}}


async def _api_error(_: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, ApiError)
    return JSONResponse(_body(exc.code, exc.message, exc.detail), exc.status, headers=exc.headers)


async def _not_found(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, NotFound)
    return await _api_error(request, not_found(exc))


async def _out_of_reach(_: Request, exc: Exception) -> JSONResponse:
    # The point at fault: the query's lon, or the position in a request's locations.
    assert isinstance(exc, OutOfReach)
    loc = ["query", "lon"] if exc.index is None else ["body", "locations", exc.index]
    return JSONResponse(_body(exc.code, str(exc), {"loc": loc, **exc.detail}), 422)


async def _input_error(_: Request, exc: Exception) -> JSONResponse:
    # The library's own words for a user mistake (e.g. "k = 60 is more than the 34 usable
    # candidates"): the request was understood but cannot be answered as asked.
    # NoCandidates carries its counts per reason (planner.errors): structured, not in prose only.
    return JSONResponse(_body("invalid_request", str(exc), getattr(exc, "detail", None)), 422)


async def _validation_error(_: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    items = []
    for err in exc.errors():
        loc = [p for p in err.get("loc", ()) if p != "__root__"]
        field = next((str(p) for p in reversed(loc) if isinstance(p, str)), "request")
        item = {
            "loc": loc,
            "field": field,
            "message": err.get("msg", "invalid"),
            "type": err.get("type", "value_error"),
        }
        # FastAPI validates a failed dependency again wherever it is declared (the region of
        # a route that also takes a town): each error once.
        if item not in items:
            items.append(item)
    summary = "; ".join(f"{'.'.join(str(p) for p in i['loc'])}: {i['message']}" for i in items[:5])
    return JSONResponse(
        _body("validation_error", MESSAGES["validation"].format(summary=summary), items), 422
    )


async def _http_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)
    code = CODES.get(exc.status_code, "error")
    message = str(exc.detail)
    if exc.status_code == 400 and message == "There was an error parsing the body":
        # FastAPI's answer to bytes that are not JSON; a body problem like any other: 422.
        items = [{"loc": ["body"], "field": "body", "message": message, "type": "json_invalid"}]
        text = MESSAGES["validation"].format(summary="body: not valid UTF-8 JSON")
        return JSONResponse(_body("validation_error", text, items), 422)
    if exc.status_code in (404, 405) and message in ("Not Found", "Method Not Allowed"):
        message = MESSAGES["no_route"].format(method=request.method, path=request.url.path)
    return JSONResponse(_body(code, message), exc.status_code, headers=exc.headers)


async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
    log.exception("unhandled error on %s %s", request.method, request.url.path, exc_info=exc)
    return JSONResponse(_body("internal_error", MESSAGES["internal"]), 500)


def install(app: FastAPI) -> None:
    """Answer every error of ``app`` in the common shape."""
    app.add_exception_handler(ApiError, _api_error)
    app.add_exception_handler(NotFound, _not_found)  # the library's domain errors
    app.add_exception_handler(OutOfReach, _out_of_reach)
    app.add_exception_handler(InputError, _input_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(StarletteHTTPException, _http_error)
    app.add_exception_handler(Exception, _unexpected)
