"""Profiles of what the benchmark measures, to see where the time goes:

    .venv/bin/python -m bench.profile http-query|http-mutation|rebuild|long-load [--out DIR]

http-*: py-spy samples the Herald server process while the load generator drives it, and the
samples are summed per function (inclusive and self) and per package. rebuild, long-load:
pyinstrument in this process around the measured call. Both tools come from PyPI:
`.venv/bin/pip install py-spy pyinstrument`.
"""

from __future__ import annotations

import argparse
import importlib
import json
import shutil
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

from bench import loadgen, servers
from bench.http_bench import MUTATION, QUERY
from bench.loadgen import Request
from bench.run import WORKSPACE, Store, open_store
from bench.workload import ACTOR, grow, long_history

_BOILERPLATE = ("runpy", "uvicorn/server.py", "uvicorn/main.py", "asyncio/runners.py", "app/cli.py")


def summarise(raw: Path, top: int = 45) -> str:
    """py-spy's raw output (one `frame;frame;... count` line per stack) as three tables."""
    inclusive: Counter[str] = Counter()
    own: Counter[str] = Counter()
    packages: Counter[str] = Counter()
    total = 0
    for line in raw.read_text().splitlines():
        stack, _, count = line.rpartition(" ")
        if not count.isdigit():
            continue
        n = int(count)
        total += n
        frames = stack.split(";")
        own[frames[-1]] += n
        packages[_package(frames[-1])] += n
        for frame in set(frames):
            inclusive[frame] += n
    if not total:
        return "no samples\n"
    out = [f"{total} samples", "", "inclusive (a function and what it calls):"]
    shown = 0
    for frame, n in inclusive.most_common():
        if any(b in frame for b in _BOILERPLATE):
            continue
        out.append(f"  {100 * n / total:5.1f}%  {frame}")
        shown += 1
        if shown == top:
            break
    out += ["", "self (the function's own code, C calls included):"]
    out += [f"  {100 * n / total:5.1f}%  {f}" for f, n in own.most_common(25)]
    out += ["", "self, by package:"]
    out += [f"  {100 * n / total:5.1f}%  {p}" for p, n in packages.most_common(12)]
    return "\n".join(out) + "\n"


def _package(frame: str) -> str:
    """`name (strawberry/schema/schema.py)` -> strawberry; a bare `file.py` is the stdlib."""
    _, _, where = frame.rpartition(" (")
    path = where.rstrip(")").split(":")[0]
    return path.split("/")[0] if "/" in path else "stdlib/builtins"


def _tool(name: str) -> str:
    found = shutil.which(name) or str(Path(sys.executable).parent / name)
    if not Path(found).exists():
        raise SystemExit(f"{name} is not installed: .venv/bin/pip install {name}")
    return found


def _prepare(work: Path, events: int) -> Store:
    store = open_store(f"sqlite:///{work}/bench.db")
    grow(store[0].store, store[1].workspace, events)
    store[0].projection.catch_up()
    return store


def profile_http(kind: str, events: int, seconds: float, work: Path) -> str:
    herald, _, probe = _prepare(work, events)
    herald.close()
    url = f"sqlite:///{work}/bench.db"
    key = servers.create_key(url, WORKSPACE)
    server = servers.herald_server(servers.free_port(), url, work / "server.log")
    document: dict[str, Any] = (
        {"query": QUERY, "variables": {"id": probe}}
        if kind == "query"
        else {"query": MUTATION, "variables": {"input": {"conversationId": "p", "text": "hi"}}}
    )
    request = Request(
        f"{server.base_url}/graphql",
        json.dumps(document).encode(),
        {"Authorization": f"Bearer {key}"},
    )
    raw = work / "stacks.txt"
    with server:
        server.start(request)
        sampler = subprocess.Popen(
            [
                _tool("py-spy"),
                "record",
                "--pid",
                str(server.pid),
                "--duration",
                str(max(1, round(seconds))),
                "--format",
                "raw",
                "--nolineno",
                "--nonblocking",
                "-o",
                str(raw),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        binary = loadgen.wrk_binary()
        if binary is not None:
            result = loadgen.run_wrk(binary, request, seconds, 16)
        else:
            result = loadgen.run_python(request, seconds, 16)
        sampler.wait(timeout=seconds + 60)
    head = (
        f"Herald {kind} over HTTP, {events:,} events in the store, {result.tool}, 16 "
        f"connections: {result.rps:,.0f} req/s, p50 {result.p50_ms:.1f} ms "
        "(slower than unprofiled: py-spy samples the server)\n\n"
    )
    return head + summarise(raw)


def _pyinstrument(fn: Callable[[], object]) -> str:
    try:
        module: Any = importlib.import_module("pyinstrument")
    except ImportError:
        raise SystemExit(
            "pyinstrument is not installed: .venv/bin/pip install pyinstrument"
        ) from None
    profiler = module.Profiler(interval=0.0005)
    profiler.start()
    fn()
    profiler.stop()
    text: str = profiler.output_text(unicode=True, color=False, show_all=False)
    return text


def profile_rebuild(events: int, work: Path) -> str:
    herald, _, _ = _prepare(work, events)
    try:
        started = time.perf_counter()
        text = _pyinstrument(herald.projection.rebuild)
        seconds = time.perf_counter() - started
    finally:
        herald.close()
    head = f"projection.rebuild() of {events:,} events: {events / seconds:,.0f} events/s profiled\n"
    return head + text


def profile_long_load(events: int, work: Path) -> str:
    herald, p, _ = open_store(f"sqlite:///{work}/long.db")
    try:
        mid = str(long_history(herald.store, p, events, ACTOR).id)

        def loads() -> None:
            for _ in range(50):
                herald.store.load(p, mid)

        text = _pyinstrument(loads)
    finally:
        herald.close()
    return f"50 x store.load of a message with {events:,} events\n" + text


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.profile")
    parser.add_argument("what", choices=("http-query", "http-mutation", "rebuild", "long-load"))
    parser.add_argument("--events", type=int, default=None)
    parser.add_argument("--seconds", type=float, default=10)
    parser.add_argument("--out", type=Path, default=Path("bench/profiles"))
    args = parser.parse_args(argv)
    work = Path(tempfile.mkdtemp(prefix="herald-profile-"))
    try:
        if args.what.startswith("http-"):
            kind = args.what.removeprefix("http-")
            text = profile_http(kind, args.events or 20_000, args.seconds, work)
        elif args.what == "rebuild":
            text = profile_rebuild(args.events or 20_000, work)
        else:
            text = profile_long_load(args.events or 10_099, work)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    args.out.mkdir(parents=True, exist_ok=True)
    path = args.out / f"{args.what}.txt"
    path.write_text(text)
    print(text)
    print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
