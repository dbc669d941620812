"""The projection: events → view rows, with the tracking position in the same transaction."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Sequence
from typing import Any
from uuid import UUID

from eventsourcing.persistence import IntegrityError, Notification, Tracking

from app.database import Cursor
from app.domain import Message
from app.secrecy import SEALED, seal
from app.store import Event, MessageStore
from app.views import Views

log = logging.getLogger(__name__)
TRACKING_NAME = "herald_views"
PROJECTED_CHANNEL = "herald_projected"
# Any constant will do: every Herald process contends for this one PostgreSQL advisory lock.
_PROJECTOR_LOCK = 0x4E52414C44
_BATCH = 500
# Nobody waits on a rebuild's batches, and fewer, larger transactions replay faster.
_REBUILD_BATCH = 5_000
_RECHECK = 0.05


class Projection:
    """Applies the notification log to the views, once each, in order; safe to call from any
    thread: one catch-up runs at a time and the tracking row refuses a repeated position."""

    def __init__(self, store: MessageStore, views: Views) -> None:
        self.store = store
        self.views = views
        self.tracking = store.factory.tracking_recorder()
        self.tracking_table: str = getattr(self.tracking, "tracking_table_name", "tracking")
        self._lock = threading.Lock()
        self._moved = threading.Condition()
        self._listeners: list[Callable[[int], None]] = []
        self.announced = -1
        self._within = threading.local()  # where this thread's last write projected to

    @property
    def position(self) -> int:
        return self.tracking.max_tracking_id(TRACKING_NAME) or 0

    def listen(self, listener: Callable[[int], None]) -> Callable[[], None]:
        """Tell `listener` the new position after each catch-up; returns the way to stop."""
        self._listeners.append(listener)
        return lambda: self._listeners.remove(listener)

    def announce(self, position: int) -> None:
        """The views reached `position`: wake whoever waits or listens in this process."""
        self.announced = position
        with self._moved:
            self._moved.notify_all()
        for listener in list(self._listeners):
            listener(position)

    def wait_for(self, position: int, timeout: float) -> bool:
        """Wait until the views, projected here or by another process, reach `position`."""
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
        """Project what the views miss (up to `until`); while another process holds the
        projector's lock, wait for it to get there instead, and take over if it dies."""
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
        """Replay every event from zero into emptied views, in one transaction per batch."""
        with self._lock, self.views.db.transaction(commit=True) as c:
            self.views.clear(c, unindexed=True)
            c.execute(
                self.views.db.sql(f"DELETE FROM {self.tracking_table} WHERE application_name = ?"),
                (TRACKING_NAME,),
            )
        try:
            return self.catch_up(progress=progress, batch_size=_REBUILD_BATCH)
        finally:
            with self.views.db.transaction(commit=True) as c:
                self.views.index(c)

    def _apply(self, batch: Sequence[Notification]) -> bool:
        """Project one batch with its tracking position, all or nothing; False when another
        process is the projector right now."""
        # Content stays sealed on its way through: the views hold it just as the events do.
        events = [self.store.sealing.still_sealed(n) for n in batch]
        db = self.views.db
        try:
            with db.transaction(commit=True) as c:
                if db.dialect == "postgres":
                    c.execute("SELECT pg_try_advisory_xact_lock(%s)", (_PROJECTOR_LOCK,))
                    if not c.fetchone()[0]:
                        return False
                if self._tracked(c) >= batch[0].id:
                    return True  # another projector got here first; the caller reads on from there
                self._record(c, batch, events)
                if db.dialect == "postgres":
                    c.execute("SELECT pg_notify(%s, %s)", (PROJECTED_CHANNEL, str(batch[-1].id)))
        except IntegrityError:
            if self.position < batch[0].id:
                # Not another projector's position: a fault that trying again would only repeat.
                raise
            log.info("projection position already taken by another projector")
        return True

    def within(self, c: Cursor) -> None:
        """Project, in the SQLite transaction that has just recorded new events, what the views
        miss up to them: events and views then reach the disk in one commit. SQLite lets one
        writer in at a time, so this transaction's view of the log is the log. Should it fail,
        or be far behind, the write stands and catch_up projects later."""
        self._within.position = -1
        c.execute("SAVEPOINT herald_views")
        try:
            c.execute(
                "SELECT rowid, originator_id, originator_version, topic, state "
                f"FROM {self.views.events_table} WHERE rowid > ? ORDER BY rowid LIMIT ?",
                (self._tracked(c), _BATCH + 1),
            )
            rows = c.fetchall()
            if 0 < len(rows) <= _BATCH:
                batch = [
                    Notification(
                        originator_id=UUID(r[1]),
                        originator_version=r[2],
                        topic=r[3],
                        state=r[4],
                        id=r[0],
                    )
                    for r in rows
                ]
                self._record(c, batch, [self.store.sealing.still_sealed(n) for n in batch])
                self._within.position = batch[-1].id
        except Exception:
            log.exception("projecting within the write failed; catch-up will project it")
            c.execute("ROLLBACK TO herald_views")
        c.execute("RELEASE herald_views")

    def projected_within(self, position: int) -> bool:
        """Whether this thread's write, now committed, projected the views up to `position`."""
        projected: int = getattr(self._within, "position", -1)
        self._within.position = -1
        return projected >= position

    def _tracked(self, c: Cursor) -> int:
        """The position the views have reached, as this transaction sees it (0: none yet)."""
        c.execute(
            self.views.db.sql(
                f"SELECT notification_id FROM {self.tracking_table} WHERE application_name = ?"
            ),
            (TRACKING_NAME,),
        )
        row = c.fetchone()
        return 0 if row is None else int(row[0])

    def _record(self, c: Cursor, batch: Sequence[Notification], events: list[Event]) -> None:
        """The batch's view rows and the position after it, in the caller's transaction."""
        self._project(c, batch, events)
        self.tracking._insert_tracking(c, Tracking(TRACKING_NAME, batch[-1].id))  # type: ignore[attr-defined]

    def _project(self, c: Cursor, batch: Sequence[Notification], events: list[Event]) -> None:
        """One events row per event, one messages row per message at its state after the
        batch; a message's seq is the position of its draft."""
        sql = self.views.db.sql
        latest: dict[UUID, tuple[int, Message]] = {}
        event_rows = []
        for notification, event in zip(batch, events, strict=True):
            seen = latest.get(event.originator_id)
            msg = event.mutate(seen[1] if seen else self._current(c, event))  # type: ignore[attr-defined]
            assert isinstance(msg, Message)
            if type(event).__name__ == "Redacted":
                self.store.keys.destroy(c, msg.id)
            latest[msg.id] = (seen[0] if seen else notification.id, msg)
            event_rows.append(
                (notification.id, msg.workspace, msg.conversation_id, msg.id.hex, msg.version)
            )
        c.executemany(
            sql(
                "INSERT INTO view_events (notification_id, workspace, conversation_id, "
                "message_id, version) VALUES (?, ?, ?, ?, ?)"
            ),
            event_rows,
        )
        message_rows = []
        for seq, msg in latest.values():
            state, content = self.views.codec.encode(msg)
            message_rows.append(
                (
                    msg.id.hex,
                    msg.workspace,
                    msg.conversation_id,
                    msg.status,
                    seq,
                    msg.version,
                    state,
                    self._sealed(c, msg, content),
                )
            )
        c.executemany(
            sql(
                "INSERT INTO view_messages (id, workspace, conversation_id, status, seq, "
                "version, state, content) VALUES (?, ?, ?, ?, ?, ?, ?, ?) "
                "ON CONFLICT (id) DO UPDATE SET status = excluded.status, "
                "version = excluded.version, state = excluded.state, content = excluded.content"
            ),
            message_rows,
        )

    def _current(self, c: Cursor, event: Event) -> Message | None:
        if event.originator_version == Message.INITIAL_VERSION:
            return None
        c.execute(
            self.views.db.sql("SELECT state, content FROM view_messages WHERE id = ?"),
            (event.originator_id.hex,),
        )
        row = c.fetchone()
        assert row is not None, f"no view row for {event.originator_id}; rebuild the views"
        # Content stays sealed while it passes through; only new content gets sealed below.
        return self.views.codec.decode(row[0], None if row[1] is None else {SEALED: row[1]})

    def _sealed(self, c: Cursor, msg: Message, content: Any) -> str | None:
        if content is None:
            return None
        if isinstance(content, dict) and set(content) == {SEALED}:
            return str(content[SEALED])
        key = self.store.keys.lookup(c, msg.id)
        return None if key is None else seal(key, msg.id, content)
