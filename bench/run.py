"""Herald's benchmark: every figure beside a ceiling measured in the same run, as a ratio.

    .venv/bin/python -m bench.run [--quick | --smoke] [--report bench/report.md]

Sections: HTTP throughput (Herald vs a bare strawberry app), store throughput (MessageStore vs
the eventsourcing library alone), flatness (view and history reads at a small and a large
store), long histories (a 10 000-event message vs a 1-event one), rebuild (the projection vs
sqlite3 inserting as many rows), the server's peak memory (vs the bare app's), and what
counting metrics costs a message(id) request (vs the same work uncounted).
"""

from __future__ import annotations

import argparse
import os
import platform
import shutil
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from importlib import metadata
from pathlib import Path
from uuid import UUID

from app.replay import rebuild as replay
from app.runtime import Herald
from app.settings import Settings
from app.views import TABLES
from app.workspaces import Principal
from bench import loadgen
from bench.bare import Note, bare_application
from bench.http_bench import CORES, bench_http
from bench.results import Results
from bench.workload import (
    ACTOR,
    EVENTS_PER_MESSAGE,
    draft_fields,
    grow,
    latencies,
    long_history,
    median_us,
    rate,
    stored_events,
)

WORKSPACE = "bench"
PROBE_EVENTS = 120  # the probe message's history fills a first page of 100 and then some

# Every figure and ratio a run produces; a run missing one fails, and so does the smoke test.
FIGURES = (
    "http.loadgen.capacity_rps",
    "http.loadgen.fastest_rps",
    "http.query.ceiling_rps",
    "http.query.herald_rps",
    "http.query.ceiling_p50_ms",
    "http.query.herald_p50_ms",
    "http.mutation.ceiling_rps",
    "http.mutation.herald_rps",
    "http.mutation.ceiling_p50_ms",
    "http.mutation.herald_p50_ms",
    "store.draft.ceiling_cps",
    "store.draft.herald_cps",
    "store.edit.ceiling_cps",
    "store.edit.herald_cps",
    "rebuild.generate_eps",
    "flat.message.small_us",
    "flat.message.large_us",
    "flat.messages.small_us",
    "flat.messages.large_us",
    "flat.history.small_us",
    "flat.history.large_us",
    "flat.events.small_us",
    "flat.events.large_us",
    "long.load.short_us",
    "long.load.long_us",
    "long.load.worst_us",
    "long.edit.short_us",
    "long.edit.long_us",
    "rebuild.events",
    "rebuild.seconds",
    "rebuild.herald_eps",
    "rebuild.sqlite_rps",
    "memory.herald_peak_mib",
    "memory.ceiling_peak_mib",
    "metrics.execute.measured_us",
    "metrics.execute.bare_us",
    "metrics.asgi.observed_us",
    "metrics.asgi.plain_us",
    "metrics.http.with_us",
    "metrics.http.without_us",
) + (
    (
        "http.all.query.ceiling_rps",
        "http.all.query.herald_rps",
        "http.all.mutation.ceiling_rps",
        "http.all.mutation.herald_rps",
        "memory.all.herald_peak_mib",
        "memory.all.ceiling_peak_mib",
    )
    if CORES > 1
    else ()
)
RATIOS = (
    "http.loadgen.headroom",
    "http.query.ratio",
    "http.mutation.ratio",
    "store.draft.ratio",
    "store.edit.ratio",
    "flat.message.ratio",
    "flat.messages.ratio",
    "flat.history.ratio",
    "flat.events.ratio",
    "long.load.ratio",
    "long.load.worst_ratio",
    "long.edit.ratio",
    "rebuild.ratio",
    "memory.ratio",
    "metrics.cost.ratio",
) + (("http.all.query.ratio", "http.all.mutation.ratio", "memory.all.ratio") if CORES > 1 else ())


@dataclass(frozen=True)
class Sizes:
    small: int  # events in the store for the small flatness measurement
    large: int  # ... and for the large one, which the rebuild then replays
    long: int  # events of the long history
    commands: int  # store commands timed per kind
    samples: int  # timed calls per latency figure
    edits: int  # timed edits per long-history figure
    http_seconds: float  # per load run
    connections: int  # concurrent keep-alive connections of the load generator
    warmup: float  # seconds of an untimed load run before each timed one


MODES = {
    "full": Sizes(1_000, 1_000_000, 10_000, 1_000, 500, 200, 10, 16, 3),
    "quick": Sizes(1_000, 20_000, 10_000, 300, 300, 100, 4, 16, 2),
    "smoke": Sizes(400, 800, 200, 20, 15, 10, 1, 4, 0),
}


