"""Serves the counter page and its two static files, with a strict content security policy."""

from __future__ import annotations

from pathlib import Path

from fastapi import APIRouter, Response
from fastapi.responses import FileResponse

from app.errors import NotFound
from app.routing import AuthFirstRoute

STATIC = Path(__file__).parent / "static"
FILES = {"counter.css": "text/css; charset=utf-8", "counter.js": "text/javascript; charset=utf-8"}
# Same-origin scripts and styles only, no inline script, no framing: the page handles access tokens.
SECURITY_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; img-src 'self';"
        " form-action 'self'; base-uri 'none'; frame-ancestors 'none'"
    ),
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-cache",
}

router = APIRouter(route_class=AuthFirstRoute, include_in_schema=False)


@router.get("/counter")
async def counter_page() -> Response:
    return FileResponse(
        STATIC / "counter.html", media_type="text/html; charset=utf-8", headers=SECURITY_HEADERS
    )


@router.get("/counter/static/{name}")
async def counter_file(name: str) -> Response:
    media_type = FILES.get(name)
    if media_type is None:  # a fixed list: no path from the request ever reaches the file system
        raise NotFound("no such file")
    return FileResponse(STATIC / name, media_type=media_type, headers=SECURITY_HEADERS)
