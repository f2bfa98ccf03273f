"""The FastAPI application: settings, regions loaded at start-up, middleware and routers."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from fastapi import FastAPI
from fastapi.concurrency import run_in_threadpool
from fastapi.middleware.gzip import GZipMiddleware
from fastapi.openapi.docs import get_redoc_html, get_swagger_ui_html
from fastapi.responses import HTMLResponse
from fastapi.staticfiles import StaticFiles

from api import errors
from api.config import load_settings
from api.deps import API_KEY_HEADER
from api.models import ErrorResponse
from api.routers import audit as audit_router
from api.routers import compare as scenarios
from api.routers import gaps, isochrone, maps, meta, regions, sites, suggest, towns
from api.security import BodyLimit, HtmlPolicy, JsonCORSMiddleware
from api.state import RegionStore
from planner import __version__
from planner.runtime import freeze_loaded

DESCRIPTION = """
Which residents of a county are outside the 15-minute circle of civilization-practice sites
(新时代文明实践中心/所/站/基地/志愿服务站点/家庭站), and where new sites would help.

Regions are loaded and analysed once at start-up; answers come from memory. Geometry is
GeoJSON in WGS84. Towns and villages are addressed by Chinese name or 12-digit code; a name
in a URL is percent-encoded (青山乡 is `%E9%9D%92%E5%B1%B1%E4%B9%A1`; `curl -G
--data-urlencode` encodes a query), as HTTP carries only ASCII in a URL.

```bash
curl http://127.0.0.1:8000/regions/sample
curl "http://127.0.0.1:8000/regions/sample/towns/%E9%9D%92%E5%B1%B1%E4%B9%A1/gaps?tier=station"
curl -G http://127.0.0.1:8000/regions/sample/sites --data-urlencode tier=站
curl "http://127.0.0.1:8000/regions/sample/isochrone?lon=117.2476&lat=28.2649&minutes=15"
curl -X POST http://127.0.0.1:8000/regions/sample/suggest \\
     -H 'Content-Type: application/json' -d '{"k": 5, "town": "青山乡"}'
```

Every error has the shape `{"error": {"code", "message", "detail"}}`. When the server has
an API key, every endpoint that computes on request (`/suggest`, `/compare`, `/isochrone`,
gaps with a `mode` or `minutes` of their own, maps with proposals) needs it in the
`X-API-Key` header; a map opened without it shows no proposals by default, and one asked
for `k` > 0 without it is a 401.
"""

STATIC = Path(__file__).resolve().parent / "static"
"""Swagger UI and ReDoc files served by the app itself, so /docs works with no network."""

REF_TEMPLATE = "#/components/schemas/{model}"

TAGS = [
    {"name": "regions", "description": "Loaded regions and their headline figures."},
    {"name": "towns", "description": "Coverage of towns (乡镇) and villages (村/社区)."},
    {"name": "gaps", "description": "Gap areas (服务空白区) as GeoJSON."},
    {"name": "sites", "description": "Existing sites as GeoJSON."},
    {"name": "isochrone", "description": "Service areas of arbitrary points."},
    {"name": "suggest", "description": "Proposed new sites (建议新建站点)."},
    {"name": "maps", "description": "Interactive maps for people (HTML)."},
    {"name": "meta", "description": "Health."},
]


def create_app(
    config_path: str | Path | None = None, *, store: RegionStore | None = None
) -> FastAPI:
    """Build the app; regions load when it starts (uvicorn's lifespan), not here.

    Parameters
    ----------
    config_path
        TOML settings (see :mod:`api.config`); default ``$SERVICECIRCLE_CONFIG``, else the
        bundled sample county with default limits.
    store
        Regions loaded already (``servicecircle serve`` loads them first, so a bad region
        is one error line rather than a failed start-up).
    """
    settings = load_settings(config_path)
    if not logging.getLogger().handlers:
        logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        app.state.store = store or await run_in_threadpool(RegionStore.load, settings)
        freeze_loaded()  # the served regions live as long as the server: out of full collections
        yield

    app = FastAPI(
        title="servicecircle",
        version=__version__,
        summary="15-minute service circles of civilization-practice sites (15分钟服务圈)",
        description=DESCRIPTION,
        openapi_tags=TAGS,
        lifespan=lifespan,
        docs_url=None,
        redoc_url=None,
    )
    app.state.settings = settings
    errors.install(app)
    app.add_middleware(GZipMiddleware, minimum_size=4096, compresslevel=5)
    app.add_middleware(HtmlPolicy)
    if settings.cors.origins:
        app.add_middleware(
            JsonCORSMiddleware,
            allow_origins=settings.cors.origins,
            allow_methods=["GET", "POST"],
            allow_headers=["Content-Type", API_KEY_HEADER],
        )
    app.add_middleware(BodyLimit, max_bytes=settings.limits.max_body_bytes)
    for module in (meta, regions, towns, gaps, sites, isochrone, suggest, maps):
        app.include_router(module.router)
    app.include_router(audit_router.router)
    app.include_router(scenarios.router)  # compare and the town report
    _local_docs(app)
    _document_errors(app)
    return app


def _local_docs(app: FastAPI) -> None:
    # FastAPI's /docs and /redoc load their scripts from a CDN: blank pages offline.
    app.mount("/static-docs", StaticFiles(directory=STATIC), name="static-docs")

    @app.get("/docs", include_in_schema=False)
    async def swagger() -> HTMLResponse:
        return get_swagger_ui_html(
            openapi_url=app.openapi_url or "/openapi.json",
            title=f"{app.title} — API",
            swagger_js_url="/static-docs/swagger-ui-bundle.js",
            swagger_css_url="/static-docs/swagger-ui.css",
            swagger_favicon_url="/static-docs/favicon-32x32.png",
        )

    @app.get("/redoc", include_in_schema=False)
    async def redoc() -> HTMLResponse:
        return get_redoc_html(
            openapi_url=app.openapi_url or "/openapi.json",
            title=f"{app.title} — API",
            redoc_js_url="/static-docs/redoc.standalone.js",
            redoc_favicon_url="/static-docs/favicon-32x32.png",
            with_google_fonts=False,
        )


def _document_errors(app: FastAPI) -> None:
    # Error responses reference ErrorResponse by $ref (see api.models.error_responses), so the
    # schema must be in the components even where no route names it as a model.
    build = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            schema = build()
            schemas = schema.setdefault("components", {}).setdefault("schemas", {})
            error = ErrorResponse.model_json_schema(ref_template=REF_TEMPLATE)
            for name, sub in error.pop("$defs", {}).items():
                schemas.setdefault(name, sub)
            schemas.setdefault("ErrorResponse", error)
            app.openapi_schema = schema
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
