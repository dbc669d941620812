"""Load generators for loopback HTTP: wrk when it is installed, else an asyncio one. Each run
counts the requests that failed (a status other than 200, or a GraphQL "errors" member)."""

from __future__ import annotations

import asyncio
import re
import shutil
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

import uvloop


@dataclass(frozen=True)
class Request:
    url: str
    body: bytes
    headers: dict[str, str]


@dataclass(frozen=True)
class LoadResult:
    tool: str
    requests: int
    seconds: float
    p50_ms: float
    p99_ms: float
    failed: int

    @property
    def rps(self) -> float:
        return self.requests / self.seconds if self.seconds > 0 else 0.0


def wrk_binary() -> str | None:
    return shutil.which("wrk")


def wrk_version(binary: str) -> str:
    done = subprocess.run([binary, "--version"], capture_output=True, text=True, check=False)
    first = (done.stdout + done.stderr).strip().splitlines()
    return first[0] if first else "wrk (version unknown)"


_WRK_SCRIPT = """
wrk.method = "POST"
wrk.body = [==[{body}]==]
wrk.headers["Content-Type"] = "application/json"
{headers}
local threads = {{}}
function setup(thread) table.insert(threads, thread) end
function init(args) failed = 0 end
function response(status, headers, body)
  if status ~= 200 or string.find(body, '"errors"', 1, true) then failed = failed + 1 end
end
function done(summary, latency, requests)
  local bad = 0
  for _, t in ipairs(threads) do bad = bad + t:get("failed") end
  local e = summary.errors
  bad = bad + e.connect + e.read + e.write + e.timeout
  io.write(string.format("BENCH requests=%d micros=%d p50=%d p99=%d failed=%d\\n",
    summary.requests, summary.duration, latency:percentile(50), latency:percentile(99), bad))
end
"""
_WRK_LINE = re.compile(r"BENCH requests=(\d+) micros=(\d+) p50=(\d+) p99=(\d+) failed=(\d+)")


def run_wrk(
    binary: str, request: Request, seconds: float, connections: int, threads: int = 1
) -> LoadResult:
    headers = "\n".join(
        f'wrk.headers["{name}"] = [==[{value}]==]' for name, value in request.headers.items()
    )
    script = _WRK_SCRIPT.format(body=request.body.decode(), headers=headers)
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as f:
        f.write(script)
        path = Path(f.name)
    try:
        done = subprocess.run(
            [
                binary,
                f"-t{threads}",
                f"-c{connections}",
                f"-d{max(1, round(seconds))}s",
                "--timeout",
                "30s",
                "-s",
                str(path),
                request.url,
            ],
            capture_output=True,
            text=True,
            check=False,
        )
    finally:
        path.unlink()
    match = _WRK_LINE.search(done.stdout)
    if done.returncode != 0 or match is None:
        raise RuntimeError(f"wrk failed ({done.returncode}): {done.stdout}\n{done.stderr}")
    requests, micros, p50, p99, failed = (int(g) for g in match.groups())
    return LoadResult("wrk", requests, micros / 1e6, p50 / 1000, p99 / 1000, failed)


def run_python(request: Request, seconds: float, connections: int) -> LoadResult:
    """Keep-alive connections on raw asyncio streams (uvloop): no HTTP client library in the
    way, so this process can drive far more than a Python server answers (see capacity)."""
    with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
        return runner.run(_python_load(request, seconds, connections))


async def _python_load(request: Request, seconds: float, connections: int) -> LoadResult:
    parts = urlsplit(request.url)
    host, port = parts.hostname or "127.0.0.1", parts.port or 80
    head = [
        f"POST {parts.path or '/'} HTTP/1.1",
        f"Host: {host}:{port}",
        "Content-Type: application/json",
        f"Content-Length: {len(request.body)}",
        *(f"{name}: {value}" for name, value in request.headers.items()),
    ]
    raw = ("\r\n".join(head) + "\r\n\r\n").encode() + request.body
    latencies: list[float] = []
    failed = [0]
    started = time.perf_counter()
    deadline = started + seconds
    await asyncio.gather(
        *(_client(host, port, raw, deadline, latencies, failed) for _ in range(connections))
    )
    elapsed = time.perf_counter() - started
    latencies.sort()
    return LoadResult(
        "python-asyncio",
        len(latencies),
        elapsed,
        _percentile(latencies, 0.50) * 1000,
        _percentile(latencies, 0.99) * 1000,
        failed[0],
    )


async def _client(
    host: str, port: int, raw: bytes, deadline: float, latencies: list[float], failed: list[int]
) -> None:
    reader, writer = await asyncio.open_connection(host, port)
    try:
        while time.perf_counter() < deadline:
            sent = time.perf_counter()
            writer.write(raw)
            status, body = await _response(reader)
            latencies.append(time.perf_counter() - sent)
            if status != 200 or b'"errors"' in body:
                failed[0] += 1
    finally:
        writer.close()
        await writer.wait_closed()


async def _response(reader: asyncio.StreamReader) -> tuple[int, bytes]:
    head = await reader.readuntil(b"\r\n\r\n")
    lines = head.split(b"\r\n")
    status = int(lines[0].split()[1])
    length: int | None = None
    chunked = False
    for line in lines[1:]:
        name, _, value = line.partition(b":")
        name = name.strip().lower()
        if name == b"content-length":
            length = int(value.strip())
        elif name == b"transfer-encoding" and b"chunked" in value.lower():
            chunked = True
    if not chunked:
        return status, await reader.readexactly(length or 0)
    body = b""
    while True:
        size = int((await reader.readuntil(b"\r\n")).strip().split(b";")[0], 16)
        chunk = await reader.readexactly(size + 2)
        if size == 0:
            return status, body
        body += chunk[:-2]


def _percentile(ordered: list[float], q: float) -> float:
    if not ordered:
        return 0.0
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]
