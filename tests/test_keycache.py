"""KeyCache on a real SQLite file: it answers from memory only while nothing was committed."""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from app.keycache import KeyCache

ROW = ("workspace-id", "bot", "acme")


@pytest.fixture
def db(tmp_path: Path) -> Iterator[tuple[KeyCache, sqlite3.Connection]]:
    path = tmp_path / "keys.db"
    other = sqlite3.connect(path, isolation_level=None)
    other.execute("PRAGMA journal_mode=WAL")
    other.execute("CREATE TABLE t (x INTEGER)")
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


def test_any_commit_by_another_connection_makes_the_key_read_again(
    db: tuple[KeyCache, sqlite3.Connection],
) -> None:
    cache, other = db
    reads, read = counting(ROW)
    cache.row("d", read)
    other.execute("INSERT INTO t VALUES (1)")  # as a revocation from another process would
    cache.row("d", read)
    cache.row("d", read)
    assert len(reads) == 2


def test_a_row_read_while_a_commit_lands_is_not_remembered(
    db: tuple[KeyCache, sqlite3.Connection],
) -> None:
    cache, other = db
    cache.row("warm", counting(ROW)[1])

    def read_then_commit() -> tuple[Any, ...] | None:
        other.execute("INSERT INTO t VALUES (1)")  # lands after the read that returns ROW
        return ROW

    assert cache.row("d", read_then_commit) == ROW
    reads, read = counting(None)
    assert cache.row("d", read) is None, "the revoked key's next look reads the database"
    assert len(reads) == 1


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
