"""Endpoints' signing secrets, sealed at rest with a key of each endpoint's own (AES-GCM, as
message content is), kept apart in webhook_keys. The key is born with its endpoint and destroyed
with it, so a deleted endpoint's secrets can never be read again, from the database or a backup."""

from __future__ import annotations

import json
from uuid import UUID

from app.database import Cursor, Database
from app.secrecy import new_key, seal, unseal

from .signing import new_secret

# The workspace, the URL and the secrets that sign now (the current one first).
Signing = tuple[str, str, list[str]]


class Secrets:
    def __init__(self, db: Database) -> None:
        self.db = db

    def first(self, c: Cursor, endpoint_id: str) -> tuple[str, str]:
        """A new endpoint's key, in `c`'s transaction: its first secret, and that sealed."""
        key, secret = new_key(), new_secret()
        c.execute(
            self.db.sql("INSERT INTO webhook_keys (endpoint_id, key) VALUES (?, ?)"),
            (endpoint_id, key),
        )
        return secret, _sealed(key, endpoint_id, secret)

    def another(self, c: Cursor, endpoint_id: str) -> tuple[str, str]:
        """A new secret for an endpoint, and that sealed with its key."""
        c.execute(self.db.sql("SELECT key FROM webhook_keys WHERE endpoint_id = ?"), (endpoint_id,))
        secret = new_secret()
        return secret, _sealed(bytes(c.fetchone()[0]), endpoint_id, secret)

    def destroy(self, c: Cursor, endpoint_id: str) -> None:
        c.execute(self.db.sql("DELETE FROM webhook_keys WHERE endpoint_id = ?"), (endpoint_id,))

    def signing(self, c: Cursor, endpoint_id: str, now: float) -> Signing | None:
        """What a delivery to the endpoint needs; None once it is deleted."""
        c.execute(
            self.db.sql(
                "SELECT e.workspace, e.url, e.secret, e.previous_secret, e.previous_until, k.key "
                "FROM webhook_endpoints e JOIN webhook_keys k ON k.endpoint_id = e.id "
                "WHERE e.id = ? AND e.deleted = 0"
            ),
            (endpoint_id,),
        )
        row = c.fetchone()
        if row is None:
            return None
        workspace, url, current, previous, until, key = row
        key = bytes(key)
        signing = [_opened(key, endpoint_id, current)]
        if previous is not None and until is not None and now < until:
            signing.append(_opened(key, endpoint_id, previous))
        return str(workspace), str(url), signing


def _sealed(key: bytes, endpoint_id: str, secret: str) -> str:
    return json.dumps(seal(key, UUID(endpoint_id), secret))


def _opened(key: bytes, endpoint_id: str, sealed: str) -> str:
    secret = unseal(key, UUID(endpoint_id), json.loads(sealed))
    assert isinstance(secret, str), f"the secret of webhook endpoint {endpoint_id} cannot be read"
    return secret
