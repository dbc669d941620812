"""GET /metrics: what one scrape shows, in the Prometheus text format: this process's metrics,
or with several workers (PROMETHEUS_MULTIPROC_DIR) every worker's, and the database's
positions; behind a bearer token when HERALD_METRICS_TOKEN is set."""

from __future__ import annotations

import asyncio
import glob
import hmac
import os
import re
from collections.abc import Iterable
from typing import Any

from prometheus_client import CONTENT_TYPE_LATEST, REGISTRY, generate_latest
from prometheus_client.multiprocess import MultiProcessCollector, mark_process_dead
from prometheus_client.registry import Collector
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from app.metrics import PositionsCollector, sample_pool
from app.runtime import Herald

MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"


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


def endpoint(herald: Herald) -> Any:
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
        return Response(body, media_type=CONTENT_TYPE_LATEST)

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