# Machine.


def fsync_ms(work: Path, writes: int = 50) -> float:
    """Median milliseconds to fsync a 4 KiB append: what every durable commit waits for."""
    path = work / "fsync.probe"
    times: list[float] = []
    with path.open("wb") as f:
        for _ in range(writes):
            f.write(os.urandom(4096))
            f.flush()
            started = time.perf_counter()
            os.fsync(f.fileno())
            times.append(time.perf_counter() - started)
    path.unlink()
    return statistics.median(times) * 1000


def machine(work: Path, tool: str) -> dict[str, str]:
    def run(*argv: str) -> str:
        try:
            done = subprocess.run(argv, capture_output=True, text=True, check=False)
        except OSError:
            return "?"
        return done.stdout.strip()

    meminfo = Path("/proc/meminfo").read_text().splitlines()
    total = next((line.split()[1] for line in meminfo if line.startswith("MemTotal:")), "0")
    models = [
        line.partition(":")[2].strip()
        for line in Path("/proc/cpuinfo").read_text().splitlines()
        if line.startswith("model name")
    ]
    versions = ", ".join(
        f"{name} {metadata.version(name)}"
        for name in ("eventsourcing", "strawberry-graphql", "uvicorn", "starlette")
    )
    filesystem = run("df", "-T", str(work)).splitlines()[-1:]
    return {
        "nproc": run("nproc"),
        "cpu": models[0] if models else platform.processor(),
        "memory": f"{int(total) / 1024 / 1024:.1f} GiB",
        "python": sys.version.split()[0],
        "uname -a": run("uname", "-a"),
        "sqlite": sqlite3.sqlite_version,
        "libraries": versions,
        "work directory": f"{work} ({' '.join(filesystem[0].split()[:2]) if filesystem else '?'})",
        "load generator": tool,
        "fsync, 4 KiB (start of run)": f"{fsync_ms(work):.2f} ms median",
    }


# Store throughput.


def bench_store(r: Results, sizes: Sizes, work: Path) -> None:
    r.begin("Store throughput (commands per second, one after another)")
    herald = Herald(Settings(database_url=f"sqlite:///{work}/store.db"))
    try:
        p = Principal(herald.workspaces.ensure(WORKSPACE), ACTOR)
        store = herald.store
        for i in range(5):  # warm-up: imports, prepared statements, the first key
            store.edit(
                p,
                str(store.draft(p, None, **draft_fields("warm", f"w{i}")).id),
                None,
                ACTOR,
                text="w",
            )
        ids: list[str] = []

        def draft(i: int) -> None:
            ids.append(str(store.draft(p, None, **draft_fields(f"c-{i % 10}", f"text {i}")).id))

        def edit(i: int) -> None:
            store.edit(p, ids[i], None, ACTOR, text=f"edited {i}")

        r.figure("store.draft.herald_cps", "Herald draft", rate(draft, sizes.commands), "cmd/s")
        r.figure("store.edit.herald_cps", "Herald edit", rate(edit, sizes.commands), "cmd/s")
    finally:
        herald.close()

    app = bare_application(str(work / "bare.db"))
    try:
        notes: list[UUID] = []
        for i in range(5):
            warm = Note(text=f"w{i}")
            app.save(warm)

        def create(i: int) -> None:
            note = Note(text=f"text {i}")
            app.save(note)
            notes.append(note.id)

        def change(i: int) -> None:
            note: Note = app.repository.get(notes[i])
            note.edit(f"edited {i}")
            app.save(note)

        r.figure(
            "store.draft.ceiling_cps", "eventsourcing create", rate(create, sizes.commands), "cmd/s"
        )
        r.figure(
            "store.edit.ceiling_cps", "eventsourcing edit", rate(change, sizes.commands), "cmd/s"
        )
    finally:
        app.close()
    r.ratio(
        "store.draft.ratio", "draft / create", "store.draft.herald_cps", "store.draft.ceiling_cps"
    )
    r.ratio("store.edit.ratio", "edit / edit", "store.edit.herald_cps", "store.edit.ceiling_cps")
    r.note(
        f"{sizes.commands} commands of each kind, timed back to back on fresh SQLite files; "
        "Herald's include sealing the content and projecting the views before returning, as in "
        "service. The ceiling is an eventsourcing Application saving an Aggregate with one "
        "@event method, on the library's own SQLite persistence (WAL, synchronous=FULL)."
    )


# Long histories.


