"""Response classes for GeoJSON and map pages."""

from __future__ import annotations

from typing import Any

from fastapi.responses import HTMLResponse, JSONResponse

from api.geojson import dumps


class GeoJSONResponse(JSONResponse):
    """``application/geo+json`` (RFC 7946); takes ready bytes or data to serialise."""

    media_type = "application/geo+json"

    def render(self, content: Any) -> bytes:
        if isinstance(content, bytes):
            return content
        return dumps(content)


class MapResponse(HTMLResponse):
    """A self-contained map page (Leaflet inlined: it needs no CDN)."""
