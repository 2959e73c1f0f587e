"""The few routes called all day, served by a small Starlette app of their own, mounted in front of FastAPI's.

Below the app's own middleware, every request passes FastAPI's router and route wrapper, which solves the
dependency graph (even for an endpoint that takes nothing but the `Request`) inside an exit stack of its own.
On `POST /v1/verify` that was about a quarter of the worker's CPU (bench/RESULTS.md). The verification
endpoints need none of it: they take the bare `Request`, admit the caller and read the body themselves
(app/verification/routes.py).

`HotRoutes` is the innermost middleware. A request for a hot (method, path) goes to a plain Starlette app
built from the very same endpoints: a `Router` of plain `Route`s (which puts the route in the scope, so the
metrics label by it) inside Starlette's `ExceptionMiddleware` with the app's own exception handlers. Nothing
of routing or error handling is written here; an unexpected exception still leaves through the app's
ServerErrorMiddleware as the bare 500 problem. Every other request goes on to FastAPI. The routes stay
registered with FastAPI too, so OpenAPI and a server without this middleware are unchanged.
"""

from __future__ import annotations

import inspect
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

from fastapi.routing import APIRoute, APIRouter
from starlette.middleware.exceptions import ExceptionMiddleware
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route, Router
from starlette.types import ASGIApp, Receive, Scope, Send

Endpoint = Callable[[Request], Awaitable[Response]]


class HotRoutes:
    """Serves every route of `router` (a router included without a further prefix) past FastAPI's."""

    def __init__(self, app: ASGIApp, router: APIRouter) -> None:
        self.app = app
        api_routes = [route for route in router.routes if isinstance(route, APIRoute)]
        self.routes = frozenset(
            (method, route.path) for route in api_routes for method in route.methods or ()
        )
        self.router = Router(
            routes=[
                Route(route.path, check_endpoint(route), methods=list(route.methods or ()), name=route.name)
                for route in api_routes
            ]
        )
        # Built on the first hot request, when every one of the app's exception handlers is in place.
        self.served: ASGIApp | None = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or (scope["method"], scope["path"]) not in self.routes:
            await self.app(scope, receive, send)
            return
        if self.served is None:
            self.served = ExceptionMiddleware(self.router, handlers=routed_handlers(scope["app"]))
        await self.served(scope, receive, send)


def routed_handlers(app: Any) -> dict[Any, Callable[..., Any]]:
    """The handlers Starlette gives its ExceptionMiddleware: all but the 500 / Exception one, which belongs to
    ServerErrorMiddleware, outside."""
    handlers: Mapping[Any, Callable[..., Any]] = app.exception_handlers
    return {key: handler for key, handler in handlers.items() if key not in (500, Exception)}


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
