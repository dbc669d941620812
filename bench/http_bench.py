"""HTTP throughput, like with like: Herald and the bare strawberry ceiling each served by uvicorn
with the same number of worker processes, one after the other in the same run, at one worker and
at one per core; and the memory of all of Herald's processes together."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import TYPE_CHECKING

from bench import loadgen, servers
from bench.loadgen import LoadResult, Request
from bench.metrics_cost import bench_metrics_cost
from bench.results import Results

if TYPE_CHECKING:
    from bench.run import Sizes

CORES = os.cpu_count() or 1
WORKSPACE = "bench"
QUERY = "query Message($id: ID!) { message(id: $id) { id version status text } }"
MUTATION = (
    "mutation Draft($input: DraftMessageInput!) "
    "{ draftMessage(input: $input) { id version status text } }"
)
DRAFT_INPUT = {"input": {"conversationId": "bench-http", "text": "Hello from the benchmark"}}


def worker_counts() -> list[tuple[int, str]]:
    """(workers, the prefix of their figures): one worker, and one per core."""
    counts = [(1, "http")]
    if CORES > 1:
        counts.append((CORES, "http.all"))
    return counts


def bench_http(r: Results, sizes: Sizes, work: Path, tool: str, url: str, probe: str) -> None:
    key = servers.create_key(url, WORKSPACE)
    auth = {"Authorization": f"Bearer {key}"}

    def load(req: Request, seconds: float = sizes.http_seconds) -> LoadResult:
        binary = loadgen.wrk_binary()
        if tool.startswith("wrk") and binary is not None:
            result = loadgen.run_wrk(binary, req, seconds, sizes.connections)
        else:
            result = loadgen.run_python(req, seconds, sizes.connections)
        if result.requests == 0:
            raise RuntimeError(f"no request to {req.url} was answered")
        return result

    def request(server: servers.Server, document: str, variables: object, h: bool) -> Request:
        payload = json.dumps({"query": document, "variables": variables}).encode()
        return Request(f"{server.base_url}/graphql", payload, auth if h else {})

    r.begin("HTTP throughput (loopback)")
    null = servers.null_server(servers.free_port(), work / "null-server.log")
    with null:
        null.start()
        mutation = request(null, MUTATION, DRAFT_INPUT, True)
        capacity = load(mutation)
    r.figure(
        "http.loadgen.capacity_rps", "load generator vs a trivial responder", capacity.rps, "req/s"
    )
    failures: list[str] = []
    fastest = 0.0
    for workers, prefix in worker_counts():
        label = "1 worker" if workers == 1 else f"{workers} workers"
        log = work / f"herald-server-{workers}.log"
        herald = servers.herald_server(servers.free_port(), url, log, workers)
        ceiling = servers.ceiling_server(
            servers.free_port(), work / f"ceiling-{workers}.log", workers
        )
        with herald, ceiling:
            requests = {
                ("query", "herald"): request(herald, QUERY, {"id": probe}, True),
                ("query", "ceiling"): request(ceiling, QUERY, {"id": probe}, False),
                ("mutation", "herald"): request(herald, MUTATION, DRAFT_INPUT, True),
                ("mutation", "ceiling"): request(ceiling, MUTATION, DRAFT_INPUT, False),
            }
            herald.start(requests[("query", "herald")])
            ceiling.start(requests[("query", "ceiling")])
            for kind in ("query", "mutation"):
                for who in ("ceiling", "herald"):
                    req = requests[(kind, who)]
                    if sizes.warmup:
                        load(req, sizes.warmup)
                    result = load(req)
                    if result.failed:
                        failures.append(f"{who} {kind} ({label}): {result.failed} failed")
                    name = "bare strawberry" if who == "ceiling" else "Herald"
                    what = "message(id)" if kind == "query" else "draftMessage"
                    fastest = max(fastest, result.rps)
                    r.figure(
                        f"{prefix}.{kind}.{who}_rps", f"{name} {what}, {label}", result.rps, "req/s"
                    )
                    r.figure(
                        f"{prefix}.{kind}.{who}_p50_ms",
                        f"{name} {what} p50, {label}",
                        result.p50_ms,
                        "ms",
                    )
                    r.note(
                        f"{name} {what}, {label}: {result.requests:,} requests in "
                        f"{result.seconds:.1f}s, p99 {result.p99_ms:.1f} ms, {result.failed} failed"
                    )
            for kind, what in (("query", "message(id)"), ("mutation", "draftMessage")):
                r.ratio(
                    f"{prefix}.{kind}.ratio",
                    f"{what} / ceiling, {label}",
                    f"{prefix}.{kind}.herald_rps",
                    f"{prefix}.{kind}.ceiling_rps",
                )
            memory(r, herald, ceiling, prefix, label)
    r.figure("http.loadgen.fastest_rps", "fastest server measured", fastest, "req/s")
    r.ratio(
        "http.loadgen.headroom",
        "load generator headroom",
        "http.loadgen.capacity_rps",
        "http.loadgen.fastest_rps",
    )
    r.note(
        f"{tool}, {sizes.connections} keep-alive connections, {sizes.http_seconds:g}s per run"
        f"{f' after an untimed {sizes.warmup:g}s run' if sizes.warmup else ''}. Herald is "
        "`herald serve --workers N` (N workers and the webhook dispatcher beside them); the "
        "ceiling is a bare strawberry app answering the same documents with constants, served "
        "by uvicorn.run with the same N workers; both log as uvicorn does by default. The "
        "message(id) query reads the probe message on the large store."
    )
    if failures:
        r.note("FAILED REQUESTS (figures invalid): " + "; ".join(failures))
    headroom = r.figures["http.loadgen.headroom"].value
    r.note(
        f"The generator drove a trivial responder at {capacity.rps:,.0f} req/s, "
        f"{headroom:.1f}x the fastest server here"
        + ("; it is not the bottleneck." if headroom >= 2 else "; IT MAY BE THE BOTTLENECK.")
    )
    bench_metrics_cost(r, url, key, probe, sizes.samples * 4)


def memory(
    r: Results, herald: servers.Server, ceiling: servers.Server, prefix: str, label: str
) -> None:
    name = "memory" if prefix == "http" else "memory.all"
    r.figure(
        f"{name}.herald_peak_mib",
        f"Herald peak RSS, all its processes, {label}",
        herald.peak_rss_kib(tree=True) / 1024,
        "MiB",
    )
    r.figure(
        f"{name}.ceiling_peak_mib",
        f"bare strawberry peak RSS, all its processes, {label}",
        ceiling.peak_rss_kib(tree=True) / 1024,
        "MiB",
    )
    r.ratio(
        f"{name}.ratio",
        f"Herald / bare, {label}",
        f"{name}.herald_peak_mib",
        f"{name}.ceiling_peak_mib",
    )
