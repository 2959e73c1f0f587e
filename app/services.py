"""How a request reaches the worker's services: through a view of its own.

`app.main` builds one `Services` container per process at start-up (tests build theirs on a connection they
roll back) and attaches it to the app, a `HurenApp`. Each module that needs some of it declares a Protocol
naming just what it reads (its view: `SecurityServices`, `ImportServices`, …) and a `services(request)` that
gives `services_of(request)` that type; `app.main.check_views` has mypy prove that the container fits every
view. So this module, and every view, depends only on what lies below its own layer: no import cycle runs
through the container. Nothing is kept in `app.state`.
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI, Request

from app.metrics import RequestMetrics
from app.privacy import PersonalDataVault
from app.settings import Settings


class HurenApp(FastAPI):
    """The FastAPI app with its parts typed: what exists from creation (settings, the personal-data vault,
    the request metrics its middleware fills) and the services attached at start-up (app.main.Services)."""

    def __init__(
        self, *, settings: Settings, vault: PersonalDataVault, metrics: RequestMetrics, **options: Any
    ) -> None:
        super().__init__(**options)
        self.settings, self.vault, self.metrics = settings, vault, metrics
        self.attached: Any = None

    @property
    def services(self) -> Any:
        """The container (app.main.Services); code outside app.main reads it through a view (view_of)."""
        if self.attached is None:
            raise RuntimeError("the app's services are not started (no lifespan has run)")
        return self.attached


def services_of(request: Request) -> Any:
    """The worker's services (app.main.Services), from any request. Callers give the answer their view's type:

    def services(request: Request) -> ImportServices:
        view: ImportServices = services_of(request)
        return view
    """
    app: HurenApp = request.app
    return app.services
