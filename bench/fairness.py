"""Fairness between workspaces: workspace B's steady light load (`message(id)` and
`draftMessage` at a fixed pace) alone, then while workspace A runs the heaviest operations the
limits allow from several connections at full speed (honouring Retry-After, as a client of a
rate-limited API does) and a client with no key sends the fragment chain at growing lengths.

    .venv/bin/python -m bench.fairness [--seconds 20] [--report bench/fairness.md]

Figures: B's p50 and p99 with A as ratios to B alone (target: p99 at most 3x), the server's peak
memory (target: at most 300 MiB), and the slowest answer to the fragment chain (target: under
50 ms, refused or served)."""

from __future__ import annotations

import argparse
import asyncio
import json
import subprocess
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

from app.api.paging import MAX_HISTORY
from app.api.prices import CONTENT as CONTENT_POINTS
from app.runtime import Herald
from app.settings import Settings
from app.workspaces import Principal
from bench import servers
from bench.loadgen import _response
from bench.workload import draft_fields

BIG = 100  # A's messages, each with a text of the largest size content may have
CONTENT = "é" * 65_536  # non-ASCII: the worst case for answer size and encoding
CHAIN_LENGTHS = (10, 20, 30, 40, 60, 100, 200, 400)
B_QUERY_RATE = 40.0  # message(id) a second
B_DRAFT_RATE = 10.0  # draftMessage a second
A_CONNECTIONS = 6
READ = "query($id: ID!) { message(id: $id) { id version status text } }"
DRAFT = "mutation($input: DraftMessageInput!) { draftMessage(input: $input) { id } }"


def chain(length: int) -> str:
    fragments = [
        f"fragment F{i} on Query {{ __typename ...F{i + 1} ... on Query {{ ...F{i + 1} }} }}"
        for i in range(length - 1)
    ]
    fragments.append(f"fragment F{length - 1} on Query {{ __typename }}")
    return "query { ...F0 }\n" + "\n".join(fragments)


def heavy_operations(budget: int) -> tuple[str, ...]:
    """A's operations, each as near the budget as its shape allows (see app.api.cost)."""
    content = (budget - 1) // (2 + 2 * CONTENT_POINTS)
    history = (budget - 1) // (3 + MAX_HISTORY * 2)
    return (
        f"{{ messages(first: {content}) {{ edges {{ node {{ text body }} }} }} }}",
        f"{{ events(first: {content}) {{ edges {{ node {{"
        " ... on MessageDrafted { text body } } } } }",
        f"{{ messages(first: {history}) {{ edges {{ node {{ history {{ edges {{ node {{"
        " type version } } } } } } }",
    )


@dataclass
class Client:
    """One keep-alive HTTP/1.1 connection."""

    url: str
    headers: dict[str, str]
    reader: asyncio.StreamReader | None = None
    writer: asyncio.StreamWriter | None = None

    async def post(self, document: str, variables: object = None) -> tuple[int, bytes, float]:
        try:
            return await self._post(document, variables)
        except (asyncio.IncompleteReadError, ConnectionError):
            self.close()  # the server closed it while idle (keep-alive timeout): once more
            return await self._post(document, variables)

    async def _post(self, document: str, variables: object) -> tuple[int, bytes, float]:
        parts = urlsplit(self.url)
        if self.writer is None:
            self.reader, self.writer = await asyncio.open_connection(parts.hostname, parts.port)
        body = json.dumps({"query": document, "variables": variables or {}}).encode()
        head = [
            f"POST {parts.path} HTTP/1.1",
            f"Host: {parts.hostname}:{parts.port}",
            "Content-Type: application/json",
            f"Content-Length: {len(body)}",
            *(f"{k}: {v}" for k, v in self.headers.items()),
        ]
        sent = time.perf_counter()
        self.writer.write(("\r\n".join(head) + "\r\n\r\n").encode() + body)
        assert self.reader is not None
        status, answer = await _response(self.reader)
        return status, answer, time.perf_counter() - sent

    def close(self) -> None:
        if self.writer is not None:
            self.writer.close()
        self.reader = self.writer = None


@dataclass
class Tally:
    latencies: list[float] = field(default_factory=list)
    failed: int = 0
    refused: int = 0

    def percentile(self, q: float) -> float:
        ordered = sorted(self.latencies)
        return ordered[min(len(ordered) - 1, int(q * len(ordered)))] * 1000 if ordered else 0.0


