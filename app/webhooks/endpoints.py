"""A workspace's webhook endpoints (their secrets: secrets.py). Every read and change names the
workspace: another workspace's endpoints do not exist here."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from uuid import UUID, uuid4

from app.database import Cursor, Database
from app.errors import LimitExceeded, NotFound

from .secrets import Secrets

MAX_ENDPOINTS = 20
# Where an endpoint created or enabled in a transaction starts: after this position.
Start = Callable[[Cursor], int]
_COLUMNS = (
    "id, url, event_types, description, created_at, updated_at, disabled_at, disabled_reason, "
    "failing_since, previous_until, since"
)


@dataclass(frozen=True)
class Endpoint:
    id: str
    url: str
    event_types: tuple[str, ...] | None  # None: every type
    description: str
    created_at: float
    updated_at: float
    disabled_at: float | None
    disabled_reason: str | None
    failing_since: float | None
    previous_until: float | None  # the previous secret signs until then
    since: int  # called for the events after this position


@dataclass(frozen=True)
class State:
    enabled: int  # endpoints to queue deliveries for
    replaying: int  # ... with a replay to queue
    deleted: int  # ... to purge


def _endpoint(row: Any) -> Endpoint:
    types = None if row[2] is None else tuple(json.loads(row[2]))
    return Endpoint(
        id=str(row[0]),
        url=row[1],
        event_types=types,
        description=row[3],
        created_at=row[4],
        updated_at=row[5],
        disabled_at=row[6],
        disabled_reason=row[7],
        failing_since=row[8],
        previous_until=row[9],
        since=int(row[10]),
    )


def _id(raw: str) -> str:
    try:
        return str(UUID(raw))
    except (ValueError, AttributeError, TypeError):
        raise NotFound("no such webhook endpoint") from None


class Endpoints:
    def __init__(self, db: Database) -> None:
        self.db = db
        self.secrets = Secrets(db)

    def create(
        self,
        workspace: str,
        url: str,
        types: list[str] | None,
        description: str,
        start: Start,
    ) -> tuple[Endpoint, str]:
        """A new endpoint, called for the events after the position `start` gives in its
        transaction, and its secret."""
        endpoint_id, now = str(uuid4()), time.time()
        with self.db.transaction(commit=True) as c:
            c.execute(
                self.db.sql(
                    "SELECT COUNT(*) FROM webhook_endpoints WHERE workspace = ? AND deleted = 0"
                ),
                (workspace,),
            )
            if c.fetchone()[0] >= MAX_ENDPOINTS:
                raise LimitExceeded(f"a workspace has at most {MAX_ENDPOINTS} webhook endpoints")
            since = start(c)
            secret, sealed = self.secrets.first(c, endpoint_id)
            c.execute(
                self.db.sql(
                    "INSERT INTO webhook_endpoints (id, workspace, url, event_types, description, "
                    "secret, since, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)"
                ),
                (
                    endpoint_id,
                    workspace,
                    url,
                    _types(types),
                    description,
                    sealed,
                    since,
                    now,
                    now,
                ),
            )
            return self._read(c, workspace, endpoint_id), secret

    def get(self, workspace: str, raw_id: str) -> Endpoint:
        with self.db.transaction(commit=False) as c:
            return self._read(c, workspace, _id(raw_id))

    def of_workspace(self, workspace: str) -> list[Endpoint]:
        with self.db.transaction(commit=False) as c:
            c.execute(
                self.db.sql(
                    f"SELECT {_COLUMNS} FROM webhook_endpoints WHERE workspace = ? AND deleted = 0 "
                    "ORDER BY created_at, id"
                ),
                (workspace,),
            )
            return [_endpoint(row) for row in c.fetchall()]

    def update(self, workspace: str, raw_id: str, **changes: Any) -> Endpoint:
        """Change the url, the event types (None in `event_types` is every type) or the
        description; the others stay as they are."""
        if "event_types" in changes:
            changes["event_types"] = _types(changes["event_types"])
        return self._change(workspace, raw_id, {**changes, "updated_at": time.time()})

    def rotate(self, workspace: str, raw_id: str, overlap: float) -> tuple[Endpoint, str]:
        """A new secret; the one it replaces keeps signing for `overlap` seconds."""
        endpoint_id, now = _id(raw_id), time.time()
        with self.db.transaction(commit=True) as c:
            self._read(c, workspace, endpoint_id)
            secret, sealed = self.secrets.another(c, endpoint_id)
            # The right-hand sides read the row as it was: the old secret becomes the previous.
            c.execute(
                self.db.sql(
                    "UPDATE webhook_endpoints SET previous_secret = secret, previous_until = ?, "
                    "secret = ?, updated_at = ? WHERE id = ?"
                ),
                (now + overlap, sealed, now, endpoint_id),
            )
            return self._read(c, workspace, endpoint_id), secret

    def disable(self, workspace: str, raw_id: str, reason: str) -> Endpoint:
        now = time.time()
        return self._change(
            workspace, raw_id, {"disabled_at": now, "disabled_reason": reason, "updated_at": now}
        )

    def enable(self, workspace: str, raw_id: str, start: Start) -> Endpoint:
        """Called again, for the events after the position `start` gives in its transaction;
        what was queued before goes out too."""
        return self._change(
            workspace,
            raw_id,
            {
                "disabled_at": None,
                "disabled_reason": None,
                "failing_since": None,
                "updated_at": time.time(),
            },
            start,
        )

    def replay(self, workspace: str, raw_id: str, after: int, until: int) -> Endpoint:
        """Queue again the endpoint's events after position `after` up to `until` (the
        dispatcher does it, a batch at a time); a replay replaces one not yet queued."""
        return self._change(workspace, raw_id, {"replay_next": after, "replay_until": until})

    def delete(self, workspace: str, raw_id: str) -> None:
        """Gone at once, with its key (so its secrets can never be read again); the
        dispatcher purges its deliveries a batch at a time."""
        endpoint_id = _id(raw_id)
        with self.db.transaction(commit=True) as c:
            self._read(c, workspace, endpoint_id)
            c.execute(
                self.db.sql(
                    "UPDATE webhook_endpoints SET deleted = 1, secret = '', previous_secret = NULL "
                    "WHERE id = ?"
                ),
                (endpoint_id,),
            )
            self.secrets.destroy(c, endpoint_id)

    def enabled_within(self, c: Cursor) -> bool:
        c.execute(
            "SELECT 1 FROM webhook_endpoints WHERE deleted = 0 AND disabled_at IS NULL LIMIT 1"
        )
        return c.fetchone() is not None

    def state(self) -> State:
        """What the dispatcher has to do besides sending, in one read of a small table."""
        row = self.db.read_one(
            "SELECT COALESCE(SUM(CASE WHEN deleted = 0 AND disabled_at IS NULL THEN 1 END), 0), "
            "COALESCE(SUM(CASE WHEN deleted = 0 AND replay_next IS NOT NULL THEN 1 END), 0), "
            "COALESCE(SUM(deleted), 0) FROM webhook_endpoints",
            (),
        )
        return State(int(row[0]), int(row[1]), int(row[2]))

    def _change(
        self, workspace: str, raw_id: str, changes: dict[str, Any], start: Start | None = None
    ) -> Endpoint:
        endpoint_id = _id(raw_id)
        with self.db.transaction(commit=True) as c:
            self._read(c, workspace, endpoint_id)
            if start is not None:
                changes = {**changes, "since": start(c)}
            assignments = ", ".join(f"{column} = ?" for column in changes)
            c.execute(
                self.db.sql(f"UPDATE webhook_endpoints SET {assignments} WHERE id = ?"),
                (*changes.values(), endpoint_id),
            )
            return self._read(c, workspace, endpoint_id)

    def _read(self, c: Cursor, workspace: str, endpoint_id: str) -> Endpoint:
        c.execute(
            self.db.sql(
                f"SELECT {_COLUMNS} FROM webhook_endpoints "
                "WHERE id = ? AND workspace = ? AND deleted = 0"
            ),
            (endpoint_id, workspace),
        )
        row = c.fetchone()
        if row is None:
            raise NotFound("no such webhook endpoint")
        return _endpoint(row)


def _types(types: list[str] | None) -> str | None:
    return None if types is None else json.dumps(sorted(set(types)))