def bench_long(r: Results, sizes: Sizes, work: Path) -> None:
    r.begin("Long histories")
    herald = Herald(Settings(database_url=f"sqlite:///{work}/long.db"))
    try:
        p = Principal(herald.workspaces.ensure(WORKSPACE), ACTOR)
        store = herald.store
        interval = herald.settings.snapshot_interval
        short = str(store.draft(p, None, **draft_fields("short", "one event")).id)
        long = str(long_history(store, p, sizes.long, "long").id)
        worst_events = sizes.long + interval - 1
        worst = str(long_history(store, p, worst_events, "worst").id)
        herald.projection.catch_up()
        for mid, events in ((short, 1), (long, sizes.long), (worst, worst_events)):
            assert store.load(p, mid).version == events

        def load(mid: str) -> Callable[[], object]:
            return lambda: store.load(p, mid)

        n = sizes.samples
        r.figure("long.load.short_us", "load, 1 event", median_us(latencies(load(short), n)), "µs")
        r.figure(
            "long.load.long_us",
            f"load, {sizes.long:,} events",
            median_us(latencies(load(long), n)),
            "µs",
        )
        r.figure(
            "long.load.worst_us",
            f"load, {worst_events:,} events",
            median_us(latencies(load(worst), n)),
            "µs",
        )
        r.ratio(
            "long.load.ratio", f"load {sizes.long:,} / 1", "long.load.long_us", "long.load.short_us"
        )
        r.ratio(
            "long.load.worst_ratio",
            f"load {worst_events:,} / 1",
            "long.load.worst_us",
            "long.load.short_us",
        )
        # Each short edit meets a message with one event; the long one grows by one per edit.
        fresh = [
            str(store.draft(p, None, **draft_fields("short", f"fresh {i}")).id)
            for i in range(sizes.edits + 5)
        ]
        queue = iter(fresh)

        def edit_short() -> None:
            store.edit(p, next(queue), None, ACTOR, text="edited")

        def edit_long() -> None:
            store.edit(p, long, None, ACTOR, text="edited")

        r.figure(
            "long.edit.short_us",
            "edit, 1 event",
            median_us(latencies(edit_short, sizes.edits)),
            "µs",
        )
        r.figure(
            "long.edit.long_us",
            f"edit, {sizes.long:,}+ events",
            median_us(latencies(edit_long, sizes.edits)),
            "µs",
        )
        r.ratio("long.edit.ratio", "edit long / 1", "long.edit.long_us", "long.edit.short_us")
        r.note(
            f"Median of {n} loads (store.load) and of {sizes.edits} edits (store.edit, "
            "projection included). Snapshots every "
            f"{interval} events: a {sizes.long:,}-event message loads from the snapshot at "
            f"its last event, so {worst_events:,} events (the snapshot plus {interval - 1} "
            "events to replay) is the worst case, held to the same bound. The long edits run "
            f"from version {sizes.long:,} on, so they pass through snapshots."
        )
    finally:
        herald.close()


# Flatness, rebuild, HTTP and memory share one store that grows from small to large.


Store = tuple[Herald, Principal, str]  # a Herald, its caller, and its probe message's id


def flat_reads(herald: Herald, p: Principal, probe: str) -> dict[str, Callable[[], object]]:
    ws = p.workspace
    after = stored_events(herald.store) // 2

    def message() -> object:
        found = herald.views.message(ws, probe)
        assert found is not None
        return found

    def messages() -> object:
        page = herald.views.messages(ws, None, None, 50, None)
        assert len(page.items) == 50
        return page

    def history() -> object:
        events = herald.store.history(p, probe, 0, 100)
        assert len(events) == 100
        return events

    def events() -> object:
        page = herald.views.events(ws, None, None, 100, after)
        assert len(page.items) == 100
        return page

    return {"message": message, "messages": messages, "history": history, "events": events}


FLAT_LABELS = {
    "message": "views.message(ws, id)",
    "messages": "views.messages, first 50",
    "history": "store.history, first 100",
    "events": "views.events, 100 after the middle",
}