async def paced(
    url: str, key: str, document: str, variables: object, rate: float, seconds: float
) -> Tally:
    """Open loop: a request every 1/rate seconds, each on a free connection of a small pool."""
    tally = Tally()
    idle: list[Client] = []
    tasks: list[asyncio.Task[None]] = []

    async def one() -> None:
        client = idle.pop() if idle else Client(url, {"Authorization": f"Bearer {key}"})
        status, body, took = await client.post(document, variables)
        tally.latencies.append(took)
        if status != 200 or b'"errors"' in body:
            tally.failed += 1
        idle.append(client)

    started = time.perf_counter()
    for i in range(int(rate * seconds)):
        await asyncio.sleep(max(0.0, started + i / rate - time.perf_counter()))
        tasks.append(asyncio.create_task(one()))
    await asyncio.gather(*tasks)
    for client in idle:
        client.close()
    return tally


async def heavy(url: str, key: str, document: str, until: float) -> Tally:
    """Back to back, waiting only as long as a 429's Retry-After says."""
    tally = Tally()
    client = Client(url, {"Authorization": f"Bearer {key}"})
    while time.perf_counter() < until:
        status, body, took = await client.post(document)
        if status == 429:
            tally.refused += 1
            retry = json.loads(body)["errors"][0]["extensions"].get("retryAfter", 0.1)
            await asyncio.sleep(min(retry, max(0.0, until - time.perf_counter())))
        elif status != 200 or b'"errors"' in body:
            tally.failed += 1
        else:
            tally.latencies.append(took)
    client.close()
    return tally


async def chains(url: str, until: float, longest: int) -> dict[int, float]:
    """The slowest answer, in ms, to the fragment chain of each length, without a key."""
    slowest: dict[int, float] = {}
    client = Client(url, {})
    while time.perf_counter() < until:
        for length in (n for n in CHAIN_LENGTHS if n <= longest):
            status, _, took = await client.post(chain(length))
            assert status in (200, 400, 429), status
            slowest[length] = max(slowest.get(length, 0.0), took * 1000)
        await asyncio.sleep(0.2)
    client.close()
    return slowest


async def b_load(url: str, key: str, probe: str, seconds: float) -> Tally:
    draft = {"input": {"conversationId": "b", "text": "Hello from B"}}
    query, drafts = await asyncio.gather(
        paced(url, key, READ, {"id": probe}, B_QUERY_RATE, seconds),
        paced(url, key, DRAFT, draft, B_DRAFT_RATE, seconds),
    )
    print(
        f"  B message(id) p50 {query.percentile(0.5):.1f} p99 {query.percentile(0.99):.1f} ms; "
        f"draftMessage p50 {drafts.percentile(0.5):.1f} p99 {drafts.percentile(0.99):.1f} ms"
    )
    return Tally(query.latencies + drafts.latencies, query.failed + drafts.failed)


async def with_a(
    url: str, b_key: str, a_key: str, probe: str, seconds: float, longest: int
) -> tuple[Tally, list[Tally], dict[int, float]]:
    until = time.perf_counter() + seconds
    operations = heavy_operations(Settings.from_env().max_cost)
    a = [
        asyncio.create_task(heavy(url, a_key, operations[i % len(operations)], until))
        for i in range(A_CONNECTIONS)
    ]
    chain_task = asyncio.create_task(chains(url, until, longest))
    b = await b_load(url, b_key, probe, seconds)
    return b, [await t for t in a], await chain_task


