"""Every Prometheus metric Herald exports, in one place, and how GET /metrics renders them.

Counters and histograms are kept by prometheus_client in this process, or, when
PROMETHEUS_MULTIPROC_DIR is set (`herald serve --workers N` sets it), in files that every worker
writes and any worker reads (app.scrape renders them). Positions, lag and pool use are read
when scraped. Every label
takes its values from a fixed set (the schema's root fields, the contract's error codes), so
nothing a client sends can grow the number of series."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from typing import Any

from prometheus_client import Counter, Gauge, Histogram
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

from app.positions import read_positions
from app.runtime import Herald

log = logging.getLogger(__name__)
_DATABASE_UP = "1 when this scrape could read the positions from the database, else 0."
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
