"""API keys this process has found valid, trusted only while the database has not changed since.

Revocation must take effect at once, and `herald keys revoke` runs in another process, so a key
cannot simply be remembered. SQLite's `PRAGMA data_version` changes whenever any other
connection, in any process, commits to the file: while it stays the same, nothing can have been
revoked, and the key's row need not be read again. Any commit empties the cache, which costs only
the next read of each key."""

from __future__ import annotations

import sqlite3
import threading
from collections import OrderedDict
from collections.abc import Callable
from typing import Any

_LIMIT = 1024  # keys remembered at once; valid keys only, so garbage keys cannot fill it


class KeyCache:
    def __init__(self, sqlite_path: str | None) -> None:
        # No signal, no cache: PostgreSQL, and in-memory SQLite, read the key every time.
        self._watch: sqlite3.Connection | None = None
        if sqlite_path and not _in_memory(sqlite_path):
            self._watch = sqlite3.connect(
                sqlite_path, check_same_thread=False, isolation_level=None
            )
        self._lock = threading.Lock()
        self._version: int | None = None
        self._known: OrderedDict[str, tuple[Any, ...]] = OrderedDict()

    def row(
        self, digest: str, read: Callable[[], tuple[Any, ...] | None]
    ) -> tuple[Any, ...] | None:
        """The key's row, remembered or else `read` from the database."""
        version = self._current_version()
        if version is None:
            return read()
        with self._lock:
            row = self._known.get(digest)
            if row is not None:
                self._known.move_to_end(digest)
                return row
        row = read()
        with self._lock:
            # A commit after `version` may have revoked the key: then the version has moved on,
            # and the next look forgets whatever is remembered now.
            if row is not None and version == self._version:
                self._known[digest] = row
                if len(self._known) > _LIMIT:
                    self._known.popitem(last=False)
        return row

    def _current_version(self) -> int | None:
        if self._watch is None:
            return None
        with self._lock:
            version = int(self._watch.execute("PRAGMA data_version").fetchone()[0])
            if version != self._version:
                self._known.clear()
                self._version = version
            return version

    def close(self) -> None:
        if self._watch is not None:
            self._watch.close()


def _in_memory(path: str) -> bool:
    return path == ":memory:" or "mode=memory" in path or path.startswith("file::memory:")
