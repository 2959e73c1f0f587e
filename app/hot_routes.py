"""The few routes called all day, served straight from the middleware stack instead of through the router.

Below the app's own middleware, every request passes Starlette's exception middleware, the router's match
over every route, and FastAPI's route wrapper, which solves the dependency graph (even for an endpoint that
takes nothing but the `Request`) inside an exit stack of its own. On `POST /v1/verify` that was about a
quarter of the worker's CPU (bench/RESULTS.md). The verification endpoints need none of it: they take the bare
`Request`, admit the caller and read the body themselves (app/verification/routes.py).

`HotRoutes` is the innermost middleware. For a hot (method, path) it calls the very endpoint the router would
have called, with the route in the scope as the router would have put it (the metrics label by it), and
turns a raised exception into the app's own answer with the app's own handlers. Everything else, and every
unexpected exception, goes on as before. The routes stay registered, so OpenAPI and a server without this
middleware are unchanged.
"""

from __future__ import annotations

import inspect
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

from fastapi.routing import APIRoute, APIRouter
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import ASGIApp, Receive, Scope, Send

Endpoint = Callable[[Request], Awaitable[Response]]
Handler = Callable[[Request, Exception], Any]


class HotRoutes:
    """Serves every route of `router` (a router included without a further prefix) past the app's router."""

    def __init__(self, app: ASGIApp, router: APIRouter) -> None:
        self.app = app
        self.routes: dict[tuple[str, str], tuple[APIRoute, Endpoint]] = {
            (method, route.path): (route, check_endpoint(route))
            for route in router.routes
            if isinstance(route, APIRoute)
            for method in route.methods or ()
        }
        # The app's exception handlers, taken on the first hot request, when every one is in place.
        self.handlers: tuple[dict[type[BaseException], Handler], dict[int, Handler]] | None = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        hot = self.routes.get((scope["method"], scope["path"])) if scope["type"] == "http" else None
        if hot is None:
            await self.app(scope, receive, send)
            return
        scope["route"], scope["endpoint"] = hot
        request = Request(scope, receive, send)
        try:
            response = await hot[1](request)
        except Exception as exc:
            handler = self.handler_for(scope["app"], exc)
            if handler is None:
                raise  # to ServerErrorMiddleware, as from the router: the 500 problem, and the log line
            if inspect.iscoroutinefunction(handler):
                response = await handler(request, exc)
            else:  # as Starlette runs a plain function
                response = await run_in_threadpool(handler, request, exc)
        await response(scope, receive, send)

    def handler_for(self, app: Any, exc: Exception) -> Handler | None:
        """The handler Starlette's exception middleware would pick: by status code, then by class."""
        if self.handlers is None:
            self.handlers = split_handlers(app.exception_handlers)
        by_class, by_status = self.handlers
        if isinstance(exc, HTTPException) and exc.status_code in by_status:
            return by_status[exc.status_code]
        for cls in type(exc).__mro__:
            if cls in by_class:
                return by_class[cls]
        return None


def check_endpoint(route: APIRoute) -> Endpoint:
    """A hot route's endpoint must take only the request and answer a Response: nothing for FastAPI to do."""
    parameters = list(inspect.signature(route.endpoint).parameters.values())
    dependant = route.dependant
    only_request = (
        len(parameters) == 1
        and dependant.request_param_name == parameters[0].name
        and not dependant.dependencies
        and not any(
            (dependant.path_params, dependant.query_params, dependant.header_params, dependant.cookie_params)
        )
        and not dependant.body_params
    )
    if not only_request or not inspect.iscoroutinefunction(route.endpoint):
        raise RuntimeError(f"hot route {route.path} must be `async def endpoint(request: Request)`")
    endpoint: Endpoint = route.endpoint
    return endpoint


def split_handlers(
    handlers: Mapping[Any, Any],
) -> tuple[dict[type[BaseException], Handler], dict[int, Handler]]:
    """As Starlette splits them: the 500 / Exception handler belongs to ServerErrorMiddleware, outside."""
    by_class: dict[type[BaseException], Handler] = {}
    by_status: dict[int, Handler] = {}
    for key, handler in handlers.items():
        if isinstance(key, int):
            if key != 500:
                by_status[key] = handler
        elif key is not Exception:
            by_class[key] = handler
    return by_class, by_status
