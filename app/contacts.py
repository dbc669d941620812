"""A contact's identity without its address: the keyed hash (HMAC-SHA256 with a secret of the
workspace) of a normalized identifier, by which the views index the messages sent to it, so that
all of them can be erased together while no address is stored in clear."""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
import threading

from app.database import Cursor, Database

_SEPARATORS = re.compile(r"[\s().\-]")
_PHONE = re.compile(r"\+?[0-9]{3,20}")


def normalize(identifier: str) -> str:
    """Emails lowercased and trimmed; phone numbers as E.164 digits, whatever separators were
    typed; anything else trimmed."""
    value = identifier.strip()
    if "@" in value:
        return value.lower()
    compact = _SEPARATORS.sub("", value)
    return compact if _PHONE.fullmatch(compact) else value


def digest(secret: bytes, identifier: str) -> str:
    return hmac.new(secret, normalize(identifier).encode(), hashlib.sha256).hexdigest()


class ContactSecrets:
    """One secret per workspace, made the first time a message of it names a recipient. It
    never changes, so a process keeps what it has read."""

    def __init__(self, db: Database) -> None:
        self.db = db
        self._known: dict[str, bytes] = {}
        self._lock = threading.Lock()
        with db.transaction(commit=True) as c:
            c.execute(
                "CREATE TABLE IF NOT EXISTS herald_contact_secrets "
                f"(workspace TEXT PRIMARY KEY, secret {db.blob} NOT NULL)"
            )

    def of(self, c: Cursor, workspace: str, *, create: bool) -> bytes | None:
        with self._lock:
            known = self._known.get(workspace)
        if known is not None:
            return known
        made = False
        if create:
            c.execute(
                self.db.sql(
                    "INSERT INTO herald_contact_secrets (workspace, secret) VALUES (?, ?) "
                    "ON CONFLICT (workspace) DO NOTHING RETURNING workspace"
                ),
                (workspace, secrets.token_bytes(32)),
            )
            made = c.fetchone() is not None
        c.execute(
            self.db.sql("SELECT secret FROM herald_contact_secrets WHERE workspace = ?"),
            (workspace,),
        )
        row = c.fetchone()
        if row is None:
            return None
        secret = bytes(row[0])
        # Remembered only once surely committed: a secret made in `c` may still be rolled back.
        if not made:
            with self._lock:
                self._known[workspace] = secret
        return secret
