"""The webhook outbox: a consumer of the event log (app/catchup.py) that queues one delivery per
endpoint and event it matches, in the transaction that records its position, so a kill -9 never
loses or repeats one. It also queues replays, a batch at a time. It copies no content: a
delivery names its event, and the payload is built when it is sent."""

from __future__ import annotations

import json
import time
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any
from uuid import UUID

from eventsourcing.persistence import Notification

from app.database import Cursor
from app.store import MessageStore

from .deliveries import Deliveries, Row
from .payload import TYPES, event_name

# Any constant will do: every Herald process contends for this PostgreSQL advisory lock.
OUTBOX_LOCK = 0x5745424F58
_REPLAY_BATCH = 500
_KNOWN_WORKSPACES = 100_000
_TARGETS = "SELECT id, workspace, event_types, since FROM webhook_endpoints WHERE deleted = 0"


@dataclass(frozen=True)
class Target:
    """An endpoint as the outbox sees it: whose events, which types, from which position."""

    id: str
    workspace: str
    types: frozenset[str] | None
    since: int

    @classmethod
    def of(cls, row: Any) -> Target:
        types = None if row[2] is None else frozenset(json.loads(row[2]))
        return cls(str(row[0]), str(row[1]), types, int(row[3]))

    def wants(self, kind: str) -> bool:
        return self.types is None or kind in self.types


class Outbox:
    name = "herald_webhooks"
    lock = OUTBOX_LOCK

    def __init__(self, store: MessageStore, deliveries: Deliveries) -> None:
        self.store = store
        self.db = store.db
        self.deliveries = deliveries
        self.events_table: str = store.recorder.events_table_name  # type: ignore[attr-defined]
        # A message's workspace never changes, so a process may remember it.
        self._workspaces: OrderedDict[UUID, str] = OrderedDict()

    def apply(self, c: Cursor, batch: Sequence[Notification]) -> None:
        c.execute(f"{_TARGETS} AND disabled_at IS NULL")
        targets = [Target.of(row) for row in c.fetchall()]
        if targets:
            self.deliveries.enqueue(c, self.rows(c, batch, targets, replayed=False))

    def clear(self, c: Cursor) -> None:
        raise RuntimeError(
            "the webhook outbox is never replayed from zero (that would send every event "
            "again); replayWebhooks sends an endpoint's events again from a position"
        )

    def finish_replay(self, c: Cursor) -> None:
        pass

    def rows(
        self, c: Cursor, batch: Sequence[Notification], targets: list[Target], *, replayed: bool
    ) -> list[Row]:
        now, rows = time.time(), list[Row]()
        for n in batch:
            name = event_name(n.topic)
            if name is None:
                continue
            kind = TYPES[name]
            wanted = [t for t in targets if (replayed or n.id > t.since) and t.wants(kind)]
            if not wanted:
                continue
            workspace = self.workspace_of(c, n)
            rows += [
                (
                    t.id,
                    n.id,
                    str(n.originator_id),
                    n.originator_version,
                    kind,
                    now,
                    now,
                    int(replayed),
                )
                for t in wanted
                if t.workspace == workspace
            ]
        return rows

    def replay(self) -> bool:
        """Queue the next batch of a replay; False when none is waiting."""
        sql = self.db.sql
        try:
            with self.db.transaction(commit=True) as c:
                c.execute(
                    f"{_TARGETS.replace(' FROM', ', replay_next, replay_until FROM')} "
                    "AND replay_next IS NOT NULL LIMIT 1"
                )
                row = c.fetchone()
                if row is None:
                    return False
                target, start, until = Target.of(row), int(row[4]), int(row[5])
                batch = self.store.recorder.select_notifications(
                    start=start, limit=_REPLAY_BATCH, stop=until, inclusive_of_start=False
                )
                self.deliveries.enqueue(c, self.rows(c, batch, [target], replayed=True))
                reached = batch[-1].id if len(batch) == _REPLAY_BATCH else until
                more = reached < until
                c.execute(
                    sql(
                        "UPDATE webhook_endpoints SET replay_next = ?, replay_until = ? "
                        "WHERE id = ? AND replay_next = ? AND replay_until = ? RETURNING id"
                    ),
                    (reached if more else None, until if more else None, target.id, start, until),
                )
                if c.fetchone() is None:
                    raise _Superseded
        except _Superseded:
            pass  # asked for again meanwhile: the next call starts the new replay
        return True

    def workspace_of(self, c: Cursor, n: Notification) -> str:
        message_id = UUID(str(n.originator_id))
        known = self._workspaces.get(message_id)
        if known is not None:
            self._workspaces.move_to_end(message_id)
            return known
        state = n.state
        if n.originator_version != 1:
            mid: object = message_id.hex if self.db.dialect == "sqlite" else message_id
            c.execute(
                self.db.sql(
                    f"SELECT state FROM {self.events_table} "
                    "WHERE originator_id = ? AND originator_version = 1"
                ),
                (mid,),
            )
            state = bytes(c.fetchone()[0])
        # The draft's workspace is stored in clear: decoded, not made into an event.
        workspace = str(self.store.sealing.transcoder.decode(state)["workspace"])
        self._workspaces[message_id] = workspace
        if len(self._workspaces) > _KNOWN_WORKSPACES:
            self._workspaces.popitem(last=False)
        return workspace


class _Superseded(Exception):
    pass
