"""Where the event log ends and where each of its consumers has got to: what readiness,
metrics and `herald status` report, read from the database at the moment they are asked."""

from __future__ import annotations

from dataclasses import dataclass

from app.projection import Projection
from app.runtime import Herald

VIEWS = Projection.name  # the views' consumer


@dataclass(frozen=True)
class Positions:
    events: int  # the last notification id of the event log (0: no events yet)
    consumers: dict[str, int]  # each tracking consumer (the views, later the webhooks) → position

    @property
    def views(self) -> int:
        return self.consumers.get(VIEWS, 0)

    def lag(self, consumer: str = VIEWS) -> int:
        return max(0, self.events - self.consumers.get(consumer, 0))


def read_positions(herald: Herald) -> Positions:
    table = herald.store.tracking_table
    with herald.store.db.transaction(commit=False) as c:
        c.execute(
            f"SELECT application_name, MAX(notification_id) FROM {table} GROUP BY application_name"
        )
        rows = c.fetchall()
    # eventsourcing keeps a marker row of its own ("__migration__") in the same table.
    consumers = {str(n): int(p) for n, p in rows if not str(n).startswith("__")}
    events = herald.store.recorder.max_notification_id() or 0
    # Read after the consumers, so a consumer is never seen ahead of the log.
    return Positions(events=events, consumers={VIEWS: 0, **consumers})
