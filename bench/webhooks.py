"""Webhook benchmark: how fast the dispatcher delivers to a fast local receiver, and the lag from
an event's time to its delivery (p50, p99), beside the draftMessage rate of the same run.

    .venv/bin/python -m bench.webhooks [--quick | --smoke] [--json bench/webhooks.json]

One `herald serve` on a SQLite file, with the dispatcher where it runs by default (a process
`herald serve` starts beside its workers), then again with it in a `herald dispatch` process
started apart. Each time draftMessage is driven at full speed with no endpoint (the rate without
webhooks), then with one endpoint that takes every event. Each draft makes one event, so the
dispatcher keeps up when it delivers as many per second as events are recorded, the lag staying
low. The key's rate limit is raised out of the way: what is measured is delivery, and a draft
refused for its rate (each worker has its share of the key's rate) makes no event."""

from __future__ import annotations

import argparse
import json
import signal
import sqlite3
import statistics
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path

from bench import loadgen, servers
from bench.loadgen import LoadResult, Request
from bench.results import Results
from bench.run import workspace

WORKSPACE = "bench"
CREATE = (
    "mutation($input: CreateWebhookEndpointInput!) "
    "{ createWebhookEndpoint(input: $input) { endpoint { id } } }"
)
DRAFT = (
    "mutation Draft($input: DraftMessageInput!) "
    "{ draftMessage(input: $input) { id version status text } }"
)
PLACES = {"serve": "started by herald serve", "apart": "in a herald dispatch process"}
_FIGURES = (
    "draft.plain_rps",
    "draft.hooked_rps",
    "delivered",
    "delivery_dps",
    "event_rps",
    "lag_p50_ms",
    "lag_p99_ms",
    "lag_max_ms",
    "drain_s",
)
FIGURES = tuple(f"webhooks.{place}.{name}" for place in PLACES for name in _FIGURES)
RATIOS = tuple(f"webhooks.{place}.{name}" for place in PLACES for name in ("keep_up", "cost"))


@dataclass(frozen=True)
class Sizes:
    seconds: float  # per load run
    connections: int
    warmup: float


MODES = {
    "full": Sizes(10, 16, 3),
    "quick": Sizes(5, 16, 2),
    "smoke": Sizes(1, 4, 0),
}


def percentile(ordered: list[float], q: float) -> float:
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def noted(receiver: servers.Server) -> list[tuple[float, float, str]]:
    with urllib.request.urlopen(f"{receiver.base_url}/stats", timeout=30) as answer:
        found: list[tuple[float, float, str]] = json.loads(answer.read())["noted"]
    return found


def undelivered(db: Path) -> int:
    """Events the outbox has not queued yet, and deliveries not made yet."""
    with sqlite3.connect(db) as conn:
        last = conn.execute("SELECT COALESCE(MAX(rowid), 0) FROM stored_events").fetchone()[0]
        tracked = conn.execute(
            "SELECT COALESCE(MAX(notification_id), 0) FROM tracking "
            "WHERE application_name = 'herald_webhooks'"
        ).fetchone()[0]
        pending = conn.execute(
            "SELECT COUNT(*) FROM webhook_deliveries WHERE status = 'pending'"
        ).fetchone()[0]
        return int(last - tracked + pending)


@contextmanager
def dispatching(env: dict[str, str], log: Path) -> Iterator[None]:
    """`herald dispatch`, running until the block ends."""
    with log.open("ab") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", "app.cli", "dispatch"],
            cwd=servers.REPO,
            env=servers.python_env(env),
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    try:
        yield
    finally:
        process.send_signal(signal.SIGINT)
        process.wait(timeout=60)


def measure(r: Results, sizes: Sizes, work: Path, tool: str, place: str) -> None:
    r.begin(f"Webhooks, the dispatcher {PLACES[place]} (SQLite)")
    db = work / f"{place}.db"
    env = {
        "HERALD_DATABASE_URL": f"sqlite:///{db}",
        "HERALD_WEBHOOK_ALLOW_PRIVATE": "1",
        "HERALD_RATE_LIMIT": "10000000",
        "HERALD_RATE_BURST": "10000000",
    }
    if place == "apart":
        env["HERALD_WEBHOOK_DISPATCH"] = "0"
    key = servers.create_key(env["HERALD_DATABASE_URL"], WORKSPACE)
    auth = {"Authorization": f"Bearer {key}"}
    port, receiver_port = servers.free_port(), servers.free_port()
    python = sys.executable
    herald = servers.Server(
        "herald", [python, "-m", "app.cli", "serve", "--port", str(port)], port, work / "h.log", env
    )
    receiver = servers.Server(
        "receiver",
        [python, "-m", "bench.webhook_receiver", "--port", str(receiver_port)],
        receiver_port,
        work / "receiver.log",
    )
    draft = Request(
        f"{herald.base_url}/graphql",
        json.dumps(
            {"query": DRAFT, "variables": {"input": {"conversationId": "c", "text": "Hello"}}}
        ).encode(),
        auth,
    )

    def load(seconds: float) -> LoadResult:
        binary = loadgen.wrk_binary()
        if tool.startswith("wrk") and binary is not None:
            return loadgen.run_wrk(binary, draft, seconds, sizes.connections)
        return loadgen.run_python(draft, seconds, sizes.connections)

    with ExitStack() as running:
        for server in (herald, receiver):
            running.enter_context(server)
        herald.start(draft)
        receiver.start()
        if place == "apart":
            running.enter_context(dispatching(env, work / "dispatch.log"))
        if sizes.warmup:
            load(sizes.warmup)
        plain = load(sizes.seconds)
        made = {"input": {"url": f"{receiver.base_url}/hook"}}
        status, body = servers.post(
            Request(draft.url, json.dumps({"query": CREATE, "variables": made}).encode(), auth)
        )
        assert status == 200, body
        assert b"errors" not in body, body
        with sqlite3.connect(db) as conn:
            since = int(conn.execute("SELECT MAX(since) FROM webhook_endpoints").fetchone()[0])
        started = time.time()
        hooked = load(sizes.seconds)
        ended = time.time()
        deadline = time.monotonic() + 120
        while undelivered(db) and time.monotonic() < deadline:
            time.sleep(0.1)  # waiting for the backlog to drain, with a deadline
        got = noted(receiver)
        with sqlite3.connect(db) as conn:
            expected = conn.execute(
                "SELECT COUNT(*) FROM stored_events WHERE rowid > ?", (since,)
            ).fetchone()[0]
    report(r, place, plain, hooked, got, expected, started, ended)
    r.note(
        f"{tool}, {sizes.connections} connections, {sizes.seconds:g}s per run; {expected:,} "
        f"events after the endpoint was made, {len({i for *_, i in got}):,} distinct "
        "webhook-ids received."
    )


