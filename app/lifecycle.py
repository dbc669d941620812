"""The status lifecycle of a message: which delivery reports move it forward."""

from __future__ import annotations

from enum import StrEnum


class Status(StrEnum):
    DRAFT = "DRAFT"
    REJECTED = "REJECTED"
    ACCEPTED = "ACCEPTED"
    PROCESSING = "PROCESSING"
    SENT = "SENT"
    DELIVERED = "DELIVERED"
    SENDING_FAILED = "SENDING_FAILED"
    DELIVERY_FAILED = "DELIVERY_FAILED"


class Channel(StrEnum):
    CHAT = "CHAT"
    SMS = "SMS"
    EMAIL = "EMAIL"
    WHATSAPP = "WHATSAPP"


SENT_STATES = frozenset(
    {
        Status.ACCEPTED,
        Status.PROCESSING,
        Status.SENT,
        Status.DELIVERED,
        Status.SENDING_FAILED,
        Status.DELIVERY_FAILED,
    }
)
# Handed to a channel and not yet reported sent or failed.
IN_PROGRESS = frozenset({Status.ACCEPTED, Status.PROCESSING})
# SignalWire: messages still queued or being sent cannot be redacted; drafts, rejected drafts
# and finished messages can.
REDACTABLE_STATES = frozenset(set(Status) - IN_PROGRESS)
# Statuses a channel may report; the others are set by commands, never by receipts.
REPORTABLE_STATES = frozenset(SENT_STATES - {Status.ACCEPTED})

# Receipts get lost, so a report may skip steps, but it never moves backwards.
_FORWARD: dict[Status, frozenset[Status]] = {
    Status.ACCEPTED: frozenset(
        {Status.PROCESSING, Status.SENT, Status.DELIVERED, Status.SENDING_FAILED}
    ),
    Status.PROCESSING: frozenset(
        {Status.SENT, Status.DELIVERED, Status.SENDING_FAILED, Status.DELIVERY_FAILED}
    ),
    Status.SENT: frozenset({Status.DELIVERED, Status.DELIVERY_FAILED}),
}

FAILURES = frozenset({Status.SENDING_FAILED, Status.DELIVERY_FAILED})


def moves_forward(current: Status, reported: Status) -> bool:
    return reported in _FORWARD.get(current, frozenset())
