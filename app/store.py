"""MessageStore: the commands, each one load → rule → save, scoped to the caller's workspace."""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence
from typing import Any, Protocol
from uuid import UUID

from eventsourcing.application import Application, ProcessingEvent
from eventsourcing.domain import DomainEventProtocol
from eventsourcing.persistence import EventStore, Mapper, RecordConflictError

from app.batching import GroupCommit
from app.body_text import replace_text
from app.database import Cursor, Database
from app.domain import Body, Json, Message, message_id
from app.errors import Conflict, NotFound
from app.lifecycle import Status
from app.persistence import AFTER_EVENTS, KEYS, SealedEventStore
from app.secrecy import KeyLost, KeyStore, SealingMapper, ends_key, new_key
from app.settings import Settings
from app.workspaces import Principal

log = logging.getLogger(__name__)
_RETRIES = 50

Command = Callable[[Message], None]
Event = DomainEventProtocol[UUID]
Keys = Mapping[UUID, bytes | None]


class ViewsStep(Protocol):
    """The views' projection inside the transaction that records events (SQLite); `reached` is
    the position it projected to, -1 when it did not."""

    reached: int

    def __call__(self, c: Cursor) -> None: ...


class MessageStore(Application[UUID]):
    name = "herald"

    def __init__(self, settings: Settings | None = None) -> None:
        self.settings = settings or Settings.from_env()
        # Per store, not per class: two stores in one process may snapshot differently.
        self.snapshotting_intervals = {Message: self.settings.snapshot_interval}  # type: ignore[misc]
        env = {**self.settings.eventsourcing_env(), "IS_SNAPSHOTTING_ENABLED": "y"}
        super().__init__(env=env)
        # Where every consumer of the event log records how far it has read (app/catchup.py).
        self.tracking = self.factory.tracking_recorder()
        self.tracking_table: str = getattr(self.tracking, "tracking_table_name", "tracking")
        # Drafts arriving together share a transaction (group commit).
        self.drafts = GroupCommit(self._save_drafts)
        # Set by Herald: a new projection step for each save (SQLite), and what makes the views
        # hold a saved position before a command answers (read-your-writes).
        self.views_step: Callable[[], ViewsStep] | None = None
        self.after_save: Callable[[int, bool], None] = lambda _position, _projected: None

    def construct_mapper(self) -> Mapper[UUID]:
        self.db = Database(self.factory.datastore)  # type: ignore[attr-defined]
        self.keys = KeyStore(self.db)
        self.sealing = SealingMapper(transcoder=self.construct_transcoder())
        return self.sealing

    def construct_event_store(self) -> EventStore[UUID]:
        return SealedEventStore(self.sealing, self.recorder, self.keys)

    def construct_snapshot_store(self) -> EventStore[UUID]:
        recorder = self.factory.aggregate_recorder(purpose="snapshots")
        return SealedEventStore(self.sealing, recorder, None)

    # Reads on the write side. The stored events are read before the key: a redaction commits
    # both together, so a key read after the events can only be missing if the events read show
    # the redaction, or a newer one that the next save will clash with.

    def load(self, p: Principal, raw_id: str, version: int | None = None) -> Message:
        return self.open(p, raw_id, version)[0]

    def open(
        self, p: Principal, raw_id: str, version: int | None = None
    ) -> tuple[Message, bytes | None]:
        """The message (at `version`) and its content key, None once it is redacted."""
        mid = message_id(raw_id)
        if mid is None:
            raise NotFound
        snapshots = (
            []
            if self.snapshots is None
            else self.snapshots.recorder.select_events(mid, desc=True, limit=1, lte=version)
        )
        after = snapshots[0].originator_version if snapshots else None
        stored = [*snapshots, *self.recorder.select_events(mid, gt=after, lte=version)]
        if not stored:
            raise NotFound
        key = self.keys.read(mid)
        msg: Message | None = None
        for s in stored:
            msg = self.sealing.opened(s, key).mutate(msg)  # type: ignore[attr-defined]
        assert msg is not None
        if msg.workspace != p.workspace:
            raise NotFound  # another workspace's messages do not exist for this caller
        return msg, key

    def history(self, p: Principal, raw_id: str, after: int, limit: int) -> list[Event]:
        return self.events_of(self.load(p, raw_id).id, after, limit)

    def events_of(
        self, mid: UUID, after: int | None = None, limit: int | None = None
    ) -> list[Event]:
        """A message's events (after version `after`), opened: whatever workspace it is in, so
        for an operator's tools, or once the caller's own is checked."""
        stored = self.recorder.select_events(mid, gt=after, limit=limit)
        key = self.keys.read(mid) if stored else None
        return [self.sealing.opened(s, key) for s in stored]

    # Commands.

    def draft(self, p: Principal, idempotency_key: str | None, **fields: Any) -> Message:
        msg = Message(workspace=p.workspace, idempotency_key=idempotency_key, **fields)
        if idempotency_key is not None:
            try:
                return self.load(p, str(msg.id))  # a retry: the first result, nothing new
            except NotFound:
                pass
        try:
            # The events are taken from the message now: a group that fails hands each of its
            # drafts back to be saved alone, and an aggregate gives its events up only once.
            self.drafts.save((msg.collect_events(), new_key()))
        except RecordConflictError:
            return self.load(p, str(msg.id))  # a concurrent retry made it first
        return msg

    def edit(
        self,
        p: Principal,
        raw_id: str,
        expected: int | None,
        actor: str | None,
        text: str | None = None,
        content: Body | None = None,
    ) -> Message:
        """Replace the body, or only its text, keeping the rest of a structured body."""

        def apply(m: Message) -> None:
            new = content if text is None else replace_text(m.content or {}, text)
            m.edit(actor, content=new)

        return self.run(p, raw_id, expected, apply)

    def exists(self, p: Principal, raw_id: str) -> bool:
        try:
            self.load(p, raw_id)
        except NotFound:
            return False
        return True

    def approve(
        self, p: Principal, raw_id: str, expected: int | None, actor: str | None, key: str | None
    ) -> Message:
        return self.run(
            p,
            raw_id,
            expected,
            lambda m: m.approve(actor, key),
            done=lambda m: m.has_used("approve", key),
        )

    def send(
        self, p: Principal, raw_id: str, expected: int | None, actor: str | None, key: str | None
    ) -> Message:
        return self.run(
            p,
            raw_id,
            expected,
            lambda m: m.send(actor, key),
            done=lambda m: m.has_used("send", key),
        )

    def reject(
        self, p: Principal, raw_id: str, expected: int | None, actor: str | None, reason: str | None
    ) -> Message:
        return self.run(p, raw_id, expected, lambda m: m.reject(actor, reason))

    def record_status(
        self, p: Principal, raw_id: str, actor: str | None, status: Status, reason: str | None
    ) -> Message:
        return self.run(p, raw_id, None, lambda m: m.record_status(actor, status, reason))

    def redact(
        self, p: Principal, raw_id: str, expected: int | None, actor: str | None, reason: str | None
    ) -> Message:
        return self.run(p, raw_id, expected, lambda m: m.redact(actor, reason))

    def update(
        self,
        p: Principal,
        raw_id: str,
        expected: int | None,
        actor: str | None,
        send: bool,
        changes: dict[str, Body | Json | list[Json] | str | None],
    ) -> Message:
        """Bird's PATCH: change a draft and, with draft: false, send it in the same save."""

        def apply(m: Message) -> None:
            m.update(send=send)
            if any(v is not None for v in changes.values()):
                m.edit(actor, **changes)  # type: ignore[arg-type]
            if send:
                m.send(actor)

        return self.run(p, raw_id, expected, apply)

    def run(
        self,
        p: Principal,
        raw_id: str,
        expected: int | None,
        command: Command,
        done: Callable[[Message], bool] = lambda _: False,
    ) -> Message:
        """Load, check, apply, save; a clash with a concurrent writer reloads and tries again,
        unless the caller pinned the version it saw, when the clash is its conflict."""
        lost = False
        for _ in range(_RETRIES):
            msg, key = self.open(p, raw_id)
            if done(msg):
                return msg  # an idempotent retry: the first attempt's result, nothing new
            if expected is not None and msg.version != expected:
                raise Conflict(
                    f"expected version {expected} but the message is at version {msg.version}",
                    msg.version,
                    msg.status,
                )
            command(msg)
            try:
                self._save(msg, keys={msg.id: key})
            except RecordConflictError:
                continue
            except KeyLost:
                # Redacted since it was read (the reload will say so), or its key is lost for
                # good: then nothing personal can be recorded for it any more.
                if lost:
                    raise Conflict(
                        "this message's content can no longer be changed; it can be redacted",
                        msg.version,
                        msg.status,
                    ) from None
                lost = True
                continue
            return msg
        raise Conflict("too many concurrent writers; try again", msg.version, msg.status)

    def _save_drafts(self, drafts: Sequence[tuple[Sequence[Event], bytes]]) -> None:
        """New messages' events, each message with its new content key, in one transaction:
        one durable commit for them all."""
        keys = {events[0].originator_id: key for events, key in drafts}
        self._save(*(e for events, _ in drafts for e in events), keys=keys)

    def _take_snapshots(self, processing_event: ProcessingEvent[UUID]) -> None:
        """Snapshots a message as it stands in memory when a save crosses an interval. The
        library reloads it from the store instead, replaying up to a whole interval of events
        to rebuild a state we already hold (every change to a message is an event)."""
        if self.snapshots is None:
            return
        interval = self.settings.snapshot_interval
        keys: Keys = processing_event.saved_kwargs.get(KEYS) or {}
        crossed = {
            e.originator_id for e in processing_event.events if e.originator_version % interval == 0
        }
        for mid in crossed & processing_event.aggregates.keys():
            aggregate = processing_event.aggregates[mid]
            try:
                snapshot = Message.Snapshot.take(aggregate)
                self.snapshots.put([snapshot], **{KEYS: {mid: keys.get(mid)}})
            except Exception:
                # The events are committed and acknowledged; a missing snapshot only means a
                # longer replay, so its failure must not turn the command into an error.
                log.exception("could not snapshot message %s at version %s", mid, aggregate.version)

    def _save(self, *objs: Message | Event, keys: Keys) -> int:
        """Record, with the keys to seal with; returns the last position, once the views hold
        it (read-your-writes)."""
        step = None if self.views_step is None else self.views_step()
        recordings = self.save(*objs, **{KEYS: keys, AFTER_EVENTS: step})
        position = max(r.notification.id for r in recordings)
        if any(ends_key(r.domain_event) for r in recordings):
            self.keys.flush()
        self.after_save(position, step is not None and step.reached >= position)
        return position
