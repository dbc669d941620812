"""Which servers are up, and how many subscriptions each holds open: every server process
writes a row of its own every few seconds (a heartbeat) and removes it when it stops, so
`herald status`, run apart from them, learns it from the database alone. A row whose heartbeat
is older than three beats belongs to a process that died without a word, and is not shown."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import socket
import time
import uuid
from dataclasses import dataclass

from app.api.measure import SubscriptionsHere
from app.database import Database
from app.runtime import Herald, schema_lock

log = logging.getLogger(__name__)
TABLE = "herald_servers"
BEAT_SECONDS = 10.0
STALE_AFTER = 3 * BEAT_SECONDS
_LOOK_SECONDS = 1.0  # how soon a change in open subscriptions is written


@dataclass(frozen=True)
class Server:
    id: str
    host: str
    pid: int
    started: float
    beat: float
    subscriptions: int
    projecting: bool


class Presence:
    def __init__(self, herald: Herald) -> None:
        self.herald = herald
        self.db: Database = herald.store.db
        self.id = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
        self.started = time.time()
        with schema_lock(herald.settings), self.db.transaction(commit=True) as c:
            c.execute(
                f"CREATE TABLE IF NOT EXISTS {TABLE} (id TEXT PRIMARY KEY, host TEXT NOT NULL, "
                "pid INTEGER NOT NULL, started DOUBLE PRECISION NOT NULL, "
                "beat DOUBLE PRECISION NOT NULL, subscriptions INTEGER NOT NULL, "
                "projecting INTEGER NOT NULL)"
            )

    def beat(self, subscriptions: int) -> None:
        sql = self.db.sql
        with self.db.transaction(commit=True) as c:
            c.execute(
                sql(
                    f"INSERT INTO {TABLE} (id, host, pid, started, beat, subscriptions, "
                    "projecting) VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT (id) DO UPDATE SET "
                    "beat = excluded.beat, subscriptions = excluded.subscriptions"
                ),
                (
                    self.id,
                    socket.gethostname(),
                    os.getpid(),
                    self.started,
                    time.time(),
                    subscriptions,
                    int(self.herald.project),
                ),
            )

    def leave(self) -> None:
        with self.db.transaction(commit=True) as c:
            c.execute(self.db.sql(f"DELETE FROM {TABLE} WHERE id = ?"), (self.id,))

    async def keep_beating(self) -> None:
        """Beat now, then every few seconds or as soon as the subscriptions open here change,
        until cancelled; a failed beat is tried again."""
        from app import metrics

        last: tuple[float, int] = (0.0, -1)
        while True:
            now = time.monotonic()
            if now - last[0] >= BEAT_SECONDS or SubscriptionsHere.count != last[1]:
                try:
                    count = SubscriptionsHere.count
                    await asyncio.to_thread(self.beat, count)
                    last = (now, count)
                    metrics.sample_pool(self.herald)
                except Exception:
                    log.warning("the server's heartbeat failed; trying again", exc_info=True)
            await asyncio.sleep(_LOOK_SECONDS)

    def stop(self) -> None:
        with contextlib.suppress(Exception):
            self.leave()


def servers(db: Database, now: float | None = None) -> list[Server]:
    """The servers that beat lately; none when no server ever ran on this database."""
    since = (time.time() if now is None else now) - STALE_AFTER
    exists = (
        "SELECT to_regclass(?) IS NOT NULL"
        if db.dialect == "postgres"
        else "SELECT EXISTS (SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?)"
    )
    with db.transaction(commit=False) as c:
        c.execute(db.sql(exists), (TABLE,))
        if not c.fetchone()[0]:
            return []
        c.execute(
            db.sql(
                "SELECT id, host, pid, started, beat, subscriptions, projecting "
                f"FROM {TABLE} WHERE beat >= ? ORDER BY host, pid"
            ),
            (since,),
        )
        rows = c.fetchall()
    return [
        Server(str(r[0]), str(r[1]), int(r[2]), float(r[3]), float(r[4]), int(r[5]), bool(r[6]))
        for r in rows
    ]
