"""Serves the admin console (`/admin`): its page to admins and auditors, a sign-in to anyone without a
session, a refusal to everyone else, and its static modules from a fixed list."""

from __future__ import annotations

from pathlib import Path

from fastapi import APIRouter, Request, Response
from fastapi.responses import FileResponse, HTMLResponse, RedirectResponse

from app.errors import Forbidden, NotFound, Unauthorized
from app.routing import AuthFirstRoute
from app.security import Principal, session_principal_of
from app.web.routes import SECURITY_HEADERS

CONSOLE = Path(__file__).parent / "console"
# The scopes that open the console: an admin's, or an auditor's (who reads the audit only; the API refuses
# them every write).
CONSOLE_SCOPES = frozenset({"admin", "audit:read"})
MODULES = ("admin", "api", "import", "registry", "status", "rules", "audit", "people", "catalogue")
FILES = {
    "admin.css": "text/css; charset=utf-8",
    **{f"{name}.js": "text/javascript; charset=utf-8" for name in MODULES},
}
REFUSED_PAGE = """<!doctype html><html lang="zh-CN"><head><meta charset="utf-8"><title>无权访问</title></head>
<body><h1>无权访问管理控制台</h1><p>管理控制台仅供管理员和审计员使用。窗口人员请使用
<a href="/counter">英才卡核验</a>页面。</p></body></html>"""

router = APIRouter(route_class=AuthFirstRoute, include_in_schema=False)


async def console_caller(request: Request) -> Principal | None:
    """The person behind the request, or None when nobody is signed in."""
    try:
        return await session_principal_of(request)
    except Unauthorized:
        return None


@router.get("/admin")
async def console_page(request: Request) -> Response:
    caller = await console_caller(request)
    if caller is None:
        return RedirectResponse("/signin?next=/admin", status_code=303)
    if not caller.scopes & CONSOLE_SCOPES:
        if "text/html" in request.headers.get("accept", ""):
            return HTMLResponse(REFUSED_PAGE, status_code=403, headers=SECURITY_HEADERS)
        raise Forbidden("the console is for admins and auditors", code="console.forbidden")
    return FileResponse(
        CONSOLE / "admin.html", media_type="text/html; charset=utf-8", headers=SECURITY_HEADERS
    )


@router.get("/admin/static/{name}")
async def console_file(name: str) -> Response:
    media_type = FILES.get(name)
    if media_type is None:  # a fixed list: no path from the request ever reaches the file system
        raise NotFound("no such file")
    return FileResponse(CONSOLE / name, media_type=media_type, headers=SECURITY_HEADERS)
