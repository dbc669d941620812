"""KeyCache on a real SQLite file: it answers from memory only while no key was revoked since;
other commits leave it be."""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from app.keycache import KeyCache, changed_within, create_within

ROW = ("workspace-id", "bot", "acme")


@pytest.fixture
def db(tmp_path: Path) -> Iterator[tuple[KeyCache, sqlite3.Connection]]:
    path = tmp_path / "keys.db"
    other = sqlite3.connect(path, isolation_level=None)
    other.execute("PRAGMA journal_mode=WAL")
    other.execute("CREATE TABLE t (x INTEGER)")
    create_within(other.cursor())
    cache = KeyCache(str(path))
    yield cache, other
    cache.close()
    other.close()


def counting(row: tuple[Any, ...] | None) -> tuple[list[int], Callable[[], tuple[Any, ...] | None]]:
    reads: list[int] = []

    def read() -> tuple[Any, ...] | None:
        reads.append(1)
        return row

    return reads, read


def test_a_key_is_read_once_while_nothing_is_committed(
    db: tuple[KeyCache, sqlite3.Connection],
) -> None:
    cache, _ = db
    reads, read = counting(ROW)
    assert [cache.row("d", read) for _ in range(3)] == [ROW] * 3
    assert len(reads) == 1


def test_a_commit_that_revokes_nothing_keeps_the_keys_remembered(
    db: tuple[KeyCache, sqlite3.Connection],
) -> None:
    """A busy server commits a draft for nearly every request; each used to empty the cache,
    so every request read its key again, in a thread."""
    cache, other = db
    reads, read = counting(ROW)
    cache.row("d", read)
    other.execute("INSERT INTO t VALUES (1)")
    cache.row("d", read)
    assert len(reads) == 1


def test_a_revocation_by_another_connection_makes_the_key_read_again(
    db: tuple[KeyCache, sqlite3.Connection],
) -> None:
    cache, other = db
    reads, read = counting(ROW)
    cache.row("d", read)
    other.execute("BEGIN")
    changed_within(other.cursor())  # as `herald keys revoke` does, from another process
    other.execute("COMMIT")
    cache.row("d", read)
    cache.row("d", read)
    assert len(reads) == 2


def test_a_row_read_while_a_revocation_lands_is_not_remembered(
    db: tuple[KeyCache, sqlite3.Connection],
) -> None:
    cache, other = db
    cache.row("warm", counting(ROW)[1])

    def read_then_revoke() -> tuple[Any, ...] | None:
        changed_within(other.cursor())  # lands after the read that returns ROW
        return ROW

    assert cache.row("d", read_then_revoke) == ROW
    reads, read = counting(None)
    assert cache.row("d", read) is None, "the revoked key's next look reads the database"
    assert len(reads) == 1


def test_a_row_read_before_a_revocation_another_look_saw_is_not_remembered(
    db: tuple[KeyCache, sqlite3.Connection],
) -> None:
    cache, other = db
    cache.row("warm", counting(ROW)[1])

    def read_then_revoke_then_look() -> tuple[Any, ...] | None:
        changed_within(other.cursor())
        cache.row("another", counting(ROW)[1])  # a concurrent request sees the revocation
        return ROW

    cache.row("d", read_then_revoke_then_look)
    reads, read = counting(None)
    cache.row("d", read)
    assert len(reads) == 1


def test_without_the_count_of_revocations_every_look_reads(tmp_path: Path) -> None:
    """A database older than the count (or one whose row is gone): nothing can be trusted."""
    path = tmp_path / "old.db"
    sqlite3.connect(path).close()
    cache = KeyCache(str(path))
    other = sqlite3.connect(path, isolation_level=None)
    try:
        other.execute("CREATE TABLE herald_key_changes (id INTEGER PRIMARY KEY, changes INTEGER)")
        reads, read = counting(ROW)
        cache.row("d", read)
        cache.row("d", read)
        assert len(reads) == 2
    finally:
        other.close()
        cache.close()


def test_unknown_keys_are_not_remembered(db: tuple[KeyCache, sqlite3.Connection]) -> None:
    cache, _ = db
    reads, read = counting(None)
    cache.row("d", read)
    cache.row("d", read)
    assert len(reads) == 2


def test_without_a_file_to_watch_every_look_reads() -> None:
    cache = KeyCache(None)
    reads, read = counting(ROW)
    cache.row("d", read)
    cache.row("d", read)
    assert len(reads) == 2
