"""The one catch-up loop every consumer of the event log shares: read what the consumer has not
seen, let it write its rows, and record its position in the same transaction; on PostgreSQL one
process at a time does it (an advisory lock), and another takes over at once if it dies.

A consumer writes rows for a batch of notifications and nothing else. Whoever needs it to have
reached a position (read-your-writes, a subscriber, a rebuild) asks this loop."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Sequence
from typing import Any, Protocol
from uuid import UUID

from eventsourcing.persistence import IntegrityError, Notification, Tracking

from app.database import Cursor
from app.store import MessageStore

log = logging.getLogger(__name__)
_BATCH = 500
# Nobody waits on a rebuild's batches, and fewer, larger transactions replay faster.
_REBUILD_BATCH = 5_000
_RECHECK = 0.05


class Consumer(Protocol):
    name: str  # its tracking name
    lock: int  # its PostgreSQL advisory lock

    def apply(self, c: Cursor, batch: Sequence[Notification]) -> None:
        """Write what the batch means to this consumer, in the caller's transaction."""

    def clear(self, c: Cursor) -> None:
        """Forget everything, before a replay from zero."""

    def finish_replay(self, c: Cursor) -> None:
        """After a replay from zero, or one that failed."""


class CatchUp:
    """Applies the notification log to one consumer, once each, in order; safe to call from any
    thread: one catch-up runs at a time here, and the tracking row refuses a repeated position
    from another process."""

    def __init__(self, store: MessageStore, consumer: Consumer, notify: str | None = None) -> None:
        self.store = store
        self.db = store.db
        self.consumer = consumer
        self.notify = notify  # a PostgreSQL channel told of each batch applied
        self.tracking = store.tracking
        self.tracking_table = store.tracking_table
        self.events_table: str = store.recorder.events_table_name  # type: ignore[attr-defined]
        self._lock = threading.Lock()
        self._moved = threading.Condition()
        self._listeners: list[Callable[[int], None]] = []
        self.announced = -1

    @property
    def position(self) -> int:
        return self.tracking.max_tracking_id(self.consumer.name) or 0

    def listen(self, listener: Callable[[int], None]) -> Callable[[], None]:
        """Tell `listener` the new position after each catch-up; returns the way to stop."""
        self._listeners.append(listener)
        return lambda: self._listeners.remove(listener)

    def announce(self, position: int) -> None:
        """The consumer reached `position`: wake whoever waits or listens in this process."""
        self.announced = position
        with self._moved:
            self._moved.notify_all()
        for listener in list(self._listeners):
            listener(position)

    def wait_for(self, position: int, timeout: float) -> bool:
        """Wait until the consumer, here or in another process, reaches `position`."""
        deadline = time.monotonic() + timeout
        while self.position < position:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return False
            with self._moved:
                self._moved.wait(min(_RECHECK, remaining))
        return True

    def catch_up(
        self,
        until: int | None = None,
        progress: Callable[[int], None] | None = None,
        *,
        announce_unchanged: bool = True,
        batch_size: int = _BATCH,
    ) -> int:
        """Apply what the consumer misses (up to `until`); while another process holds the
        lock, wait for it to get there instead, and take over if it dies."""
        with self._lock:
            position = started = self.position
            while until is None or position < until:
                batch = self.store.recorder.select_notifications(
                    start=position, limit=batch_size, inclusive_of_start=False
                )
                if not batch:
                    break
                if self._apply(batch):
                    if progress is not None:
                        progress(len(batch))
                elif until is None:
                    break
                else:
                    with self._moved:
                        self._moved.wait(_RECHECK)
                position = self.position
        if announce_unchanged or position != started:
            self.announce(position)
        return position

    def rebuild(self, progress: Callable[[int], None] | None = None) -> int:
        """Apply every event again from zero, into a consumer emptied first."""
        self.reset()
        try:
            return self.catch_up(progress=progress, batch_size=_REBUILD_BATCH)
        finally:
            self.finish_rebuild()

    def reset(self) -> None:
        """Empty the consumer and forget its position, in one transaction."""
        with self._lock, self.db.transaction(commit=True) as c:
            self.consumer.clear(c)
            c.execute(
                self.db.sql(f"DELETE FROM {self.tracking_table} WHERE application_name = ?"),
                (self.consumer.name,),
            )

    def finish_rebuild(self) -> None:
        with self.db.transaction(commit=True) as c:
            self.consumer.finish_replay(c)

    def apply_untracked(self, batch: Sequence[Notification]) -> None:
        """A batch applied with no position recorded: one share of a rebuild that several
        processes make together (app/replay.py), whose position is recorded once all are done."""
        with self.db.transaction(commit=True) as c:
            self.consumer.apply(c, batch)

    def track(self, position: int) -> None:
        with self.db.transaction(commit=True) as c:
            self.tracking._insert_tracking(c, Tracking(self.consumer.name, position))  # type: ignore[attr-defined]

    def step(self) -> InTransaction:
        """What to run in the SQLite transaction that records new events (see InTransaction)."""
        return InTransaction(self)

    def _apply(self, batch: Sequence[Notification]) -> bool:
        """One batch with its tracking position, all or nothing; False when another process
        holds the lock right now."""
        try:
            with self.db.transaction(commit=True) as c:
                if self.db.dialect == "postgres":
                    c.execute("SELECT pg_try_advisory_xact_lock(%s)", (self.consumer.lock,))
                    if not c.fetchone()[0]:
                        return False
                if self.tracked(c) >= batch[0].id:
                    return True  # another process got here first; the caller reads on from there
                self.record(c, batch)
                if self.notify is not None:
                    c.execute("SELECT pg_notify(%s, %s)", (self.notify, str(batch[-1].id)))
        except IntegrityError:
            if self.position < batch[0].id:
                # Not another process's position: a fault that trying again would only repeat.
                raise
            log.info("%s: position already taken by another process", self.consumer.name)
        return True

    def tracked(self, c: Cursor) -> int:
        """The position the consumer has reached, as this transaction sees it (0: none yet)."""
        c.execute(
            self.db.sql(
                f"SELECT notification_id FROM {self.tracking_table} WHERE application_name = ?"
            ),
            (self.consumer.name,),
        )
        row = c.fetchone()
        return 0 if row is None else int(row[0])

    def record(self, c: Cursor, batch: Sequence[Notification]) -> None:
        """The consumer's rows for the batch and the position after it, in `c`'s transaction."""
        self.consumer.apply(c, batch)
        self.tracking._insert_tracking(c, Tracking(self.consumer.name, batch[-1].id))  # type: ignore[attr-defined]


