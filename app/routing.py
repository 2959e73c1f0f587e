"""Routes that admit the caller before they judge the body.

FastAPI reads and decodes a JSON body before it solves a route's dependencies: a body that is not UTF-8
(or not JSON at all) was refused with a generic 400 (or a 422) before the token was even looked at, so an
anonymous caller learnt how the route parses bodies, and the answer was one the OpenAPI document did not
list. `AuthFirstRoute` defers the decoding error instead: the request's `json()` answers a marker that no
body model accepts, the dependencies (token, budget, scope) run in their usual order, and only then does
the body's validation fail, which `app.errors` answers as a 422 problem naming the undecodable body.

Every router of the app uses it (tests/test_routing.py checks that): all their JSON bodies are pydantic
models, which never accept the marker.
"""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from typing import Any, Final

from fastapi.routing import APIRoute
from starlette.requests import Request
from starlette.responses import Response

UNREADABLE_BODY_STATE: Final = "unreadable_body"


class UnreadableBody:
    """Stands for a body that could not be decoded; carries why (a code and a message) for the 422 problem.
    No byte of the body is kept: it may hold a personal ID number."""

    __slots__ = ("code", "message")

    def __init__(self, code: str, message: str) -> None:
        self.code, self.message = code, message

    def __repr__(self) -> str:
        return f"UnreadableBody({self.code!r})"


def describe_unreadable(exc: Exception) -> UnreadableBody:
    if isinstance(exc, UnicodeDecodeError):
        return UnreadableBody("body.encoding", "the body is not UTF-8 text")
    if isinstance(exc, RecursionError):
        return UnreadableBody("body.json", "the JSON body is nested too deeply")
    return UnreadableBody("body.json", "the body is not valid JSON")


class DeferredJsonRequest(Request):
    """A request whose `json()` never raises for bad input: it answers an `UnreadableBody` and notes it."""

    async def json(self) -> Any:
        try:
            return await super().json()
        except (ValueError, RecursionError) as exc:  # JSONDecodeError and UnicodeDecodeError are ValueErrors
            marker = describe_unreadable(exc)
            setattr(self.state, UNREADABLE_BODY_STATE, marker)
            return marker


class AuthFirstRoute(APIRoute):
    """An APIRoute whose body errors surface only after its dependencies have admitted the caller."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def handle(request: Request) -> Response:
            return await handler(DeferredJsonRequest(request.scope, request.receive))

        return handle


def unreadable_body_of(request: Request) -> UnreadableBody | None:
    """The marker left by a body that could not be decoded, if any."""
    marker = getattr(request.state, UNREADABLE_BODY_STATE, None)
    return marker if isinstance(marker, UnreadableBody) else None
