"""The seam over the datastore on a real SQLite file: a transaction that commits cannot be
undercut by another process's write between its first read and its first write, and the pool
keeps a connection for every thread that may hold one."""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from app.runtime import Herald
from app.settings import BLOCKING_THREADS, Settings


@pytest.fixture
def herald_on_file(tmp_path: Path) -> Iterator[Herald]:
    h = Herald(Settings(database_url=f"sqlite:///{tmp_path}/seam.db"))
    yield h
    h.close()


@pytest.fixture
def other(herald_on_file: Herald, tmp_path: Path) -> Iterator[sqlite3.Connection]:
    """Another process's connection to the same file, that never waits for a lock, and a
    table for both to write."""
    with herald_on_file.store.db.transaction(commit=True) as c:
        c.execute("CREATE TABLE IF NOT EXISTS seam_rows (n INTEGER)")
    connection = sqlite3.connect(tmp_path / "seam.db", timeout=0, isolation_level=None)
    yield connection
    connection.close()


def test_a_committing_transaction_holds_the_write_lock_from_its_first_read(
    herald_on_file: Herald, other: sqlite3.Connection
) -> None:
    """Found by the webhook benchmark: createWebhookEndpoint counts the workspace's endpoints,
    then inserts; another worker's write in between made SQLite refuse the insert at once
    (SQLITE_BUSY_SNAPSHOT), answered INTERNAL_SERVER_ERROR."""
    with herald_on_file.store.db.transaction(commit=True) as c:
        c.execute("SELECT COUNT(*) FROM seam_rows")
        assert c.fetchone()[0] == 0
        with pytest.raises(sqlite3.OperationalError, match="locked"):
            other.execute("INSERT INTO seam_rows VALUES (2)")
        c.execute("INSERT INTO seam_rows VALUES (1)")
    other.execute("INSERT INTO seam_rows VALUES (2)")
    assert other.execute("SELECT n FROM seam_rows ORDER BY n").fetchall() == [(1,), (2,)]


def test_a_reading_transaction_leaves_the_write_lock_to_others(
    herald_on_file: Herald, other: sqlite3.Connection
) -> None:
    with herald_on_file.store.db.transaction(commit=False) as c:
        c.execute("SELECT COUNT(*) FROM seam_rows")
        other.execute("INSERT INTO seam_rows VALUES (2)")
        assert c.fetchone()[0] == 0


def test_the_pool_keeps_a_connection_for_each_blocking_thread(herald_on_file: Herald) -> None:
    """Under 16 concurrent requests the default pool (5, and 10 more it closes on return)
    opened a connection for most reads, which then read the schema again: most of a one-row
    read's cost. Every blocking thread may hold one at once, and all are kept."""
    db = herald_on_file.store.db
    pool = db.datastore.pool
    together = threading.Barrier(BLOCKING_THREADS, timeout=30)
    opened: list[object] = []
    create = pool._create_connection

    def counting() -> object:
        opened.append(1)
        return create()

    def hold_one() -> None:
        with db.transaction(commit=False) as c:
            c.execute("SELECT 1")
            together.wait()  # all threads hold a connection at once

    def round_of_reads() -> None:
        with ThreadPoolExecutor(BLOCKING_THREADS) as threads:
            for done in [threads.submit(hold_one) for _ in range(BLOCKING_THREADS)]:
                done.result()

    round_of_reads()
    pool._create_connection = counting
    round_of_reads()
    assert opened == [], f"{len(opened)} connections opened again for the second round"


def test_each_pooled_connection_keeps_a_small_page_cache(herald_on_file: Herald) -> None:
    """36 connections at SQLite's default 2 MB each, filled by large contents, took a serving
    process from 225 to 300 MiB in the fairness benchmark."""
    db = herald_on_file.store.db
    with db.transaction(commit=False) as c:
        c.execute("PRAGMA cache_size")
        kib = -int(c.fetchone()[0])
    assert 0 < kib <= 1024


def test_the_connection_returned_last_is_given_next(herald_on_file: Herald) -> None:
    """Its page cache is the warm one: handed out in turn, a one-row read took 51 µs with 32
    pooled connections instead of 38."""
    db = herald_on_file.store.db
    datastore = db.datastore
    with (
        datastore.get_connection(commit=False) as outer,
        datastore.get_connection(commit=False) as inner,
    ):
        assert inner is not outer
    # `inner` went back to the pool first, then `outer`, which is given next.
    with datastore.get_connection(commit=False) as given:
        assert given is outer


def test_a_point_read_does_not_queue_behind_the_pools_writers(herald_on_file: Herald) -> None:
    """The pool queues every taker behind a writer waiting for the write lock (which another
    process may hold for long). A message read by id runs on the event loop, so it must not
    join that queue: it reads on a connection of its thread's own."""
    db = herald_on_file.store.db
    datastore, pool = db.datastore, db.datastore.pool

    def write() -> None:
        with datastore.get_connection(commit=True):
            pass

    with datastore.get_connection(commit=True):  # this thread holds the pool's writer lock
        waiting = threading.Thread(target=write)
        waiting.start()  # another writer, at the head of the pool's queue until the lock is free
        while pool._get_semaphore.acquire(blocking=False):
            pool._get_semaphore.release()  # until that writer holds the queue
        assert db.read_one("SELECT 1", ()) == (1,)
    waiting.join()
