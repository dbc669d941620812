"""The outbox's rows: one delivery per endpoint and event, pending until it is delivered or given
up, and the attempts made for it. A delivery is due once its time has come and no earlier event
of its message is still pending for the same endpoint, so each message's events go out in order."""

from __future__ import annotations

import random
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from uuid import UUID

from app.database import Cursor, Database

from .config import WebhookSettings
from .tables import DELIVERED, FAILED, PENDING

# (endpoint, position, message id, version, event type, due at, queued at, replayed)
Row = tuple[str, int, str, int, str, float, float, int]
_PURGE = 1_000


# What an attempt made of its delivery, as counted for metrics.
RESULTS = {DELIVERED: "delivered", PENDING: "retrying", FAILED: "failed"}


@dataclass
class Recorded:
    results: Counter[str] = field(default_factory=Counter)
    disabled: list[tuple[str, str]] = field(default_factory=list)  # (endpoint id, why)


@dataclass(frozen=True)
class Due:
    id: int
    endpoint_id: str
    notification_id: int
    message_id: UUID
    version: int
    attempts: int  # made so far


@dataclass(frozen=True)
class Outcome:
    due: Due
    at: float  # when the attempt started
    http_status: int | None
    duration_ms: float
    error: str | None  # never the answer's body: only what went wrong, e.g. "HTTP 500"

    @property
    def ok(self) -> bool:
        return self.http_status is not None and 200 <= self.http_status < 300


class Deliveries:
    def __init__(self, db: Database, settings: WebhookSettings) -> None:
        self.db = db
        self.settings = settings

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

    def record(self, outcomes: Sequence[Outcome], now: float) -> Recorded:
        """Each attempt and what it makes of its delivery and endpoint, in one transaction. A
        delivery no longer pending at the attempts counted (another dispatcher recorded it) is
        left alone."""
        recorded = Recorded()
        sql = self.db.sql
        delivered = [o for o in outcomes if o.ok]
        with self.db.transaction(commit=True) as c:
            if delivered:
                # The common case, in two statements whatever the count: the attempt first,
                # while its delivery is still pending at the attempts counted.
                c.executemany(
                    sql(
                        "INSERT INTO webhook_attempts (delivery_id, attempt, at, http_status, "
                        "duration_ms) SELECT ?, ?, ?, ?, ? WHERE EXISTS (SELECT 1 "
                        f"FROM webhook_deliveries WHERE id = ? AND status = '{PENDING}' "
                        "AND attempts = ?)"
                    ),
                    [
                        (o.due.id, o.due.attempts + 1, o.at, o.http_status, o.duration_ms, *key)
                        for o in delivered
                        for key in [(o.due.id, o.due.attempts)]
                    ],
                )
                c.executemany(
                    sql(
                        f"UPDATE webhook_deliveries SET status = '{DELIVERED}', attempts = ?, "
                        f"next_at = ? WHERE id = ? AND status = '{PENDING}' AND attempts = ?"
                    ),
                    [(o.due.attempts + 1, now, o.due.id, o.due.attempts) for o in delivered],
                )
                c.executemany(
                    sql(
                        "UPDATE webhook_endpoints SET failing_since = NULL "
                        "WHERE id = ? AND failing_since IS NOT NULL"
                    ),
                    [(e,) for e in sorted({o.due.endpoint_id for o in delivered})],
                )
                recorded.results[RESULTS[DELIVERED]] += len(delivered)
            for o in outcomes:
                if not o.ok:
                    self._failed(c, o, now, recorded)
        return recorded

    def _failed(self, c: Cursor, o: Outcome, now: float, recorded: Recorded) -> None:
        made = o.due.attempts + 1
        status, next_at = self._after(o, made, now)
        c.execute(
            self.db.sql(
                "UPDATE webhook_deliveries SET status = ?, attempts = ?, next_at = ? "
                f"WHERE id = ? AND status = '{PENDING}' AND attempts = ? RETURNING id"
            ),
            (status, made, now if next_at is None else next_at, o.due.id, made - 1),
        )
        if c.fetchone() is None:
            return
        c.execute(
            self.db.sql(
                "INSERT INTO webhook_attempts (delivery_id, attempt, at, http_status, "
                "duration_ms, error, next_at) VALUES (?, ?, ?, ?, ?, ?, ?)"
            ),
            (o.due.id, made, o.at, o.http_status, o.duration_ms, o.error, next_at),
        )
        recorded.results[RESULTS[status]] += 1
        recorded.disabled += self._judge(c, o, now)

    def _after(self, o: Outcome, made: int, now: float) -> tuple[str, float | None]:
        schedule = self.settings.schedule
        if made >= len(schedule):
            return FAILED, None
        return PENDING, now + schedule[made] * (1 + self.settings.jitter * random.random())

    def _judge(self, c: Cursor, o: Outcome, now: float) -> list[tuple[str, str]]:
        """What a failed attempt says of its endpoint: 410 disables it; so does failing for
        `disable_after` seconds with no success (which clears the spell)."""
        sql, endpoint = self.db.sql, o.due.endpoint_id
        c.execute(
            sql(
                "UPDATE webhook_endpoints SET failing_since = COALESCE(failing_since, ?) "
                "WHERE id = ? RETURNING failing_since"
            ),
            (o.at, endpoint),
        )
        row = c.fetchone()
        if o.http_status == 410:
            why = "the endpoint answered 410 Gone"
        elif row is not None and now - float(row[0]) >= self.settings.disable_after:
            since = datetime.fromtimestamp(float(row[0]), UTC).isoformat(timespec="seconds")
            why = f"every attempt failed since {since} ({_span(self.settings.disable_after)})"
        else:
            return []
        c.execute(
            sql(
                "UPDATE webhook_endpoints SET disabled_at = ?, disabled_reason = ?, updated_at = ? "
                "WHERE id = ? AND disabled_at IS NULL RETURNING id"
            ),
            (now, why, now, endpoint),
        )
        return [(endpoint, why)] if c.fetchone() is not None else []

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


def _span(seconds: float) -> str:
    days = seconds / 86_400
    return f"{days:g} days" if days >= 1 else f"{seconds:g} seconds"
