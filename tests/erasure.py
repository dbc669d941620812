"""What a redaction must leave on disk, seen from outside the server: no row for the message in
`herald_content_keys`, and none of its text, nor its old key, in any byte of the database: every
file of a SQLite database's folder (main file, -wal, -shm), or a `pg_dump` of PostgreSQL's."""

from __future__ import annotations

import sqlite3
import subprocess
import uuid
from collections.abc import Iterable
from pathlib import Path

import psycopg

from tests.postgres import find_bin_dir

Stored = dict[str, bytes]  # a file's name (or "pg_dump") -> its bytes


def is_sqlite(database_url: str) -> bool:
    return database_url.startswith("sqlite:")


def sqlite_file(database_url: str) -> Path:
    """sqlite:///relative.db or sqlite:////absolute.db, as the README says."""
    return Path(database_url.removeprefix("sqlite:///"))


def key_rows(database_url: str, message_ids: Iterable[str]) -> dict[str, bytes]:
    """The content key row of each of these messages that has one (message id -> key)."""
    by_hex = {uuid.UUID(mid).hex: mid for mid in message_ids}
    if not by_hex:
        return {}
    if is_sqlite(database_url):
        connection = sqlite3.connect(sqlite_file(database_url), timeout=60)
        try:
            marks = ", ".join("?" for _ in by_hex)
            rows = connection.execute(
                f"SELECT message_id, key FROM herald_content_keys WHERE message_id IN ({marks})",
                list(by_hex),
            ).fetchall()
        finally:
            connection.close()
    else:
        with psycopg.connect(database_url) as conn:
            rows = conn.execute(
                "SELECT message_id, key FROM herald_content_keys WHERE message_id = ANY(%s)",
                (list(by_hex),),
            ).fetchall()
    return {by_hex[str(hexed)]: bytes(key) for hexed, key in rows}


def stored_bytes(database_url: str) -> Stored:
    """Every byte the database holds: on SQLite each file of its folder as it is on disk now,
    on PostgreSQL a `pg_dump` of the database (what is durable and would be backed up)."""
    if is_sqlite(database_url):
        folder = sqlite_file(database_url).parent
        return {p.name: p.read_bytes() for p in sorted(folder.iterdir()) if p.is_file()}
    return {"pg_dump": pg_dump(database_url)}


def pg_dump(database_url: str) -> bytes:
    bin_dir = find_bin_dir()
    assert bin_dir is not None, "no PostgreSQL binaries found"
    # Beside the initdb the tests' cluster was made with (PATH may hold only links to some).
    dump = (bin_dir / "initdb").resolve().parent / "pg_dump"
    done = subprocess.run(
        [str(dump), "--no-owner", "--dbname", database_url],
        capture_output=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr.decode(errors="replace")
    return done.stdout


def text_needles(text: str) -> list[bytes]:
    return [text.encode("utf-8"), text.encode("utf-16-le"), text.encode("utf-16-be")]


def key_needles(key: bytes) -> list[bytes]:
    """The raw key, and its hex as pg_dump prints a bytea (\\x...)."""
    return [key, key.hex().encode()]


def holding(stored: Stored, needles: Iterable[bytes]) -> list[str]:
    """The names of the files (or the dump) that hold any of the needles."""
    wanted = list(needles)
    return [name for name, data in stored.items() if any(n in data for n in wanted)]
