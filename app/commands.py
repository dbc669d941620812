"""What the CLI's operator commands do, apart from parsing their arguments."""

from __future__ import annotations

import logging
import sys
import time
from collections.abc import Callable
from pathlib import Path
from uuid import UUID

from app.body_text import plain_text
from app.revisions import diff_lines
from app.runtime import Herald
from app.settings import Settings


def export_schema(path: Path, *, check: bool) -> int:
    from app.api.schema import build_schema

    sdl = build_schema().as_str() + "\n"
    if check:
        if not path.exists() or path.read_text() != sdl:
            print(
                f"{path} differs from the schema in the code: run herald export-schema",
                file=sys.stderr,
            )
            return 1
        print(f"{path} is up to date")
        return 0
    path.write_text(sdl)
    print(f"wrote {path}")
    return 0


def create_key(workspace: str, name: str | None) -> int:
    herald = Herald()
    try:
        key = herald.workspaces.create_key(workspace, name or f"{workspace}-key")
    finally:
        herald.close()
    print(
        f"Created an API key for workspace {workspace!r}. Send it as: Authorization: Bearer <key>"
    )
    print("It is shown only this once:")
    print(key)
    return 0


def open_existing() -> Herald | None:
    """The Herald of the database HERALD_DATABASE_URL names, for commands that do not set one
    up: they say which database they opened, and refuse one that does not exist rather than
    create it (a SQLite file appears on connect, tables on first open)."""
    settings = Settings.from_env()
    where = settings.describe()
    if not _exists(settings):
        print(
            f"no Herald database: {where}. Set HERALD_DATABASE_URL to the one the server uses.",
            file=sys.stderr,
        )
        return None
    print(f"database: {where}", file=sys.stderr)
    return Herald(settings)


def _exists(settings: Settings) -> bool:
    if not settings.is_postgres:
        return settings.sqlite_path().is_file()
    import psycopg

    from app.watcher import connect

    try:
        with connect(settings.eventsourcing_env()) as conn:
            row = conn.execute("SELECT to_regclass('herald_workspaces') IS NOT NULL").fetchone()
    except psycopg.OperationalError:
        return False  # no such database (or no server): nothing to read
    return bool(row and row[0])


def revoke_keys(workspace: str, name: str | None, key: str | None) -> int:
    herald = open_existing()
    if herald is None:
        return 2
    try:
        found = herald.store.db.read_one(
            "SELECT 1 FROM herald_workspaces WHERE name = ?", (workspace,)
        )
        if found is None:
            print(f"no workspace {workspace!r}", file=sys.stderr)
            return 1
        count = herald.workspaces.revoke(workspace, name, key)
    finally:
        herald.close()
    print(f"revoked {count} key(s) of workspace {workspace!r}")
    return 0 if count else 1


def project() -> int:
    """Keep the views caught up until interrupted; servers can then run --no-projections."""
    herald = Herald()
    return _run_until_stopped(
        herald, lambda: f"projecting; the views are at position {herald.projection.position}"
    )


def dispatch() -> int:
    """Send webhooks until interrupted; servers can then run with HERALD_WEBHOOK_DISPATCH=0.
    One process at a time sends; the others stand by to take over."""
    from app.serving import die_with_parent

    die_with_parent()
    herald = Herald(project=False, dispatch=True)
    return _run_until_stopped(herald, lambda: "dispatching webhooks (or standing by)")


def _run_until_stopped(herald: Herald, started: Callable[[], str]) -> int:
    import signal
    import threading

    stop = threading.Event()
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, lambda *_: stop.set())
    try:
        herald.start()
        # Through the log, so that HERALD_LOG_FORMAT=json keeps every line JSON.
        logging.getLogger("herald").info(started())
        stop.wait()
    finally:
        herald.close()
    return 0


def rebuild(jobs: int) -> int:
    from app.replay import rebuild as replay

    herald = Herald()
    try:
        total = herald.store.recorder.max_notification_id() or 0
        done = 0
        started = time.monotonic()

        def progress(count: int) -> None:
            nonlocal done
            done += count
            _bar(done, total)

        replay(herald, jobs, progress)
        elapsed = time.monotonic() - started
        print(
            f"\nrebuilt the views from {done} events in {elapsed:.1f}s with {jobs} jobs",
            file=sys.stderr,
        )
    finally:
        herald.close()
    return 0


def verify_views() -> int:
    from app.verify import verify

    herald = open_existing()
    if herald is None:
        return 2
    try:
        differences = verify(herald)
    finally:
        herald.close()
    for difference in differences:
        print(difference)
    print(
        "the views are consistent with the events"
        if not differences
        else f"{len(differences)} differences",
        file=sys.stderr,
    )
    return 1 if differences else 0


def status(as_json: bool) -> int:
    import json

    from app import status as report

    herald = open_existing()
    if herald is None:
        return 2
    try:
        found = report.gather(herald)
    finally:
        herald.close()
    print(json.dumps(found, indent=2) if as_json else report.render(found))
    return 0


def _bar(done: int, total: int, width: int = 40) -> None:
    filled = width if total == 0 else min(width, width * done // total)
    print(
        f"\rrebuilding views [{'#' * filled}{'.' * (width - filled)}] {done}/{total} events",
        end="",
        file=sys.stderr,
        flush=True,
    )


def history(raw_id: str, *, diff: bool = False) -> int:
    try:
        message_id = UUID(raw_id)
    except ValueError:
        print(f"not a message id: {raw_id}", file=sys.stderr)
        return 2
    herald = open_existing()
    if herald is None:
        return 2
    try:
        events = herald.store.events_of(message_id)
        if not events:
            print(f"no message {raw_id}", file=sys.stderr)
            return 1
        diffs = diff_lines(events) if diff else {}
        for e in events:
            state = vars(e)
            detail = _detail(type(e).__name__, state)
            print(
                f"v{e.originator_version:<4} {state['timestamp'].isoformat(timespec='seconds')}"
                f"  {type(e).__name__:<14} by {state.get('actor') or '-'}{detail}"
            )
            if e.originator_version in diffs:
                print(diffs[e.originator_version])
    finally:
        herald.close()
    return 0


def _detail(name: str, state: dict[str, object]) -> str:
    if name in ("Drafted", "Edited"):
        content = state.get("content")
        if isinstance(content, dict):
            return f"  {plain_text(content)!r}"
        return "  (content erased)" if name == "Drafted" else ""
    if name == "StatusChanged":
        return f"  → {state['status']}" + (f" ({state['reason']})" if state.get("reason") else "")
    if state.get("reason"):
        return f"  ({state['reason']})"
    return ""
