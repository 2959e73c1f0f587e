"""JSON bodies for the hot routes, read and answered without FastAPI's per-request machinery.

On every request FastAPI solves a route's dependency graph, validates its body parameter from a parsed dict,
and validates the returned model again against `response_model`. On `POST /v1/verify` that was about a fifth
of the worker's CPU (bench/RESULTS.md). The verification routes therefore take the bare `Request` and use
these instead: a bad body gives the very same 422 problem (a `RequestValidationError`), the answer is the
model's own JSON, and the OpenAPI document still shows the body, through `documented_body`.
"""

from __future__ import annotations

from typing import Any, TypeVar

from fastapi.exceptions import RequestValidationError
from pydantic import BaseModel, ValidationError
from starlette.exceptions import HTTPException
from starlette.requests import ClientDisconnect, Request
from starlette.responses import Response

Model = TypeVar("Model", bound=BaseModel)
BODY_MODELS: dict[str, type[BaseModel]] = {}
JSON_MEDIA_TYPE = "application/json"
UTF8_BOM = b"\xef\xbb\xbf"


def is_json_media_type(content_type: str) -> bool:
    media_type = content_type.partition(";")[0].strip().lower()
    maintype, _, subtype = media_type.partition("/")
    return maintype == "application" and (subtype == "json" or subtype.endswith("+json"))


async def read_body(request: Request, model: type[Model]) -> Model:
    """The body validated as `model` in one pass over the bytes (pydantic's JSON mode), or a 422."""
    content_type = request.headers.get("content-type")
    # As FastAPI's own routes (strict content type): a body without a JSON media type is not read as JSON.
    if not content_type or not is_json_media_type(content_type):
        raise RequestValidationError(
            [{"type": "content_type", "loc": ("body",), "msg": "the body must be application/json"}]
        )
    try:
        body = await request.body()
    except ClientDisconnect:
        raise HTTPException(400, "the request body was not received in full") from None
    if not body:
        raise RequestValidationError([{"type": "missing", "loc": ("body",), "msg": "Field required"}])
    try:
        # RFC 8259 §8.1 lets a parser ignore a UTF-8 byte order mark; Python's json did, pydantic does not.
        return model.model_validate_json(body.removeprefix(UTF8_BOM))
    except ValidationError as exc:
        # Inputs are left out: what the caller sent may hold a personal ID number.
        errors = exc.errors(include_url=False, include_input=False)
        raise RequestValidationError(
            [{**error, "loc": ("body", *error["loc"])} for error in errors]
        ) from None


def json_answer(answer: BaseModel, status_code: int = 200) -> Response:
    """The answer as FastAPI would serialise it for `response_model` (aliases, every field), done once."""
    return Response(answer.model_dump_json(by_alias=True), status_code, media_type=JSON_MEDIA_TYPE)


def documented_body(model: type[BaseModel]) -> dict[str, Any]:
    """`openapi_extra` for a route that reads `model` itself: the request body, and the bearer scheme that a
    dependency would otherwise have declared."""
    BODY_MODELS[model.__name__] = model
    return {
        "requestBody": {
            "content": {JSON_MEDIA_TYPE: {"schema": {"$ref": f"#/components/schemas/{model.__name__}"}}},
            "required": True,
        },
        "security": [{"HTTPBearer": []}],
    }


def add_body_schemas(schemas: dict[str, Any]) -> None:
    """Put the documented body models (and the models they use) into the OpenAPI components."""
    for name, model in BODY_MODELS.items():
        schema = model.model_json_schema(ref_template="#/components/schemas/{model}")
        for inner_name, inner in schema.pop("$defs", {}).items():
            schemas.setdefault(inner_name, inner)
        schemas[name] = schema