def report(
    r: Results,
    place: str,
    plain: LoadResult,
    hooked: LoadResult,
    got: list[tuple[float, float, str]],
    expected: int,
    started: float,
    ended: float,
) -> None:
    k = f"webhooks.{place}"
    r.figure(f"{k}.draft.plain_rps", "draftMessage, no endpoint", plain.rps, "req/s")
    r.figure(f"{k}.draft.hooked_rps", "draftMessage, one endpoint", hooked.rps, "req/s")
    r.figure(f"{k}.delivered", "deliveries received", len(got), "deliveries")
    if len(got) < expected:
        r.note(f"ONLY {len(got)} OF {expected} DELIVERIES ARRIVED WITHIN 120 S")
    arrivals = sorted(arrived for arrived, _, _ in got)
    lags = sorted((arrived - occurred) * 1000 for arrived, occurred, _ in got)
    span = max(arrivals[-1], ended) - started
    r.figure(f"{k}.event_rps", "events recorded per second", expected / (ended - started), "/s")
    r.figure(f"{k}.delivery_dps", "deliveries per second", len(got) / span, "deliveries/s")
    r.figure(f"{k}.lag_p50_ms", "event time to delivery, p50", percentile(lags, 0.5), "ms")
    r.figure(f"{k}.lag_p99_ms", "event time to delivery, p99", percentile(lags, 0.99), "ms")
    r.figure(f"{k}.lag_max_ms", "event time to delivery, max", lags[-1], "ms")
    drained = max(0.0, arrivals[-1] - ended)
    r.figure(f"{k}.drain_s", "last delivery after the load ended", drained, "s")
    r.ratio(f"{k}.keep_up", "deliveries / events", f"{k}.delivery_dps", f"{k}.event_rps")
    r.ratio(
        f"{k}.cost",
        "draftMessage with / without an endpoint",
        f"{k}.draft.hooked_rps",
        f"{k}.draft.plain_rps",
    )
    r.note(
        f"Mean lag {statistics.fmean(lags):.1f} ms. Lag: the receiver's clock at arrival minus "
        "the event's occurredAt (taken just before its commit), on one machine. Deliveries per "
        "second: all of them over the time from the load's start to the last arrival or the "
        "load's end, whichever is later."
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.webhooks", description=__doc__)
    mode = parser.add_mutually_exclusive_group()
    mode.add_argument("--quick", action="store_true")
    mode.add_argument("--smoke", action="store_true")
    parser.add_argument("--json", type=Path, default=None)
    parser.add_argument("--workdir", default=None)
    parser.add_argument("--keep", action="store_true")
    parser.add_argument("--loadgen", choices=("auto", "python"), default="auto")
    args = parser.parse_args(argv)
    name = "smoke" if args.smoke else "quick" if args.quick else "full"
    binary = loadgen.wrk_binary()
    use_wrk = binary is not None and args.loadgen == "auto"
    tool = loadgen.wrk_version(binary) if use_wrk and binary else "python asyncio load generator"
    r = Results(mode=name)
    with workspace(args.keep, args.workdir) as work:
        for place in PLACES:
            measure(r, MODES[name], work, tool, place)
        r.begin("Targets")
        for place, where in PLACES.items():
            r.target(f"webhooks.{place}.keep_up", f"keeps up, {where}", ">=", 0.95)
            r.target(f"webhooks.{place}.lag_p99_ms", f"p99 lag, {where}", "<=", 1000)
        r.finish()
    if args.json is not None:
        r.write_json(args.json)
    missing = [k for k in (*FIGURES, *RATIOS) if k not in r.figures]
    if missing:
        print(f"missing figures: {', '.join(missing)}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
