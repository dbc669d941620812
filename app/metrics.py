"""Every Prometheus metric Herald exports, in one place, and how GET /metrics renders them.

Counters and histograms are kept by prometheus_client in this process, or, when
PROMETHEUS_MULTIPROC_DIR is set (`herald serve --workers N` sets it), in files that every worker
writes and any worker reads. Positions, lag and pool use are read when scraped. Every label
takes its values from a fixed set (the schema's root fields, the contract's error codes), so
nothing a client sends can grow the number of series."""

from __future__ import annotations

import asyncio
import glob
import hmac
import logging
import os
import re
from collections.abc import Iterable, Iterator
from typing import Any

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    REGISTRY,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
)
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.multiprocess import MultiProcessCollector, mark_process_dead
from prometheus_client.registry import Collector
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from app.positions import read_positions
from app.runtime import Herald

log = logging.getLogger(__name__)
MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"
_DATABASE_UP = "1 when this scrape could read the positions from the database, else 0."
CONTENT_TYPE = CONTENT_TYPE_LATEST
_LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)

OPERATIONS = Counter(
    "herald_graphql_operations",
    "GraphQL operations answered, by type, operation (the root field asked for) and code "
    "(OK, or the extensions.code of the first error).",
    ["type", "operation", "code"],
)
ERRORS = Counter(
    "herald_graphql_errors",
    "GraphQL errors answered, by operation and code.",
    ["operation", "code"],
)
LATENCY = Histogram(
    "herald_graphql_duration_seconds",
    "Time to answer a query or mutation, from its parsing to its result, by type and operation.",
    ["type", "operation"],
    buckets=_LATENCY_BUCKETS,
)
COMMANDS = Counter(
    "herald_commands",
    "Commands (mutation fields) run, by command and result (OK or the error's code).",
    ["command", "result"],
)
SUBSCRIPTIONS = Gauge(
    "herald_subscriptions_open", "Subscriptions open now.", multiprocess_mode="livesum"
)
REFUSALS = Counter(
    "herald_refusals",
    "Requests refused before any work, by reason: rate (the key's rate limit), cost (the "
    "operation's size or price), body (a request body over the limit).",
    ["reason"],
)
HTTP_REQUESTS = Counter(
    "herald_http_requests", "HTTP requests answered, by route and status.", ["route", "status"]
)
WEBHOOK_DELIVERIES = Counter(
    "herald_webhook_deliveries",
    "Webhook deliveries attempted, by result (delivered, failed, gave_up).",
    ["result"],
)
WEBHOOK_BACKLOG = Gauge(
    "herald_webhook_backlog",
    "Webhook deliveries waiting to be made, as the dispatcher last counted them.",
    multiprocess_mode="livemax",
)
WATCHER_RECONNECTS = Counter(
    "herald_watcher_reconnects",
    "Times the PostgreSQL LISTEN connection was found dead and opened anew.",
)
DB_POOL = Gauge(
    "herald_db_pool_connections",
    "Database connections of the process pools, by state: in_use, idle, max.",
    ["state"],
    multiprocess_mode="livesum",
)


def refused(reason: str) -> None:
    """Count a refusal: rate, cost or body."""
    REFUSALS.labels(reason).inc()


def sample_pool(herald: Herald) -> None:
    """Record this process's pool use; called at each scrape and now and then in between."""
    pool: Any = herald.store.db.datastore.pool
    if hasattr(pool, "get_stats"):  # psycopg_pool, on PostgreSQL
        stats = pool.get_stats()
        size, idle = stats.get("pool_size", 0), stats.get("pool_available", 0)
        in_use, most = size - idle, stats.get("pool_max", 0)
    else:  # eventsourcing's own pool, on SQLite
        in_use, idle = pool.num_in_use, pool.num_in_pool
        most = pool.pool_size + pool.max_overflow
    DB_POOL.labels("in_use").set(in_use)
    DB_POOL.labels("idle").set(idle)
    DB_POOL.labels("max").set(most)


class PositionsCollector(Collector):
    """The event log's end, each consumer's position and lag, read from the database."""

    def __init__(self, herald: Herald) -> None:
        self.herald = herald

    def collect(self) -> Iterator[Any]:
        try:
            positions = read_positions(self.herald)
        except Exception:
            log.warning("reading the positions for /metrics failed", exc_info=True)
            yield GaugeMetricFamily("herald_database_up", _DATABASE_UP, 0)
            return
        yield GaugeMetricFamily("herald_database_up", _DATABASE_UP, 1)
        yield GaugeMetricFamily(
            "herald_events_position", "The last position of the event log.", positions.events
        )
        consumer = GaugeMetricFamily(
            "herald_consumer_position",
            "The position each consumer of the event log (views: herald_views) has reached.",
            labels=["consumer"],
        )
        lag = GaugeMetricFamily(
            "herald_consumer_lag",
            "Events recorded that a consumer has not processed yet.",
            labels=["consumer"],
        )
        for name, position in sorted(positions.consumers.items()):
            consumer.add_metric([name], position)
            lag.add_metric([name], positions.lag(name))
        yield consumer
        yield lag


class Exposition(Collector):
    """What a scrape of one app shows: the process's (or every worker's) metrics and the
    database's positions."""

    def __init__(self, herald: Herald) -> None:
        self.herald = herald
        self.positions = PositionsCollector(herald)

    def collect(self) -> Iterable[Any]:
        sample_pool(self.herald)
        folder = os.environ.get(MULTIPROC_ENV)
        if folder:
            _forget_dead_workers(folder)
            yield from MultiProcessCollector(None, folder).collect()  # type: ignore[no-untyped-call]
        else:
            yield from REGISTRY.collect()
        yield from self.positions.collect()

    def render(self) -> bytes:
        return generate_latest(self)


def scrape(herald: Herald) -> Any:
    """The GET /metrics endpoint; with HERALD_METRICS_TOKEN set, only for that bearer token."""
    exposition = Exposition(herald)
    token = herald.settings.metrics_token
    expected = f"Bearer {token}".encode()

    async def endpoint(request: Request) -> Response:
        given = request.headers.get("authorization", "").encode()
        if token and not hmac.compare_digest(given, expected):
            return JSONResponse(
                {"error": "send the metrics token: Authorization: Bearer <HERALD_METRICS_TOKEN>"},
                401,
                headers={"WWW-Authenticate": "Bearer"},
            )
        body = await asyncio.to_thread(exposition.render)  # positions are read from the database
        return Response(body, media_type=CONTENT_TYPE)

    return endpoint


_LIVE_FILE = re.compile(r"gauge_live\w+?_(\d+)\.db$")


def _forget_dead_workers(folder: str) -> None:
    """A worker that died leaves its live gauges behind (open subscriptions, pool use);
    they stop counting once its process is gone."""
    for path in glob.glob(os.path.join(folder, "gauge_live*_*.db")):
        found = _LIVE_FILE.search(path)
        if found is None:
            continue
        pid = int(found.group(1))
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            mark_process_dead(pid, folder)  # type: ignore[no-untyped-call]
        except PermissionError:
            pass  # alive, owned by another user
