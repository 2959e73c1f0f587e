"""Every non-2xx answer as RFC 9457 application/problem+json: the Problem schema, the OpenAPI entries that
refer to it, and the exception handlers that render the app's errors (app.errors) and the framework's own."""

from __future__ import annotations

import logging
import sqlite3
from collections.abc import Sequence
from http import HTTPStatus
from typing import Any

import asyncpg
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from fastapi.routing import iter_route_contexts
from pydantic import BaseModel, Field
from sqlalchemy.exc import SQLAlchemyError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.routing import compile_path
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from app.db import is_database_unavailable
from app.domain.kinds import KINDS
from app.errors import AppError, DatabaseUnavailable
from app.json_body import add_body_schemas
from app.routing import unreadable_body_of

PROBLEM_JSON = "application/problem+json"
log = logging.getLogger("huren.errors")


class FieldProblem(BaseModel):
    field: str | None = Field(description="dotted path of the offending field")
    location: str = Field(description="body, query, path or header")
    code: str = Field(description="stable machine-readable reason, e.g. id_number.checksum")
    message: str


class Problem(BaseModel):
    """RFC 9457 problem details, the body of every non-2xx answer."""

    type: str = Field(examples=["/problems/validation-error"])
    title: str
    status: int
    detail: str
    instance: str
    errors: list[FieldProblem] | None = None


# RFC 9110's names, which Python's own table adopted only in 3.13: the same answer on every supported Python.
RFC_9110_PHRASES = {413: "Content Too Large", 422: "Unprocessable Content"}


def status_phrase(status: int) -> str:
    return RFC_9110_PHRASES.get(status) or HTTPStatus(status).phrase


