"""A gateway in front of a node, for the federation tests: passes requests through, or misbehaves on demand.

    GATEWAY_UPSTREAM=http://127.0.0.1:8001 python -m uvicorn tests.federation.gateway:create_app --factory

`POST /_mode` with `{"mode": …}` switches it: `pass` (forward as is), `tamper` (forward, then change the
outcome of every verification answer: the receipt no longer matches), `resign` (replace every receipt by one
signed with a key of its own), `hang` (answer nothing for 30 s), `huge` (answer 8 MiB), `garbage` (not JSON).
"""

from __future__ import annotations

import asyncio
import json
import os
from typing import Any

import httpx
import jwt
from cryptography.hazmat.primitives.asymmetric import ec
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

HOP_HEADERS = {"host", "content-length", "transfer-encoding", "connection"}


def misbehave(mode: str, document: dict[str, Any], key: ec.EllipticCurvePrivateKey) -> dict[str, Any]:
    for result in document.get("results", []):
        if mode == "tamper":
            result["outcome"] = "revoked" if result.get("outcome") == "valid" else "valid"
        elif mode == "resign":
            claims = jwt.decode(result["receipt"], options={"verify_signature": False})
            header = jwt.get_unverified_header(result["receipt"])
            result["receipt"] = jwt.encode(claims, key, algorithm="ES256", headers=header)
    return document


def create_app() -> Starlette:
    upstream = os.environ["GATEWAY_UPSTREAM"].rstrip("/")
    state = {"mode": "pass"}
    forger_key = ec.generate_private_key(ec.SECP256R1())
    client = httpx.AsyncClient(timeout=30)

    async def set_mode(request: Request) -> Response:
        state["mode"] = (await request.json())["mode"]
        return JSONResponse(state)

    async def forward(request: Request) -> Response:
        mode = state["mode"]
        if mode == "hang":
            await asyncio.sleep(30)
        if mode == "huge":
            return Response(b"[" + b"0," * (4 * 1024 * 1024) + b"0]", media_type="application/json")
        if mode == "garbage":
            return Response(b"<html>gateway error</html>", media_type="text/html")
        headers = {k: v for k, v in request.headers.items() if k.lower() not in HOP_HEADERS}
        answer = await client.request(
            request.method, upstream + request.url.path, content=await request.body(), headers=headers
        )
        body = answer.content
        if mode in ("tamper", "resign") and request.url.path.startswith("/v1/federation/"):
            body = json.dumps(misbehave(mode, answer.json(), forger_key)).encode()
        kept = {
            k: v for k, v in answer.headers.items() if k.lower() not in HOP_HEADERS | {"content-encoding"}
        }
        return Response(body, status_code=answer.status_code, headers=kept)

    return Starlette(
        routes=[
            Route("/_mode", set_mode, methods=["POST"]),
            Route("/{path:path}", forward, methods=["GET", "POST"]),
        ]
    )
