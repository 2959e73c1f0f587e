"""Prints the app's OpenAPI document: `python -m app.openapi > openapi/openapi.json`."""

from __future__ import annotations

import json
from typing import Any

from app.main import create_app
from app.settings import Settings


def render_openapi() -> str:
    spec: dict[str, Any] = create_app(Settings(env="development")).openapi()
    return json.dumps(spec, ensure_ascii=False, indent=2, sort_keys=True) + "\n"


if __name__ == "__main__":
    print(render_openapi(), end="")
