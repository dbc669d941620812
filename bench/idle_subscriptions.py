"""What idle subscriptions of one workspace cost another: workspace B drafts messages one after
another, alone, then while workspace A holds many idle subscriptions (issue 12 found 1,500 of
them moving B's draftMessage median from 10 ms to 904 ms). Prints B's p50 and p99 both ways
and their ratios.

    .venv/bin/python -m bench.idle_subscriptions [--subscriptions 1500] [--per-connection 50]
        [--requests 200]

A's subscriptions are spread over connections of `--per-connection` each; the server's per-key
caps are raised for the run so that one key can hold them all (the caps are not measured
here: this measures what an idle subscription costs, whatever holds it).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx
import websockets

from bench.servers import Server, create_key, free_port, herald_server

DRAFT = 'mutation { draftMessage(input: {conversationId: "bench", text: "from B"}) { id } }'
SUBSCRIBE = "subscription { messageEvents { messageId } }"
WAIT = 120.0


async def latencies(base: str, key: str, requests: int) -> list[float]:
    """Milliseconds of each of B's drafts, sent one after another."""
    taken = []
    async with httpx.AsyncClient(headers={"Authorization": f"Bearer {key}"}) as http:
        for _ in range(requests):
            started = time.perf_counter()
            response = await http.post(f"{base}/graphql", json={"query": DRAFT}, timeout=WAIT)
            taken.append((time.perf_counter() - started) * 1000)
            assert response.status_code == 200, response.text
            assert "errors" not in response.json(), response.text
    return taken


class Idle:
    """A's connections, each with its subscriptions, and a reader per connection."""

    def __init__(self, port: int, key: str, total: int, per_connection: int) -> None:
        self.port, self.key = port, key
        self.sizes = [min(per_connection, total - n) for n in range(0, total, per_connection)]
        self.seen: list[set[str]] = [set() for _ in self.sizes]  # operations that got an event
        self.sockets: list[Any] = []
        self.readers: list[asyncio.Task[None]] = []

    async def open(self) -> None:
        for index, size in enumerate(self.sizes):
            ws = await websockets.connect(
                f"ws://127.0.0.1:{self.port}/graphql",
                subprotocols=[websockets.Subprotocol("graphql-transport-ws")],
                max_queue=None,
            )
            await ws.send(
                json.dumps(
                    {"type": "connection_init", "payload": {"Authorization": f"Bearer {self.key}"}}
                )
            )
            assert json.loads(await ws.recv())["type"] == "connection_ack"
            for n in range(size):
                payload = {"query": SUBSCRIBE}
                await ws.send(json.dumps({"id": str(n), "type": "subscribe", "payload": payload}))
            self.sockets.append(ws)
            self.readers.append(asyncio.create_task(self._read(ws, index)))

    async def _read(self, ws: Any, index: int) -> None:
        async for raw in ws:
            message = json.loads(raw)
            if message["type"] == "ping":
                await ws.send(json.dumps({"type": "pong"}))
            elif message["type"] == "next":
                self.seen[index].add(message["id"])

    async def live(self, base: str) -> None:
        """Until every subscription has had an event of A (one written before it started never
        comes, so write again while any is missing)."""
        deadline = time.monotonic() + WAIT
        async with httpx.AsyncClient(headers={"Authorization": f"Bearer {self.key}"}) as http:
            while any(len(seen) < size for seen, size in zip(self.seen, self.sizes, strict=True)):
                assert time.monotonic() < deadline, "A's subscriptions did not all start"
                await http.post(f"{base}/graphql", json={"query": DRAFT}, timeout=WAIT)
                await asyncio.sleep(0.5)  # a pause between A's priming writes, not a measurement

    async def close(self) -> None:
        for reader in self.readers:
            reader.cancel()
        for ws in self.sockets:
            await ws.close()


def p99(taken: list[float]) -> float:
    return statistics.quantiles(taken, n=100)[98]


def summary(taken: list[float]) -> dict[str, object]:
    return {
        "p50_ms": round(statistics.median(taken), 2),
        "p90_ms": round(statistics.quantiles(taken, n=100)[89], 2),
        "p99_ms": round(p99(taken), 2),
        "slowest_ms": [round(t) for t in sorted(taken)[-5:]],
    }


async def measure(
    server: Server, a_key: str, b_key: str, args: argparse.Namespace
) -> dict[str, Any]:
    await latencies(server.base_url, b_key, args.requests // 2)  # warm-up
    alone_ms = await latencies(server.base_url, b_key, args.requests)
    idle = Idle(server.port, a_key, args.subscriptions, args.per_connection)
    try:
        await idle.open()
        await idle.live(server.base_url)
        beside_ms = await latencies(server.base_url, b_key, args.requests)
    finally:
        await idle.close()
    return {
        "subscriptions_of_a": args.subscriptions,
        "connections_of_a": len(idle.sizes),
        "b_alone": summary(alone_ms),
        "b_beside_idle_a": summary(beside_ms),
        "p50_ratio": round(statistics.median(beside_ms) / statistics.median(alone_ms), 2),
        "p99_ratio": round(p99(beside_ms) / p99(alone_ms), 2),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.idle_subscriptions")
    parser.add_argument("--subscriptions", type=int, default=1500)
    parser.add_argument("--per-connection", type=int, default=50)
    parser.add_argument("--requests", type=int, default=200)
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="herald-idle-") as work:
        database = f"sqlite:///{Path(work) / 'herald.db'}"
        a_key, b_key = create_key(database, "a"), create_key(database, "b")
        port = free_port()
        server = herald_server(port, database, Path(work) / "server.log")
        server.env.update(
            HERALD_MAX_CONNECTIONS_PER_KEY=str(args.subscriptions),
            HERALD_MAX_SUBSCRIPTIONS_PER_KEY=str(args.subscriptions),
            HERALD_MAX_SUBSCRIPTIONS=str(args.per_connection),
        )
        with server.start():
            figures = asyncio.run(measure(server, a_key, b_key, args))
    print(json.dumps(figures, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
