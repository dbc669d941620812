"""The Message aggregate: its events are the facts Herald records, its methods the rules."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from uuid import UUID, uuid4, uuid5

from eventsourcing.domain import Aggregate, event

from app.errors import Conflict
from app.lifecycle import (
    FAILURES,
    REDACTABLE_STATES,
    SENT_STATES,
    Channel,
    Status,
    moves_forward,
)
from app.personal import erase

IDEMPOTENCY_NAMESPACE = UUID("5d1f6c1e-7d0e-4a53-9f8e-2b1f0f4b2a11")
Body = dict[str, Any]
Json = dict[str, Any]


class Message(Aggregate):
    """A message from its draft to its delivery; `content` is the Bird body, sealed on disk."""

    @event("Drafted")
    def __init__(  # keyword-only would lose idempotency_key's default in eventsourcing
        self,
        workspace: str,
        conversation_id: str,
        channel: str,
        content: Body | None,
        recipients: list[Json],
        sender: Json | None,
        reply_to: str | None,
        reference: str | None,
        requires_approval: bool,
        actor: str | None,
        idempotency_key: str | None = None,
    ) -> None:
        self.workspace = workspace
        self.conversation_id = conversation_id
        self.channel = channel
        self.content = content
        self.recipients = recipients
        self.sender = sender
        self.reply_to = reply_to
        self.reference = reference
        self.requires_approval = requires_approval
        self.status = Status.DRAFT.value
        self.approved_by: str | None = None
        self.approved_at: datetime | None = None
        self.rejected_by: str | None = None
        self.rejection_reason: str | None = None
        self.failure_reason: str | None = None
        self.edited = False
        self.redacted = False
        self.redacted_at: datetime | None = None
        self.sent_at: datetime | None = None
        self.used_keys: list[str] = []

    @staticmethod
    def create_id(workspace: str, idempotency_key: str | None = None, **_: Any) -> UUID:
        """A retried draft collides on its first event instead of racing a look-up."""
        if idempotency_key is None:
            return uuid4()
        return uuid5(IDEMPOTENCY_NAMESPACE, f"{workspace}\n{idempotency_key}")

    # Commands: each checks the rules, then records its events.

    def edit(
        self,
        actor: str | None,
        content: Body | None = None,
        recipients: list[Json] | None = None,
        sender: Json | None = None,
        reply_to: str | None = None,
    ) -> None:
        after_send = self.state in SENT_STATES
        if self.redacted:
            self._refuse("a redacted message cannot be edited")
        if self.state is Status.REJECTED:
            self._refuse("a rejected message cannot be edited")
        if after_send and self.channel != Channel.CHAT:
            self._refuse("only chat messages can be edited after they are sent")
        self._edited(content, recipients, sender, reply_to, after_send, actor)

    def update(self, *, send: bool) -> None:
        """Bird's rules for PATCH, checked before any change: only drafts can be updated, and
        one that needs approval cannot be sent by it."""
        if self.redacted:
            self._refuse("a redacted message cannot be updated")
        if self.state is not Status.DRAFT:
            self._refuse("sent messages cannot be updated")
        if send and self.requires_approval:
            self._refuse("this message requires approval before it is sent")

    def send(self, actor: str | None, key: str | None = None) -> None:
        self._require_draft("sent")
        if self.requires_approval:
            self._refuse("this message requires approval before it is sent")
        self._sent(actor, _mark("send", key))

    def approve(self, actor: str | None, key: str | None = None) -> None:
        self._require_draft("approved")
        self._approved(actor, _mark("approve", key))
        self._sent(actor, None)

    def reject(self, actor: str | None, reason: str | None) -> None:
        self._require_draft("rejected")
        self._rejected(actor, reason)

    def redact(self, actor: str | None, reason: str | None) -> None:
        if self.redacted:
            self._refuse("the message is already redacted")
        if self.state not in REDACTABLE_STATES:
            self._refuse("a message in progress (ACCEPTED or PROCESSING) cannot be redacted yet")
        self._redacted(actor, reason)

    def record_status(self, actor: str | None, status: Status, reason: str | None) -> None:
        if not moves_forward(self.state, status):
            self._refuse(f"the status cannot move from {self.status} to {status.value}")
        # A redacted message keeps taking reports, but nothing personal: its key is gone.
        self._status_changed(actor, status.value, None if self.redacted else reason)

    def has_used(self, command: str, key: str | None) -> bool:
        return key is not None and _mark(command, key) in self.used_keys

    @property
    def state(self) -> Status:
        return Status(self.status)

    def _require_draft(self, verb: str) -> None:
        if self.redacted:
            self._refuse(f"a redacted message cannot be {verb}")
        if self.state is not Status.DRAFT:
            self._refuse(f"only drafts can be {verb}; this message is {self.status}")

    def _refuse(self, why: str) -> None:
        raise Conflict(why, self.version, self.status)

    # Events: each applies one recorded fact, also when the message is rebuilt.

    @event("Edited")
    def _edited(
        self,
        content: Body | None,
        recipients: list[Json] | None,
        sender: Json | None,
        reply_to: str | None,
        after_send: bool,
        actor: str | None,
    ) -> None:
        if content is not None:
            self.content = content
        if recipients is not None:
            self.recipients = recipients
        if sender is not None:
            self.sender = sender
        if reply_to is not None:
            self.reply_to = reply_to
        self.edited = self.edited or after_send

    # A `timestamp` parameter receives the event's own time, so the state and the history agree.

    @event("Approved")
    def _approved(
        self, actor: str | None, key: str | None, timestamp: datetime | None = None
    ) -> None:
        self.approved_by = actor
        self.approved_at = timestamp
        self._use(key)

    @event("Sent")
    def _sent(self, actor: str | None, key: str | None, timestamp: datetime | None = None) -> None:
        self.status = Status.ACCEPTED.value
        self.sent_at = timestamp
        self._use(key)

    @event("Rejected")
    def _rejected(self, actor: str | None, reason: str | None) -> None:
        self.status = Status.REJECTED.value
        self.rejected_by = actor
        self.rejection_reason = reason

    @event("StatusChanged")
    def _status_changed(self, actor: str | None, status: str, reason: str | None) -> None:
        self.status = status
        if Status(status) in FAILURES:
            self.failure_reason = reason

    @event("Redacted")
    def _redacted(
        self, actor: str | None, reason: str | None, timestamp: datetime | None = None
    ) -> None:
        erase(vars(self))
        self.redacted = True
        self.redacted_at = timestamp

    def _use(self, key: str | None) -> None:
        if key is not None:
            self.used_keys.append(key)


def _mark(command: str, key: str | None) -> str | None:
    return None if key is None else f"{command}:{key}"


def message_id(raw: str) -> UUID | None:
    """The UUID a client's id names, or None when it names nothing."""
    try:
        return UUID(raw)
    except (ValueError, AttributeError, TypeError):
        return None


# The event classes the @event decorators made, for whoever dispatches on them.
Drafted: type[Aggregate.Event] = Message.Drafted  # type: ignore[attr-defined]
Edited: type[Aggregate.Event] = Message.Edited  # type: ignore[attr-defined]
Redacted: type[Aggregate.Event] = Message.Redacted  # type: ignore[attr-defined]