def seed(url: str) -> tuple[str, str, str]:
    """A's key and big messages; B's key and the message B reads."""
    herald = Herald(Settings(database_url=url))
    try:
        a_key = herald.workspaces.create_key("a", "a")
        b_key = herald.workspaces.create_key("b", "b")
        a = Principal(herald.workspaces.ensure("a"), "a")
        for i in range(BIG):
            herald.store.draft(a, None, **draft_fields(f"a-{i}", CONTENT))
        b = Principal(herald.workspaces.ensure("b"), "b")
        probe = str(herald.store.draft(b, None, **draft_fields("b", "Hello, B")).id)
    finally:
        herald.close()
    return a_key, b_key, probe


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--report", type=Path, default=None)
    parser.add_argument(
        "--profile", type=Path, default=None, help="py-spy samples of the server while A runs"
    )
    parser.add_argument(
        "--code",
        type=Path,
        default=None,
        help="serve another checkout of Herald (with its own .venv), e.g. main, for a before",
    )
    parser.add_argument(
        "--chain-max", type=int, default=max(CHAIN_LENGTHS), help="the longest fragment chain"
    )
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="herald-fairness-"))
    url = f"sqlite:///{work}/herald.db"
    a_key, b_key, probe = seed(url)
    server = serving(args.code, url, work / "server.log")
    print(f"server log: {work / 'server.log'}")
    with server:
        server.start()
        graphql = f"{server.base_url}/graphql"
        alone = asyncio.run(b_load(graphql, b_key, probe, args.seconds))
        spy = None if args.profile is None else sampling(server.pid, args.profile, args.seconds)
        b, a_tallies, chain_times = asyncio.run(
            with_a(graphql, b_key, a_key, probe, args.seconds, args.chain_max)
        )
        if spy is not None:
            spy.wait(timeout=60)
        rss = server.peak_rss_kib() / 1024
    lines = report(alone, b, a_tallies, chain_times, rss, args.seconds)
    print("\n".join(lines))
    if args.report is not None:
        args.report.write_text("\n".join(lines) + "\n")


def serving(code: Path | None, url: str, log: Path) -> servers.Server:
    """One process (`--workers 1`): its memory and its profile are the server's own, and the
    contention measured is within one interpreter, as a worker of several would see it."""
    port = servers.free_port()
    if code is None:
        server = servers.herald_server(port, url, log)
        server.argv += ["--workers", "1"]
        return server
    # Its own directory first on the path, and its own interpreter: not this checkout's code.
    python = code / ".venv" / "bin" / "python"
    serve = f"{python} -m app.cli serve --host 127.0.0.1 --port {port} --workers 1"
    argv = ["bash", "-c", f"cd {code} && PYTHONPATH={code} exec {serve}"]
    return servers.Server("herald (other code)", argv, port, log, {"HERALD_DATABASE_URL": url})


def sampling(pid: int, raw: Path, seconds: float) -> subprocess.Popen[bytes]:
    """py-spy (`pip install py-spy`) sampling every thread of the server, as bench.profile."""
    argv = ["py-spy", "record", "--format", "raw", "--threads", "--nonblocking", "-r", "200"]
    argv += ["-d", str(int(seconds)), "-o", str(raw), "-p", str(pid)]
    return subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def report(
    alone: Tally,
    b: Tally,
    a_tallies: list[Tally],
    chain_times: dict[int, float],
    rss: float,
    seconds: float,
) -> list[str]:
    p50, p99 = (
        b.percentile(0.5) / alone.percentile(0.5),
        b.percentile(0.99) / alone.percentile(0.99),
    )
    served = sum(len(t.latencies) for t in a_tallies)
    refused = sum(t.refused for t in a_tallies)
    slowest = max(chain_times.values()) if chain_times else 0.0
    verdict = {True: "PASS", False: "MISS"}
    return [
        f"B alone: {len(alone.latencies)} requests in {seconds:.0f}s, "
        f"p50 {alone.percentile(0.5):.1f} ms, p99 {alone.percentile(0.99):.1f} ms, "
        f"{alone.failed} failed",
        f"B with A: {len(b.latencies)} requests, p50 {b.percentile(0.5):.1f} ms, "
        f"p99 {b.percentile(0.99):.1f} ms, {b.failed} failed",
        f"A: {served} heavy operations served, {refused} refused with 429 (then waited), "
        f"{sum(t.failed for t in a_tallies)} failed otherwise; "
        f"A's p50 {statistics_p50(a_tallies):.0f} ms",
        "fragment chain, slowest answer by length (ms): "
        + ", ".join(f"{n}: {ms:.1f}" for n, ms in sorted(chain_times.items())),
        "",
        "| figure | value | target | verdict |",
        "|---|---|---|---|",
        f"| B's p50 with A / alone | {p50:.2f} | (reported) | |",
        f"| B's p99 with A / alone | {p99:.2f} | <= 3 | {verdict[p99 <= 3]} |",
        f"| server peak RSS (VmHWM) | {rss:.0f} MiB | <= 300 MiB | {verdict[rss <= 300]} |",
        f"| slowest fragment-chain answer | {slowest:.1f} ms | < 50 ms | {verdict[slowest < 50]} |",
    ]


def statistics_p50(tallies: list[Tally]) -> float:
    return Tally([x for t in tallies for x in t.latencies]).percentile(0.5)


if __name__ == "__main__":
    main()