class InTransaction:
    """Applies, inside the SQLite transaction that has just recorded new events, what the
    consumer misses up to them: events and rows then reach the disk in one commit. SQLite lets
    one writer in at a time, so this transaction's view of the log is the log. Should it fail,
    or be far behind, the write stands and a catch-up applies it later; `reached` says which."""

    def __init__(self, loop: CatchUp) -> None:
        self.loop = loop
        self.reached = -1

    def __call__(self, c: Cursor) -> None:
        loop = self.loop
        c.execute("SAVEPOINT herald_catch_up")
        try:
            c.execute(
                "SELECT rowid, originator_id, originator_version, topic, state "
                f"FROM {loop.events_table} WHERE rowid > ? ORDER BY rowid LIMIT ?",
                (loop.tracked(c), _BATCH + 1),
            )
            rows = c.fetchall()
            if 0 < len(rows) <= _BATCH:
                batch = [notification_of(r) for r in rows]
                loop.record(c, batch)
                self.reached = batch[-1].id
        except Exception:
            log.exception("applying within the write failed; a catch-up will apply it")
            c.execute("ROLLBACK TO herald_catch_up")
            self.reached = -1
        c.execute("RELEASE herald_catch_up")


def notification_of(row: Any) -> Notification:
    """A notification from (position, originator_id, originator_version, topic, state)."""
    originator_id = row[1] if isinstance(row[1], UUID) else UUID(str(row[1]))
    return Notification(
        originator_id=originator_id,
        originator_version=row[2],
        topic=row[3],
        state=bytes(row[4]),
        id=int(row[0]),
    )
