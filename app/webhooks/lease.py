"""Who dispatches: one process at a time per database. On SQLite, the holder of an exclusive
lock on a file beside the database (every worker of `herald serve --workers N` tries it); on
PostgreSQL, the holder of a session advisory lock. Either is let go by the operating system or
the server the moment its holder dies, and another process takes over at its next try."""

from __future__ import annotations

import contextlib
import fcntl
import logging
from pathlib import Path
from typing import IO, Protocol

import psycopg

from app.settings import Settings
from app.watcher import connect

log = logging.getLogger(__name__)
DISPATCH_LOCK = 0x57454248444953  # any constant: every process contends for this one


class Lease(Protocol):
    def acquire(self) -> bool:
        """Take the lease if nobody holds it; never waits."""

    def holds(self) -> bool:
        """Whether this process still holds it."""

    def release(self) -> None: ...


class FileLease:
    def __init__(self, path: Path) -> None:
        self.path = path
        self._file: IO[bytes] | None = None

    def acquire(self) -> bool:
        if self._file is not None:
            return True
        handle = self.path.open("ab")
        try:
            fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.close()
            return False
        self._file = handle
        return True

    def holds(self) -> bool:
        return self._file is not None

    def release(self) -> None:
        if self._file is not None:
            self._file.close()  # closing the file lets the lock go
            self._file = None


class AdvisoryLease:
    """A connection of its own, kept while standing by too, so trying again costs one query."""

    def __init__(self, env: dict[str, str]) -> None:
        self.env = env
        self._conn: psycopg.Connection[tuple[object, ...]] | None = None
        self._held = False

    def acquire(self) -> bool:
        if self._held:
            return self.holds()
        try:
            if self._conn is None:
                self._conn = connect(self.env, application_name="herald-webhooks", probing=True)
            row = self._conn.execute("SELECT pg_try_advisory_lock(%s)", (DISPATCH_LOCK,)).fetchone()
        except psycopg.Error:
            self.release()
            raise
        self._held = bool(row and row[0])
        return self._held

    def holds(self) -> bool:
        """Asks the server: a lost connection has lost the lock with it."""
        if not self._held or self._conn is None:
            return False
        try:
            self._conn.execute("SELECT 1")
            return True
        except psycopg.Error:
            log.warning("lost the connection holding the webhook dispatch lock")
            self.release()
            return False

    def release(self) -> None:
        """Lets the lock go at once, then closes the connection (which alone would let it go
        only once the server's process for it has ended)."""
        if self._held and self._conn is not None:
            with contextlib.suppress(psycopg.Error):
                self._conn.execute("SELECT pg_advisory_unlock(%s)", (DISPATCH_LOCK,))
        self._held = False
        if self._conn is not None:
            with contextlib.suppress(psycopg.Error):
                self._conn.close()
            self._conn = None


def lease_for(settings: Settings) -> Lease:
    if settings.is_postgres:
        return AdvisoryLease(settings.eventsourcing_env())
    path = settings.sqlite_path()
    return FileLease(path.with_name(path.name + ".webhooks.lock"))
