"""Each attempt and what it makes of its delivery (delivered, retried on the schedule, or given
up) and of its endpoint (410, or failing for days, disables it), committed together."""

from __future__ import annotations

import random
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime

from app.database import Cursor, Database

from .config import WebhookSettings
from .deliveries import Due
from .tables import DELIVERED, FAILED, PENDING

# What an attempt made of its delivery, as herald_webhook_deliveries_total counts it: delivered,
# failed (to be tried again) or gave_up (the schedule's last attempt failed).
RESULTS = {DELIVERED: "delivered", PENDING: "failed", FAILED: "gave_up"}


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


@dataclass
class Recorded:
    results: Counter[str] = field(default_factory=Counter)
    disabled: list[tuple[str, str]] = field(default_factory=list)  # (endpoint id, why)


class Attempts:
    def __init__(self, db: Database, settings: WebhookSettings) -> None:
        self.db = db
        self.settings = settings

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


def _span(seconds: float) -> str:
    days = seconds / 86_400
    return f"{days:g} days" if days >= 1 else f"{seconds:g} seconds"
