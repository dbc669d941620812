"""Pages of an endpoint's deliveries, newest first, each with its attempts. A cursor is a
delivery's position in the outbox; attempts per delivery are bounded by the retry schedule."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any
from uuid import UUID

from app.database import Database
from app.views import Page

from .tables import PENDING


@dataclass(frozen=True)
class Attempt:
    attempt: int  # 1 for the first
    at: float
    http_status: int | None
    duration_ms: float
    error: str | None
    next_at: float | None  # when the next attempt is due; None when none follows


@dataclass(frozen=True)
class Delivery:
    id: int
    notification_id: int  # the event's position
    message_id: UUID
    version: int
    event_type: str
    status: str
    next_at: float | None  # while pending
    created_at: float
    replayed: bool
    attempts: list[Attempt] = field(default_factory=list)


def page(
    db: Database, endpoint_id: str, status: str | None, first: int, before: int | None
) -> Page[Delivery]:
    """The endpoint must already be known to be the caller's."""
    where, params = ["endpoint_id = ?"], list[Any]([endpoint_id])
    if status is not None:
        where.append("status = ?")
        params.append(status)
    if before is not None:
        where.append("id < ?")
        params.append(before)
    with db.transaction(commit=False) as c:
        c.execute(
            db.sql(
                "SELECT id, notification_id, message_id, version, event_type, status, next_at, "
                f"created_at, replayed FROM webhook_deliveries WHERE {' AND '.join(where)} "
                "ORDER BY id DESC LIMIT ?"
            ),
            (*params, first + 1),
        )
        found = c.fetchall()
        rows = found[:first]
        attempts: dict[int, list[Attempt]] = {int(r[0]): [] for r in rows}
        if attempts:
            marks = ", ".join("?" * len(attempts))
            c.execute(
                db.sql(
                    "SELECT delivery_id, attempt, at, http_status, duration_ms, error, next_at "
                    f"FROM webhook_attempts WHERE delivery_id IN ({marks}) "
                    "ORDER BY delivery_id, attempt"
                ),
                tuple(attempts),
            )
            for a in c.fetchall():
                attempts[int(a[0])].append(Attempt(int(a[1]), *a[2:]))
    items = [
        (
            int(r[0]),
            Delivery(
                int(r[0]),
                int(r[1]),
                UUID(str(r[2])),
                int(r[3]),
                r[4],
                r[5],
                float(r[6]) if r[5] == PENDING else None,
                float(r[7]),
                bool(r[8]),
                attempts[int(r[0])],
            ),
        )
        for r in rows
    ]
    return Page(items, len(found) > first)
