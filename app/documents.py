"""Registered documents: GraphQL documents an operator has vetted (`herald documents add`),
kept in the database so that every process serving it knows them, and found by the SHA-256
of their exact text, as persisted-query clients name them."""

from __future__ import annotations

import hashlib
import threading
from collections import OrderedDict

from app.database import Database
from app.runtime import schema_lock
from app.settings import Settings

_REMEMBERED = 10_000  # registered documents kept in memory; they never change once added


def sha256_of(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


class Documents:
    def __init__(self, db: Database, settings: Settings) -> None:
        self.db = db
        self._lock = threading.Lock()
        self._known: OrderedDict[str, str] = OrderedDict()
        with schema_lock(settings), db.transaction(commit=True) as c:
            c.execute(
                "CREATE TABLE IF NOT EXISTS herald_documents "
                "(sha256 TEXT PRIMARY KEY, document TEXT NOT NULL)"
            )

    def add(self, text: str) -> tuple[str, bool]:
        """The document's hash, and whether it is new."""
        digest = sha256_of(text)
        sql = self.db.sql
        with self.db.transaction(commit=True) as c:
            c.execute(sql("SELECT 1 FROM herald_documents WHERE sha256 = ?"), (digest,))
            known = c.fetchone() is not None
            c.execute(
                sql(
                    "INSERT INTO herald_documents (sha256, document) VALUES (?, ?) "
                    "ON CONFLICT (sha256) DO NOTHING"
                ),
                (digest, text),
            )
        return digest, not known

    def find(self, digest: str) -> str | None:
        """The registered document of this hash. Only found ones are remembered: one that
        another process adds is found at its next request."""
        with self._lock:
            text = self._known.get(digest)
            if text is not None:
                self._known.move_to_end(digest)
                return text
        row = self.db.read_one("SELECT document FROM herald_documents WHERE sha256 = ?", (digest,))
        if row is None:
            return None
        with self._lock:
            self._known[digest] = str(row[0])
            if len(self._known) > _REMEMBERED:
                self._known.popitem(last=False)
        return str(row[0])

    def hashes(self) -> list[str]:
        with self.db.transaction(commit=False) as c:
            c.execute("SELECT sha256 FROM herald_documents ORDER BY sha256")
            return [str(row[0]) for row in c.fetchall()]
