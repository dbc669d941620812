"""MessageStore: the commands, each one load → rule → save, scoped to the caller's workspace."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Sequence
from typing import Any
from uuid import UUID

from eventsourcing.application import AggregateNotFoundError, Application, ProcessingEvent
from eventsourcing.domain import DomainEventProtocol
from eventsourcing.persistence import Mapper, RecordConflictError

from app.batching import GroupCommit
from app.bodies import replace_text
from app.database import Database
from app.domain import Body, Json, Message, message_id
from app.errors import Conflict, NotFound
from app.lifecycle import Status
from app.persistence import CONTENT_KEYS
from app.secrecy import KeyStore, SealingMapper, new_key
from app.settings import Settings
from app.workspaces import Principal

log = logging.getLogger(__name__)
_RETRIES = 50

Command = Callable[[Message], None]
Event = DomainEventProtocol[UUID]


def _replay(message: Message | None, events: Iterable[Event]) -> Message | None:
    """The library's project_aggregate without its `isinstance` check of a runtime Protocol
    on each event, which Python 3.11 answers slowly: a third of a 10-event load."""
    for e in events:
        message = e.mutate(message)  # type: ignore[attr-defined]
    return message


class MessageStore(Application[UUID]):
    name = "herald"

    def __init__(self, settings: Settings | None = None) -> None:
        self.settings = settings or Settings.from_env()
        # Per store, not per class: two stores in one process may snapshot differently.
        self.snapshotting_intervals = {Message: self.settings.snapshot_interval}  # type: ignore[misc]
        env = {**self.settings.eventsourcing_env(), "IS_SNAPSHOTTING_ENABLED": "y"}
        super().__init__(env=env)
        # Drafts arriving together share a transaction (group commit).
        self.drafts = GroupCommit(self._save_drafts)
        # Called with the last notification id of each save, so views catch up before we answer.
        self.after_save: Callable[[int], None] = lambda _: None

    def construct_mapper(self) -> Mapper[UUID]:
        self.db = Database(self.factory.datastore)  # type: ignore[attr-defined]
        self.keys = KeyStore(self.db)
        self.sealing = SealingMapper(self.construct_transcoder(), self.keys)
        return self.sealing

    # Reads on the write side.

    def load(self, p: Principal, raw_id: str, version: int | None = None) -> Message:
        mid = message_id(raw_id)
        if mid is None:
            raise NotFound
        try:
            with self.keys.scope():
                msg: Message = self.repository.get(mid, version=version, projector_func=_replay)
        except AggregateNotFoundError:
            raise NotFound from None
        if msg.workspace != p.workspace:
            raise NotFound  # another workspace's messages do not exist for this caller
        return msg

    def history(self, p: Principal, raw_id: str, after: int, limit: int) -> list[Event]:
        msg = self.load(p, raw_id)
        with self.keys.scope():
            return list(self.events.get(msg.id, gt=after, limit=limit))

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
        msg = self.run(p, raw_id, expected, lambda m: m.redact(actor, reason))
        with self.db.transaction(commit=True) as c:
            self.keys.destroy(c, msg.id)
        self.keys.flush()
        return msg

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
        for _ in range(_RETRIES):
            with self.keys.scope():  # the key read by the load seals the new events
                msg = self.load(p, raw_id)
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
                    self._save(msg)
                except RecordConflictError:
                    continue
            return msg
        raise Conflict("too many concurrent writers; try again", msg.version, msg.status)

    def _save_drafts(self, drafts: Sequence[tuple[Sequence[Event], bytes]]) -> None:
        """New messages' events, each message with its content key, in one transaction: one
        durable commit for them all."""
        keys = {events[0].originator_id: key for events, key in drafts}
        with self.keys.scope(keys):
            self._save(*(e for events, _ in drafts for e in events), content_keys=keys)

    def _take_snapshots(self, processing_event: ProcessingEvent[UUID]) -> None:
        """Snapshots a message as it stands in memory when a save crosses an interval. The
        library reloads it from the store instead, replaying up to a whole interval of events
        to rebuild a state we already hold (every change to a message is an event)."""
        if self.snapshots is None:
            return
        interval = self.settings.snapshot_interval
        crossed = {
            e.originator_id for e in processing_event.events if e.originator_version % interval == 0
        }
        for mid in crossed & processing_event.aggregates.keys():
            aggregate = processing_event.aggregates[mid]
            try:
                self.snapshots.put([Message.Snapshot.take(aggregate)])
            except Exception:
                # The events are committed and acknowledged; a missing snapshot only means a
                # longer replay, so its failure must not turn the command into an error.
                log.exception("could not snapshot message %s at version %s", mid, aggregate.version)

    def _save(
        self, *objs: Message | Event, content_keys: dict[UUID, bytes] | None = None
    ) -> Sequence[int]:
        recordings = self.save(*objs, **{CONTENT_KEYS: content_keys or {}})
        ids = [r.notification.id for r in recordings]
        if ids:
            self.after_save(max(ids))
        return ids
