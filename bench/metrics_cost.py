"""What counting costs a `message(id)` request: the schema extension that counts each operation
(app.api.measure) and the middleware that gives each request its id and counts it
(app.observe), each timed in process against the same work without it, interleaved in rounds;
their sum is then set against the time a request takes over HTTP in the same run."""

from __future__ import annotations

import asyncio
import copy
import statistics
import time
from collections.abc import Awaitable, Callable
from typing import Any

import strawberry
from starlette.requests import Request
from starlette.types import Message, Receive, Scope, Send

from app.api.context import Context
from app.api.measure import Measured
from app.api.schema import build_schema
from app.observe import Observed
from app.runtime import Herald
from app.settings import Settings
from bench.results import Results

QUERY = "query Message($id: ID!) { message(id: $id) { id version status text } }"
_ROUNDS = 100


def unmeasured(schema: strawberry.Schema) -> strawberry.Schema:
    """The same schema without the counting extension."""
    bare = copy.copy(schema)
    bare.extensions = tuple(e for e in schema.extensions if e is not Measured)
    assert len(bare.extensions) == len(schema.extensions) - 1
    return bare


async def _mean(call: Callable[[], Awaitable[object]], calls: int) -> float:
    started = time.perf_counter()
    for _ in range(calls):
        await call()
    return (time.perf_counter() - started) / calls * 1e6


async def _rounds(
    calls: dict[str, Callable[[], Awaitable[object]]], samples: int
) -> dict[str, list[float]]:
    """µs a call of each, averaged over a short block, block after block in alternating order:
    the machine's drift (other processes share its cores) weighs on all alike, and a round's
    figures can be compared with each other."""
    block = max(1, samples // _ROUNDS)
    times: dict[str, list[float]] = {name: [] for name in calls}
    for call in calls.values():
        await _mean(call, 20)
    order = list(calls)
    for i in range(_ROUNDS):
        for name in order if i % 2 else reversed(order):
            times[name].append(await _mean(calls[name], block))
    return times


def paired_cost(times: dict[str, list[float]], counted: str, uncounted: str) -> float:
    """The median over rounds of the difference between the two, each round's own."""
    return statistics.median(a - b for a, b in zip(times[counted], times[uncounted], strict=True))


def _request(key: str) -> Request:
    scope: Scope = {
        "type": "http",
        "method": "POST",
        "path": "/graphql",
        "headers": [(b"authorization", f"Bearer {key}".encode())],
        "query_string": b"",
    }
    return Request(scope)


async def _measure(herald: Herald, key: str, probe: str, samples: int) -> dict[str, list[float]]:
    measured = build_schema()
    bare = unmeasured(measured)
    variables = {"id": probe}

    def execute(schema: strawberry.Schema) -> Callable[[], Awaitable[object]]:
        async def run() -> object:
            context = Context(herald=herald, request=_request(key))
            result = await schema.execute(QUERY, variables, context_value=context)
            assert result.errors is None, result.errors
            return result

        return run

    async def plain(scope: Scope, receive: Receive, send: Send) -> None:
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"{}"})

    observed = Observed(plain)
    scope: Scope = {"type": "http", "path": "/graphql", "headers": [(b"host", b"bench")]}

    async def receive() -> Message:
        return {"type": "http.request", "body": b""}

    async def send(_: Message) -> None:
        pass

    def asgi(app: Any) -> Callable[[], Awaitable[object]]:
        return lambda: app(dict(scope), receive, send)

    return await _rounds(
        {
            "measured": execute(measured),
            "bare": execute(bare),
            "observed": asgi(observed),
            "plain": asgi(plain),
        },
        samples,
    )


def bench_metrics_cost(r: Results, url: str, key: str, probe: str, samples: int) -> None:
    r.begin("Cost of metrics on message(id)")
    # Rate limiting off: thousands of back-to-back calls on one key are the point here.
    herald = Herald(Settings(database_url=url, rate_limit=0))
    try:
        times = asyncio.run(_measure(herald, key, probe, samples))
    finally:
        herald.close()
    median = {name: statistics.median(t) for name, t in times.items()}
    extension = paired_cost(times, "measured", "bare")
    middleware = paired_cost(times, "observed", "plain")
    overhead = extension + middleware
    r.figure("metrics.execute.measured_us", "schema.execute, counted", median["measured"], "µs")
    r.figure("metrics.execute.bare_us", "schema.execute, not counted", median["bare"], "µs")
    r.figure("metrics.asgi.observed_us", "request id + count middleware", median["observed"], "µs")
    r.figure("metrics.asgi.plain_us", "the same app without it", median["plain"], "µs")
    with_us = 1e6 / r.figures["http.query.herald_rps"].value
    r.figure("metrics.http.with_us", "message(id) over HTTP, per request", with_us, "µs")
    r.figure(
        "metrics.http.without_us", "the same, less what counting costs", with_us - overhead, "µs"
    )
    r.ratio(
        "metrics.cost.ratio",
        "with / without metrics",
        "metrics.http.with_us",
        "metrics.http.without_us",
    )
    r.note(
        f"Counting costs {overhead:.1f} µs a request ({overhead / with_us:.1%} of a message(id) "
        f"request over HTTP, whose time is 1 / the HTTP throughput above): "
        f"{extension:.1f} µs in the extension, {middleware:.1f} µs in the middleware, each the "
        f"median of {_ROUNDS} rounds' differences; a round times a block of calls of each of "
        f"the four, {samples} calls of each in all, in process, on the large store's probe "
        "message. The uncounted schema is the same one less its counting extension."
    )
