"""API keys this process has found valid, trusted only while no key has been revoked since.

Revocation must take effect at once, and `herald keys revoke` runs in another process, so a key
cannot simply be remembered. SQLite's `PRAGMA data_version` changes whenever any other
connection, in any process, commits to the file: while it stays the same, nothing can have been
revoked. When it moves, one row says whether a key was: every revocation counts itself in
`herald_key_changes` in its own transaction (`changed_within`). Drafts commit all the time and
leave that count alone, so a busy server keeps its keys; a revocation empties the cache, which
costs only the next read of each key."""

from __future__ import annotations

import sqlite3
import threading
from collections import OrderedDict
from collections.abc import Callable
from typing import Any

from app.database import Cursor

_LIMIT = 1024  # keys remembered at once; valid keys only, so garbage keys cannot fill it
_TABLE = "herald_key_changes"


def create_within(c: Cursor) -> None:
    c.execute(
        f"CREATE TABLE IF NOT EXISTS {_TABLE} "
        "(id INTEGER PRIMARY KEY CHECK (id = 1), changes INTEGER NOT NULL)"
    )
    c.execute(f"INSERT INTO {_TABLE} (id, changes) VALUES (1, 0) ON CONFLICT (id) DO NOTHING")


def changed_within(c: Cursor) -> None:
    """In the transaction that revokes a key: every process's cache forgets its keys."""
    c.execute(f"UPDATE {_TABLE} SET changes = changes + 1")


class KeyCache:
    def __init__(self, sqlite_path: str | None) -> None:
        # No signal, no cache: PostgreSQL, and in-memory SQLite, read the key every time.
        self._watch: sqlite3.Connection | None = None
        if sqlite_path and not _in_memory(sqlite_path):
            self._watch = sqlite3.connect(
                sqlite_path, check_same_thread=False, isolation_level=None
            )
        self._lock = threading.Lock()
        self._data_version: int | None = None
        self._changes: int | None = None
        self._known: OrderedDict[str, tuple[Any, ...]] = OrderedDict()

    def row(
        self, digest: str, read: Callable[[], tuple[Any, ...] | None]
    ) -> tuple[Any, ...] | None:
        """The key's row, remembered or else `read` from the database."""
        changes = self._current_changes()
        if changes is None:
            return read()
        with self._lock:
            row = self._known.get(digest)
            if row is not None:
                self._known.move_to_end(digest)
                return row
        row = read()
        with self._lock:
            # A revocation after `changes` was read may have revoked this key: the next look
            # that sees it forgets all that is remembered, or has already, and then the counts
            # differ and this row is not kept.
            if row is not None and changes == self._changes:
                self._known[digest] = row
                if len(self._known) > _LIMIT:
                    self._known.popitem(last=False)
        return row

    def _current_changes(self) -> int | None:
        if self._watch is None:
            return None
        with self._lock:
            # data_version first: a revocation committed after it is read moves it again.
            data_version = int(self._watch.execute("PRAGMA data_version").fetchone()[0])
            if data_version != self._data_version:
                self._data_version = data_version
                changes = self._read_changes(self._watch)
                if changes is None or changes != self._changes:
                    self._known.clear()
                self._changes = changes
            return self._changes

    @staticmethod
    def _read_changes(watch: sqlite3.Connection) -> int | None:
        try:
            row = watch.execute(f"SELECT changes FROM {_TABLE}").fetchone()
        except sqlite3.OperationalError:
            return None  # no such table yet: nothing can be trusted
        return None if row is None else int(row[0])

    def close(self) -> None:
        if self._watch is not None:
            self._watch.close()


def _in_memory(path: str) -> bool:
    return path == ":memory:" or "mode=memory" in path or path.startswith("file::memory:")