def problem_responses(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI entries for the problem answers a route can give."""
    return {
        status: {
            "description": status_phrase(status),
            "content": {PROBLEM_JSON: {"schema": {"$ref": "#/components/schemas/Problem"}}},
        }
        for status in statuses
    }


def problem_type(slug: str) -> str:
    # Relative URI reference (RFC 9457 §3.1.1): stable across deployments whatever their host name.
    return f"/problems/{slug}"


def build_problem(
    status: int, slug: str, title: str, detail: str, instance: str, **extra: Any
) -> JSONResponse:
    body: dict[str, Any] = {
        "type": problem_type(slug),
        "title": title,
        "status": status,
        "detail": detail,
        "instance": instance,
    }
    body.update({k: v for k, v in extra.items() if v is not None})
    headers = {"WWW-Authenticate": 'Bearer realm="huren"'} if status == 401 else None
    return JSONResponse(body, status_code=status, media_type=PROBLEM_JSON, headers=headers)


# Cross-field checks run as model validators, whose errors point at the model: the code prefix names it.
UNION_TAGS = frozenset(KINDS)
CODE_FIELD_HINTS = {
    "permit.holder_id_type": "holder.id_type",
    "id_number": "id_number",
    "skill_number": "number",
    "validity.window": "valid_until",
    "date.order": "obtained_on",
}


def describe_validation_errors(raw: Sequence[Any]) -> list[dict[str, Any]]:
    """Pydantic errors without `input` or `ctx`: those may carry a personal ID number back to the caller."""
    described = []
    for err in raw:
        parts = list(err.get("loc", ()))
        if len(parts) > 1 and parts[0] == "body" and parts[1] in UNION_TAGS:
            del parts[1]  # the discriminator value pydantic puts in the path is not a field
        loc = [str(part) for part in parts if part not in ("body", "query", "path", "header")]
        message = str(err.get("msg", "invalid value")).removeprefix("Value error, ")
        code = str(err.get("type", "invalid"))
        raised = (err.get("ctx") or {}).get("error")
        if isinstance(raised, AppError) and "code" in raised.extra:
            # A rule's error raised in a validator (app.domain.errors.DomainError, a ValueError): pydantic
            # keeps the exception itself, with its code and message as fields.
            code, message = str(raised.extra["code"]), raised.detail
            hint = CODE_FIELD_HINTS.get(code) or CODE_FIELD_HINTS.get(code.split(".")[0])
            if hint and (not loc or loc[-1] != hint):
                loc.append(hint)
        if code.startswith("union_tag"):
            loc.append(str(err.get("ctx", {}).get("discriminator", "kind")).strip("'"))
        described.append(
            {"field": ".".join(loc) or None, "location": _location(err), "code": code, "message": message}
        )
    return described


def _location(err: Any) -> str:
    loc = err.get("loc", ())
    return str(loc[0]) if loc else "body"


def allowed_methods(request: Request) -> list[str]:
    """Every method served at the request's path (RFC 9110 §15.5.6). Starlette's router answers 405 with the
    methods of the first route whose path matched, though other routes may serve the same path. Routes are
    walked as FastAPI's OpenAPI generator walks them (included routers are kept as a tree)."""
    path = request.scope["path"]
    return sorted(
        {
            method
            for context in iter_route_contexts(request.app.router.routes)
            if context.path and compile_path(context.path)[0].fullmatch(path)
            for method in context.methods or ()
        }
    )


def problem_for(exc: AppError, instance: str) -> JSONResponse:
    """The answer for one of the app's errors. Returned rather than raised where the request must still
    commit what it did (a failed sign-in is counted and audited)."""
    response = build_problem(
        exc.status, exc.slug, exc.title, exc.detail, instance, errors=exc.errors, **exc.extra
    )
    if exc.headers:
        response.headers.update(exc.headers)
    return response


def install_error_handlers(app: FastAPI, retry_after_seconds: int = 2) -> None:
    async def on_app_error(request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, AppError)
        return problem_for(exc, request.url.path)

    async def on_validation_error(request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, RequestValidationError)
        errors = describe_validation_errors(exc.errors())
        unreadable = unreadable_body_of(request)
        if unreadable is not None:
            # The body could not be decoded (app/routing.py): one error saying so, not pydantic's complaint
            # about the marker that stood in for it.
            errors = [e for e in errors if e["location"] != "body"]
            errors.append(
                {"field": None, "location": "body", "code": unreadable.code, "message": unreadable.message}
            )
        fields = ", ".join(sorted({e["field"] or e["location"] for e in errors}))
        return build_problem(
            422,
            "validation-error",
            "The request is not valid",
            f"invalid: {fields}",
            request.url.path,
            errors=errors,
        )

    async def on_http_error(request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, StarletteHTTPException)
        phrase = status_phrase(exc.status_code)
        slug = phrase.lower().replace(" ", "-")
        detail = exc.detail if isinstance(exc.detail, str) else phrase
        response = build_problem(exc.status_code, slug, phrase, detail, request.url.path)
        if exc.headers:
            response.headers.update(exc.headers)
        if exc.status_code == 405:
            response.headers["Allow"] = ", ".join(allowed_methods(request))
        return response

    async def on_database_error(request: Request, exc: Exception) -> JSONResponse:
        # The database down, restarting, saturated or too slow is "not now", not a fault of the service: 503
        # with Retry-After. Any other database error is one, and stays the bare 500.
        if not is_database_unavailable(exc):
            return await on_unexpected(request, exc)
        return answer_outage(exc, request.method, request.url.path, retry_after_seconds)

    async def on_unexpected(request: Request, exc: Exception) -> JSONResponse:
        if is_database_unavailable(exc):  # raised outside the routes (middleware), or wrapped by other code
            return await on_database_error(request, exc)
        # Logged with its type only: a traceback's locals can hold personal data.
        log.error("unhandled %s on %s %s", type(exc).__name__, request.method, request.url.path)
        return build_problem(500, "internal-error", "Internal error", "internal error", request.url.path)

    app.add_exception_handler(AppError, on_app_error)
    app.add_exception_handler(RequestValidationError, on_validation_error)
    app.add_exception_handler(StarletteHTTPException, on_http_error)
    for database_error in DATABASE_ERRORS:
        app.add_exception_handler(database_error, on_database_error)
    app.add_exception_handler(Exception, on_unexpected)


# What the database layer raises (SQLAlchemy's errors, and the drivers' own where they are used directly).
DATABASE_ERRORS: tuple[type[Exception], ...] = (
    SQLAlchemyError,
    asyncpg.PostgresError,
    asyncpg.InterfaceError,
    sqlite3.Error,
    ConnectionError,
    TimeoutError,  # asyncpg's connect time-out, unwrapped (app.db.unavailable_itself)
)


class DatabaseOutageGuard:
    """An outage that escapes a middleware (outside the routes' handlers) answered 503, like one inside.

    Starlette's outermost handler would answer it through `on_unexpected` too, but then re-raises, and the
    server logs a traceback for a database that was merely restarting. Here it ends with the one warning
    line the routes log. Any other exception passes on untouched.
    """

    def __init__(self, app: ASGIApp, retry_after_seconds: int = 2) -> None:
        self.app, self.retry_after_seconds = app, retry_after_seconds

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = False

        async def watch(message: Message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, receive, watch)
        except Exception as exc:
            if started or not is_database_unavailable(exc):
                raise
            response = answer_outage(exc, scope["method"], scope["path"], self.retry_after_seconds)
            await response(scope, receive, send)


def answer_outage(exc: Exception, method: str, path: str, retry_after_seconds: int) -> JSONResponse:
    """The 503 for a database that could not be used, and the one line the log gets for it."""
    log.warning("database unavailable (%s) on %s %s", type(exc).__name__, method, path)
    return problem_for(database_unavailable(retry_after_seconds), path)


def database_unavailable(retry_after_seconds: int) -> DatabaseUnavailable:
    return DatabaseUnavailable(
        "the database is unavailable; nothing was done, retry later",
        headers={"Retry-After": str(retry_after_seconds)},
        code="database.unavailable",
    )


def register_problem_schema(app: FastAPI) -> None:
    """Adds the Problem schema to the OpenAPI components, where problem_responses refers to it."""
    build_openapi = app.openapi

    def openapi_with_problem() -> dict[str, Any]:
        if app.openapi_schema is None:
            spec = build_openapi()
            schemas = spec.setdefault("components", {}).setdefault("schemas", {})
            problem = Problem.model_json_schema(ref_template="#/components/schemas/{model}")
            schemas.update(problem.pop("$defs", {}))
            schemas["Problem"] = problem
            add_body_schemas(schemas)  # bodies the hot routes read themselves (app/json_body.py)
            # FastAPI documents its own 422 shape; ours is problem+json, so drop the unused default schemas.
            for path in spec.get("paths", {}).values():
                for operation in path.values():
                    operation.get("responses", {}).get("422", {}).get("content", {}).pop(
                        "application/json", None
                    )
            schemas.pop("HTTPValidationError", None)
            schemas.pop("ValidationError", None)
            app.openapi_schema = spec
        return app.openapi_schema

    app.openapi = openapi_with_problem  # type: ignore[method-assign]
