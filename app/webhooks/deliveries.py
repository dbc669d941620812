"""The outbox's rows: one delivery per endpoint and event, pending until it is delivered or given
up (attempts.py records what each attempt makes of it). A delivery is due once its time has
come and no earlier event of its message is still pending for the same endpoint, so each
message's events go out in order."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from uuid import UUID

from app.database import Cursor, Database

from .tables import PENDING

# (endpoint, position, message id, version, event type, due at, queued at, replayed)
Row = tuple[str, int, str, int, str, float, float, int]
_PURGE = 1_000


@dataclass(frozen=True)
class Due:
    id: int
    endpoint_id: str
    notification_id: int
    message_id: UUID
    version: int
    attempts: int  # made so far


class Deliveries:
    def __init__(self, db: Database) -> None:
        self.db = db

    def enqueue(self, c: Cursor, rows: Sequence[Row]) -> None:
        if rows:
            c.executemany(
                self.db.sql(
                    "INSERT INTO webhook_deliveries (endpoint_id, notification_id, message_id, "
                    "version, event_type, status, next_at, created_at, replayed) "
                    f"VALUES (?, ?, ?, ?, ?, '{PENDING}', ?, ?, ?)"
                ),
                rows,
            )

    def due_endpoints(self, c: Cursor, now: float) -> list[str]:
        """Enabled endpoints with a delivery whose time has come (one index probe each)."""
        c.execute(
            self.db.sql(
                "SELECT e.id FROM webhook_endpoints e "
                "WHERE e.deleted = 0 AND e.disabled_at IS NULL AND EXISTS (SELECT 1 "
                "FROM webhook_deliveries d WHERE d.endpoint_id = e.id "
                f"AND d.status = '{PENDING}' AND d.next_at <= ?)"
            ),
            (now,),
        )
        return [str(row[0]) for row in c.fetchall()]

    def due(self, c: Cursor, endpoint_id: str, now: float, limit: int) -> list[Due]:
        c.execute(
            self.db.sql(
                "SELECT d.id, d.notification_id, d.message_id, d.version, d.attempts "
                "FROM webhook_deliveries d WHERE d.endpoint_id = ? "
                f"AND d.status = '{PENDING}' AND d.next_at <= ? AND NOT EXISTS "
                "(SELECT 1 FROM webhook_deliveries p WHERE p.endpoint_id = d.endpoint_id "
                f"AND p.message_id = d.message_id AND p.status = '{PENDING}' "
                "AND (p.notification_id < d.notification_id "
                "OR (p.notification_id = d.notification_id AND p.id < d.id))) "
                "ORDER BY d.next_at, d.id LIMIT ?"
            ),
            (endpoint_id, now, limit),
        )
        return [
            Due(int(r[0]), endpoint_id, int(r[1]), UUID(str(r[2])), int(r[3]), int(r[4]))
            for r in c.fetchall()
        ]

    def next_due(self, c: Cursor, now: float) -> float | None:
        """When the next retry yet to come is due, if any (one index probe per endpoint)."""
        c.execute(
            self.db.sql(
                "SELECT (SELECT MIN(d.next_at) FROM webhook_deliveries d "
                f"WHERE d.endpoint_id = e.id AND d.status = '{PENDING}' AND d.next_at > ?) "
                "FROM webhook_endpoints e WHERE e.deleted = 0 AND e.disabled_at IS NULL"
            ),
            (now,),
        )
        times = [float(row[0]) for row in c.fetchall() if row[0] is not None]
        return min(times, default=None)

    def backlog(self) -> int:
        """Deliveries pending, whatever their endpoint's state."""
        row = self.db.read_one(
            f"SELECT COUNT(*) FROM webhook_deliveries WHERE status = '{PENDING}'", ()
        )
        return int(row[0])

    def purge(self) -> bool:
        """A batch of a deleted endpoint's deliveries and attempts, then the endpoint itself;
        True while there is more to purge."""
        sql = self.db.sql
        with self.db.transaction(commit=True) as c:
            c.execute("SELECT id FROM webhook_endpoints WHERE deleted = 1 LIMIT 1")
            row = c.fetchone()
            if row is None:
                return False
            batch = "SELECT id FROM webhook_deliveries WHERE endpoint_id = ? ORDER BY id LIMIT ?"
            c.execute(
                sql(f"DELETE FROM webhook_attempts WHERE delivery_id IN ({batch})"),
                (row[0], _PURGE),
            )
            c.execute(
                sql(f"DELETE FROM webhook_deliveries WHERE id IN ({batch}) RETURNING id"),
                (row[0], _PURGE),
            )
            if not c.fetchall():
                c.execute(sql("DELETE FROM webhook_endpoints WHERE id = ?"), (row[0],))
            return True
