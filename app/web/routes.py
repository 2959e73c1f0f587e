"""Serves the counter page, the sign-in page (`/signin`) and their static files, with a strict content
security policy."""

from __future__ import annotations

from pathlib import Path

from fastapi import APIRouter, Response
from fastapi.responses import FileResponse

from app.errors import NotFound
from app.routing import AuthFirstRoute

STATIC = Path(__file__).parent / "static"
SCRIPT, STYLE = "text/javascript; charset=utf-8", "text/css; charset=utf-8"
# person-sign-in.js is the one sign-in both pages share; the sign-in page borrows the counter's styles.
FILES = {"counter.css": STYLE, "counter.js": SCRIPT, "person-sign-in.js": SCRIPT}
SIGN_IN_FILES = {"counter.css": STYLE, "signin.js": SCRIPT, "person-sign-in.js": SCRIPT}
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


@router.get("/signin")
async def sign_in_page() -> Response:
    # The page itself holds nothing: where it sends the browser afterwards (?next=) is checked by its script.
    return FileResponse(
        STATIC / "signin.html", media_type="text/html; charset=utf-8", headers=SECURITY_HEADERS
    )


@router.get("/signin/static/{name}")
async def sign_in_file(name: str) -> Response:
    media_type = SIGN_IN_FILES.get(name)
    if media_type is None:  # a fixed list, as for the counter page
        raise NotFound("no such file")
    return FileResponse(STATIC / name, media_type=media_type, headers=SECURITY_HEADERS)
