"""Prometheus metrics: request counts and latencies per route template (never per raw path: it holds data)."""

from __future__ import annotations

import time

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
)
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send


class RequestMetrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.requests = Counter(
            "huren_http_requests_total",
            "HTTP requests answered",
            ["method", "route", "status"],
            registry=self.registry,
        )
        self.latency = Histogram(
            "huren_http_request_duration_seconds",
            "Time to answer an HTTP request",
            ["method", "route"],
            buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
            registry=self.registry,
        )

        # Federation: how calls to each peer end, how long they take, whether its circuit is open, and when
        # the copies of its keys and status lists were last refreshed (age = now - that).
        self.peer_calls = Counter(
            "huren_peer_calls_total",
            "Calls to peer nodes, by region and result (ok, failed, paused: circuit open)",
            ["region", "result"],
            registry=self.registry,
        )
        self.peer_seconds = Histogram(
            "huren_peer_call_duration_seconds",
            "Time of a call to a peer node",
            ["region"],
            buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
            registry=self.registry,
        )
        self.peer_circuit_open = Gauge(
            "huren_peer_circuit_open",
            "1 while calls to the peer are paused",
            ["region"],
            registry=self.registry,
        )
        self.peer_copies_refreshed = Gauge(
            "huren_peer_copies_refreshed_timestamp_seconds",
            "When the copies of the peer's keys and status lists were last refreshed",
            ["region"],
            registry=self.registry,
        )

        # Rate limits: 1 while this process counts alone because the shared counter (Redis) does not answer.
        self.ratelimit_fallback = Gauge(
            "huren_ratelimit_fallback",
            "1 while this process counts rate limits alone, at its share of each budget (Redis is gone)",
            registry=self.registry,
        )
        self.ratelimit_fallbacks = Counter(
            "huren_ratelimit_fallbacks_total",
            "Times this process fell back to counting rate limits alone",
            registry=self.registry,
        )

    def render(self, _request: Request) -> Response:
        return Response(generate_latest(self.registry), media_type=CONTENT_TYPE_LATEST)


class MetricsMiddleware:
    def __init__(self, app: ASGIApp, metrics: RequestMetrics) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500

        async def record_status(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, record_status)
        finally:
            route = scope.get("route")
            template = getattr(route, "path", None) or "unmatched"
            method = scope["method"]
            self.metrics.requests.labels(method, template, str(status)).inc()
            self.metrics.latency.labels(method, template).observe(time.perf_counter() - started)