def measure_flat(r: Results, small: Store, large: Store, samples: int) -> None:
    """Both stores open side by side, their reads interleaved in rounds, so a slow spell of the
    machine weighs on both alike."""
    reads = [flat_reads(*small), flat_reads(*large)]
    counts = [stored_events(small[0].store), stored_events(large[0].store)]
    rounds = 10
    for name in FLAT_LABELS:
        timings: list[list[float]] = [[], []]
        for side in (0, 1):
            latencies(reads[side][name], 0, warmup=20)
        for _ in range(rounds):
            for side in (0, 1):
                timings[side] += latencies(reads[side][name], -(-samples // rounds), warmup=0)
        for side, size in enumerate(("small", "large")):
            r.figure(
                f"flat.{name}.{size}_us",
                f"{FLAT_LABELS[name]} at {counts[side]:,} events",
                median_us(timings[side]),
                "µs",
            )
        r.ratio(
            f"flat.{name}.ratio",
            f"{name}: large / small",
            f"flat.{name}.large_us",
            f"flat.{name}.small_us",
        )


def sqlite_ceiling(r: Results, work: Path, rows: int) -> None:
    """sqlite3 alone inserting `rows` view_events rows in one transaction, same durability."""
    path = work / "ceiling-rows.db"
    conn = sqlite3.connect(path, isolation_level=None)
    try:
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("PRAGMA synchronous=FULL")
        for statement in TABLES:
            if "view_events" in statement:
                conn.execute(statement)
        ws, mid = "0" * 36, "f" * 32
        data = [(i, ws, f"conv-{i % 1000}", mid, i % 5 + 1) for i in range(1, rows + 1)]
        started = time.perf_counter()
        conn.execute("BEGIN")
        conn.executemany(
            "INSERT INTO view_events (notification_id, workspace, conversation_id, message_id, "
            "version) VALUES (?, ?, ?, ?, ?)",
            data,
        )
        conn.execute("COMMIT")
        seconds = time.perf_counter() - started
    finally:
        conn.close()
    r.figure("rebuild.sqlite_rps", "sqlite3 insert, one transaction", rows / seconds, "rows/s")


def open_store(url: str) -> Store:
    """A store holding the probe message: PROBE_EVENTS events, its history a page and more."""
    herald = Herald(Settings(database_url=url))
    p = Principal(herald.workspaces.ensure(WORKSPACE), ACTOR)
    probe = long_history(herald.store, p, PROBE_EVENTS, "probe")
    return herald, p, str(probe.id)


def bench_big(r: Results, sizes: Sizes, work: Path, tool: str, large: int) -> None:
    url = f"sqlite:///{work}/bench.db"
    small = open_store(f"sqlite:///{work}/small.db")
    big = open_store(url)
    try:
        r.begin("Rebuild")
        grow(small[0].store, small[1].workspace, sizes.small)
        small[0].projection.catch_up()
        store = big[0].store
        started = time.perf_counter()
        last = [started]
        before = stored_events(store)

        def progress(have: int) -> None:
            now = time.perf_counter()
            if now - last[0] >= 20:
                last[0] = now
                print(f"   ... {have:,} events, {have / (now - started):,.0f}/s", flush=True)

        grown = grow(store, big[1].workspace, large, progress=progress) - before
        seconds = time.perf_counter() - started
        r.figure(
            "rebuild.generate_eps", "store.save, generating the events", grown / seconds, "events/s"
        )
        events = stored_events(store)
        started = time.perf_counter()
        replay(big[0], CORES)
        seconds = time.perf_counter() - started
        assert big[0].projection.position == events
        r.figure("rebuild.events", "events replayed", events, "events")
        r.figure("rebuild.seconds", f"projections rebuild --jobs {CORES}", seconds, "s")
        r.figure("rebuild.herald_eps", "Herald rebuild", events / seconds, "events/s")
        sqlite_ceiling(r, work, events)
        r.ratio("rebuild.ratio", "rebuild / sqlite3", "rebuild.herald_eps", "rebuild.sqlite_rps")
        r.note(
            f"The events: a probe message of {PROBE_EVENTS} events, then messages of "
            f"{EVENTS_PER_MESSAGE} events each (drafted, edited, sent, SENT, DELIVERED; two carry "
            "content), built as Message aggregates and saved 200 per store.save, their content "
            "keys in the same transaction. All in one workspace, 1 000 conversations. "
            f"`herald projections rebuild --jobs {CORES}` (app/replay.py) empties the views, and "
            f"{CORES} processes each replay their share of the messages in batches of 5 000, one "
            "transaction each (one process under 20 000 events); the ceiling inserts as many "
            "view_events rows "
            "(same table and indexes) with executemany in one transaction, WAL and "
            "synchronous=FULL."
        )

        r.begin(f"Flatness ({stored_events(small[0].store):,} vs {events:,} events)")
        measure_flat(r, small, big, sizes.samples)
        r.note(
            f"Median of {sizes.samples} in-process calls each, after 20 untimed, on two stores "
            "made the same way (see Rebuild) and open side by side, the calls interleaved in 10 "
            "rounds. The message and history read are the probe's; events reads the page after "
            "the store's middle position."
        )
    finally:
        small[0].close()
        big[0].close()
    bench_http(r, sizes, work, tool, url, big[2])


# Targets and the whole run.


def targets(r: Results, sizes: Sizes) -> None:
    r.begin("Targets")
    r.target("http.query.ratio", "message(id) vs ceiling", ">=", 0.8)
    r.target("http.mutation.ratio", "draftMessage vs ceiling", ">=", 0.5)
    if CORES > 1:
        r.target("http.all.query.ratio", f"message(id) vs ceiling, {CORES} workers", ">=", 0.8)
        r.target("http.all.mutation.ratio", f"draftMessage vs ceiling, {CORES} workers", ">=", 0.5)
        r.target(
            "memory.all.herald_peak_mib", f"all processes' peak RSS, {CORES} workers", "<=", 300
        )
    for name in FLAT_LABELS:
        r.target(f"flat.{name}.ratio", f"flatness of {FLAT_LABELS[name]}", "<=", 1.3)
    r.target("long.load.ratio", f"load of {sizes.long:,} events vs 1", "<=", 3)
    r.target("long.load.worst_ratio", "load, worst snapshot phase, vs 1", "<=", 3)
    r.target("rebuild.herald_eps", "rebuild speed", ">=", 25_000)
    r.target("memory.herald_peak_mib", "server peak RSS", "<=", 300)
    r.target("metrics.cost.ratio", "message(id) with metrics vs without", "<=", 1.05)


@contextmanager
def workspace(keep: bool, base: str | None) -> Iterator[Path]:
    path = Path(tempfile.mkdtemp(prefix="herald-bench-", dir=base))
    try:
        yield path
    finally:
        if keep:
            print(f"kept {path}")
        else:
            shutil.rmtree(path, ignore_errors=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.run", description=__doc__.split("\n")[0])
    mode = parser.add_mutually_exclusive_group()
    mode.add_argument("--quick", action="store_true", help="1k vs 20k events, shorter runs")
    mode.add_argument("--smoke", action="store_true", help="tiny sizes: checks that it all runs")
    parser.add_argument("--report", type=Path, default=Path("bench/report.md"))
    parser.add_argument("--json", type=Path, default=None, help="default: the report's .json")
    parser.add_argument("--large", type=int, default=None, help="events of the large store")
    parser.add_argument("--loadgen", choices=("auto", "wrk", "python"), default="auto")
    parser.add_argument("--workdir", default=None, help="where the temporary files go")
    parser.add_argument("--keep", action="store_true", help="keep the temporary files")
    args = parser.parse_args(argv)
    name = "smoke" if args.smoke else "quick" if args.quick else "full"
    sizes = MODES[name]
    large = args.large or sizes.large
    if large <= sizes.small + PROBE_EVENTS:
        parser.error(f"--large must exceed {sizes.small + PROBE_EVENTS}")

    binary = loadgen.wrk_binary()
    if args.loadgen == "wrk" and binary is None:
        parser.error("wrk is not installed: apt-get install -y wrk")
    r = Results(mode=name)
    began = time.perf_counter()
    with workspace(args.keep, args.workdir) as work:
        if binary is not None and args.loadgen != "python":
            tool = loadgen.wrk_version(binary)
        else:
            tool = "python asyncio load generator (bench/loadgen.py, uvloop, raw HTTP/1.1)"
            if binary is None:
                r.begin("HTTP throughput (loopback)")
                r.note(
                    "wrk was not found on PATH (install it: apt-get install -y wrk), so the "
                    "asyncio load generator is used; its capacity against a trivial responder "
                    "is measured below to show it is not the bottleneck."
                )
        r.machine = machine(work, tool)
        r.sizes = {**asdict(sizes), "large (used)": large}
        bench_store(r, sizes, work)
        bench_long(r, sizes, work)
        bench_big(r, sizes, work, tool, large)
        r.machine["fsync, 4 KiB (end of run)"] = f"{fsync_ms(work):.2f} ms median"
    targets(r, sizes)
    r.finish()
    elapsed = time.perf_counter() - began
    r.begin("Run")
    r.note(f"mode {name}; the whole run took {elapsed:,.0f}s")
    r.finish()
    missing = [k for k in (*FIGURES, *RATIOS) if k not in r.figures]
    json_path = args.json or args.report.with_suffix(".json")
    r.write_markdown(args.report)
    r.write_json(json_path)
    print(f"\nwrote {args.report} and {json_path}")
    if missing:
        print(f"missing figures: {', '.join(missing)}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    os.environ.setdefault("PYTHONUNBUFFERED", "1")
    sys.exit(main())
