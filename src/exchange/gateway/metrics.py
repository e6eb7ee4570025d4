"""Prometheus metrics for /metrics (prometheus_client, one registry per gateway process)."""

import os
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest

from exchange.engine.protocol import STAGES

_LATENCY_BUCKETS = (
    0.00001, 0.000025, 0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025,
    0.05, 0.1, 0.25, 0.5, 1.0, 2.5,
)  # fmt: skip


class GatewayMetrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        r = self.registry
        self.requests = Counter(
            "gateway_requests", "HTTP requests answered", ["route", "status"], registry=r
        )
        self.latency = Histogram(
            "gateway_request_seconds",
            "Time to answer an HTTP request",
            ["route"],
            buckets=_LATENCY_BUCKETS,
            registry=r,
        )
        self.engine_latency = Histogram(
            "gateway_engine_round_trip_seconds",
            "From sending a command to the engine to its durable reply",
            buckets=_LATENCY_BUCKETS,
            registry=r,
        )
        stage = Histogram(
            "engine_stage_seconds",
            "Where commands spent their time inside the engine, as it reports in each reply",
            ["stage"],
            buckets=_LATENCY_BUCKETS,
            registry=r,
        )
        self.engine_stages = [stage.labels(name) for name in STAGES]
        """One child per stage, bound once (labels() per request costs more than observe)."""
        self.rate_limited = Counter(
            "gateway_rate_limited", "Requests refused with 429", ["limit"], registry=r
        )
        self.engine_resends = Gauge(
            "gateway_engine_resends", "Engine requests sent again after a timeout", registry=r
        )
        self.streams = Gauge("gateway_streams", "Open WebSocket streams", registry=r)
        self.streams_dropped = Gauge(
            "gateway_streams_dropped", "Streams cut off for falling behind", registry=r
        )
        self.view_seq = Gauge(
            "gateway_view_next_seq", "The next command seq the order view expects", registry=r
        )

        self.worker = Gauge(
            "gateway_worker_pid",
            "The process that answered (with --workers, each worker has its own metrics)",
            registry=r,
        )
        self.worker.set(os.getpid())

        self._answered: dict[tuple[str, int], Any] = {}
        self._latency: dict[str, Any] = {}

    def answered(self, route: str, status: int) -> Any:
        """The requests counter's child for (route, status), bound once (`labels()` per
        request cost more than the increment)."""
        child = self._answered.get((route, status))
        if child is None:
            child = self._answered[route, status] = self.requests.labels(route, str(status))
        return child

    def request_latency(self, route: str) -> Any:
        child = self._latency.get(route)
        if child is None:
            child = self._latency[route] = self.latency.labels(route)
        return child

    def render(self) -> bytes:
        return generate_latest(self.registry)
