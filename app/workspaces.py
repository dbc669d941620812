"""Workspaces and their API keys: a request's key tells who is calling and on whose behalf."""

from __future__ import annotations

import hashlib
import secrets
import uuid
from dataclasses import dataclass

from app import keycache
from app.database import Database
from app.errors import Forbidden, Unauthenticated
from app.keycache import KeyCache

_PREFIX = "hk_"


@dataclass(frozen=True)
class Principal:
    workspace: str
    key_name: str
    # Which key authenticated it, so long-lived connections can notice when it is revoked.
    key_digest: str = ""

    def actor(self, given: str | None) -> str:
        return given if given else self.key_name


def _digest(key: str) -> str:
    # Keys are long random secrets, so one fast hash suffices; no salt is needed against guessing.
    return hashlib.sha256(key.encode()).hexdigest()


class Workspaces:
    def __init__(self, db: Database) -> None:
        self.db = db
        self.cache = KeyCache(db.sqlite_path)
        with db.transaction(commit=True) as c:
            c.execute(
                "CREATE TABLE IF NOT EXISTS herald_workspaces "
                "(id TEXT PRIMARY KEY, name TEXT NOT NULL UNIQUE)"
            )
            c.execute(
                "CREATE TABLE IF NOT EXISTS herald_api_keys (digest TEXT PRIMARY KEY, "
                "workspace_id TEXT NOT NULL, name TEXT NOT NULL, "
                "revoked INTEGER NOT NULL DEFAULT 0)"
            )
            keycache.create_within(c)

    def ensure(self, name: str) -> str:
        """The id of the workspace called `name`, made if it does not exist yet."""
        sql = self.db.sql
        with self.db.transaction(commit=True) as c:
            c.execute(
                sql(
                    "INSERT INTO herald_workspaces (id, name) VALUES (?, ?) "
                    "ON CONFLICT (name) DO NOTHING"
                ),
                (str(uuid.uuid4()), name),
            )
            c.execute(sql("SELECT id FROM herald_workspaces WHERE name = ?"), (name,))
            return str(c.fetchone()[0])

    def create_key(self, workspace_name: str, key_name: str) -> str:
        workspace_id = self.ensure(workspace_name)
        key = _PREFIX + secrets.token_urlsafe(32)
        with self.db.transaction(commit=True) as c:
            c.execute(
                self.db.sql(
                    "INSERT INTO herald_api_keys (digest, workspace_id, name) VALUES (?, ?, ?)"
                ),
                (_digest(key), workspace_id, key_name),
            )
        return key

    def authenticate(
        self, key: str | None, workspace_header: str | None = None, *, remembered: bool = False
    ) -> Principal:
        """`remembered`: answer only from memory (the key cache), never wait for the database:
        NotRemembered says to ask again where waiting is allowed."""
        if not key:
            raise Unauthenticated("an API key is required: send Authorization: Bearer <key>")
        digest = _digest(key)

        def read() -> tuple[object, ...] | None:
            if remembered:
                raise NotRemembered
            row: tuple[object, ...] | None = self.db.read_one(
                "SELECT k.workspace_id, k.name, w.name FROM herald_api_keys k "
                "JOIN herald_workspaces w ON w.id = k.workspace_id "
                "WHERE k.digest = ? AND k.revoked = 0",
                (digest,),
            )
            return row

        row = self.cache.row(digest, read)
        if row is None:
            raise Unauthenticated("unknown or revoked API key")
        workspace_id, key_name, workspace_name = str(row[0]), str(row[1]), str(row[2])
        if workspace_header and workspace_header not in (workspace_id, workspace_name):
            raise Forbidden("this key does not belong to the workspace the request names")
        return Principal(workspace=workspace_id, key_name=key_name, key_digest=digest)

    def revoke(
        self, workspace_name: str, key_name: str | None = None, key: str | None = None
    ) -> int:
        """Revoke a workspace's keys by name (every key of that name), or one key by its value;
        returns how many were revoked. Takes effect at the next request or subscription check."""
        clause, params = ("k.digest = ?", [_digest(key)]) if key else ("k.name = ?", [key_name])
        sql = self.db.sql
        with self.db.transaction(commit=True) as c:
            c.execute(
                sql(
                    "SELECT k.digest FROM herald_api_keys k JOIN herald_workspaces w "
                    f"ON w.id = k.workspace_id WHERE w.name = ? AND k.revoked = 0 AND {clause}"
                ),
                (workspace_name, *params),
            )
            digests = [str(row[0]) for row in c.fetchall()]
            for digest in digests:
                c.execute(sql("UPDATE herald_api_keys SET revoked = 1 WHERE digest = ?"), (digest,))
            if digests:
                keycache.changed_within(c)
        return len(digests)

    def is_active(self, principal: Principal) -> bool:
        with self.db.transaction(commit=False) as c:
            c.execute(
                self.db.sql("SELECT revoked FROM herald_api_keys WHERE digest = ?"),
                (principal.key_digest,),
            )
            row = c.fetchone()
        return row is not None and not row[0]


class NotRemembered(Exception):
    """The key is not in memory: looking it up would wait for the database."""


def parse_authorization(header: str | None) -> str | None:
    """The key of `Bearer <key>` or Bird's `AccessKey <key>`; None for anything else."""
    if not header:
        return None
    scheme, _, value = header.strip().partition(" ")
    if scheme.lower() in ("bearer", "accesskey") and value.strip():
        return value.strip()
    return None
