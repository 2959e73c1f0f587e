"""The API docs, Swagger UI at /docs and ReDoc at /redoc, with every file they need served by this app.

FastAPI's own docs pages load Swagger UI and ReDoc from a CDN, which a provincial intranet cannot reach,
and start them with an inline script. These pages take the viewers from the fastapi-offline package
(installed with the app, so no file of theirs is kept in this repository) and start them from docs.js beside
the counter's files: the content security policy names no origin but our own and allows no inline script.
"""

from __future__ import annotations

from html import escape
from pathlib import Path

import fastapi_offline
from fastapi import APIRouter, Request, Response
from fastapi.responses import FileResponse, HTMLResponse

from app.errors import NotFound
from app.web.routes import STATIC

VIEWERS = Path(fastapi_offline.__file__).parent / "static"
ASSETS = "/docs/static"
# A fixed list: no path from the request ever reaches the file system.
FILES: dict[str, tuple[Path, str]] = {
    "swagger-ui-bundle.js": (VIEWERS / "swagger-ui-bundle.js", "text/javascript; charset=utf-8"),
    "swagger-ui.css": (VIEWERS / "swagger-ui.css", "text/css; charset=utf-8"),
    "redoc.standalone.js": (VIEWERS / "redoc.standalone.js", "text/javascript; charset=utf-8"),
    "favicon.png": (VIEWERS / "favicon.png", "image/png"),
    "docs.js": (STATIC / "docs.js", "text/javascript; charset=utf-8"),
}
# Same-origin files only, no inline script, no framing. Both viewers draw icons from data: URIs.
POLICY = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; font-src 'self';"
    " connect-src 'self'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'"
)
# ReDoc (styled-components) writes its styles into <style> elements and runs its search in a worker made from
# a blob: URL, both created by its own script: its page allows those two, and still no inline script.
REDOC_POLICY = POLICY.replace("style-src 'self'", "style-src 'self' 'unsafe-inline'") + "; worker-src blob:"
SECURITY_HEADERS = {
    "Content-Security-Policy": POLICY,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
}
# The viewers change only with the installed package: let browsers keep them for a day.
ASSET_HEADERS = {**SECURITY_HEADERS, "Cache-Control": "public, max-age=86400"}

PAGE = """<!doctype html>
<html lang="zh-CN">
<head>
  <meta charset="utf-8">
  <meta name="viewport" content="width=device-width, initial-scale=1">
  <title>{title}</title>
  <link rel="icon" type="image/png" href="{assets}/favicon.png">
  {stylesheet}
  <script src="{assets}/{viewer}" defer></script>
  <script src="{assets}/docs.js" defer></script>
</head>
<body>
  <div id="{container}" data-openapi-url="{openapi_url}"></div>
</body>
</html>
"""

router = APIRouter(include_in_schema=False)


def render_page(
    request: Request, *, title: str, viewer: str, container: str, policy: str, stylesheet: str = ""
) -> Response:
    # Behind a proxy that mounts the app under a prefix, every URL the page names carries that prefix.
    root = request.scope.get("root_path", "")
    assets = escape(f"{root}{ASSETS}")
    html = PAGE.format(
        title=escape(f"{request.app.title} · {title}"),
        assets=assets,
        stylesheet=f'<link rel="stylesheet" href="{assets}/{stylesheet}">' if stylesheet else "",
        viewer=viewer,
        container=container,
        openapi_url=escape(f"{root}{request.app.openapi_url}"),
    )
    headers = {**SECURITY_HEADERS, "Content-Security-Policy": policy, "Cache-Control": "no-cache"}
    return HTMLResponse(html, headers=headers)


@router.get("/docs")
async def swagger_ui(request: Request) -> Response:
    return render_page(
        request,
        title="Swagger UI",
        viewer="swagger-ui-bundle.js",
        container="swagger-ui",
        policy=POLICY,
        stylesheet="swagger-ui.css",
    )


@router.get("/redoc")
async def redoc(request: Request) -> Response:
    return render_page(
        request, title="ReDoc", viewer="redoc.standalone.js", container="redoc", policy=REDOC_POLICY
    )


@router.get(f"{ASSETS}/{{name}}")
async def docs_file(name: str) -> Response:
    found = FILES.get(name)
    if found is None:
        raise NotFound("no such file")
    path, media_type = found
    return FileResponse(path, media_type=media_type, headers=ASSET_HEADERS)
