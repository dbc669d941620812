"""The lifecycle of a message as the contract (schema.graphql) states it, written out again for
the proofs and independent of app/: which commands a message in a given state allows, which
events each records, and the state each event leaves. The proofs replay every history they read
through it, and hold every answer a client got against it."""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

ORDERED = ("ACCEPTED", "PROCESSING", "SENT", "DELIVERED")
SENT_STATES = frozenset({*ORDERED, "SENDING_FAILED", "DELIVERY_FAILED"})
# The statuses a message can be redacted in, once: drafts, rejected drafts and finished
# messages; messages in progress (ACCEPTED, PROCESSING) never can. Every proof takes it from here.
REDACTABLE = frozenset(
    {"DRAFT", "REJECTED", "SENT", "DELIVERED", "SENDING_FAILED", "DELIVERY_FAILED"}
)
REPORTABLE = ("PROCESSING", "SENT", "DELIVERED", "SENDING_FAILED", "DELIVERY_FAILED")


def moves_forward(current: str, reported: str) -> bool:
    """Delivery reports only move forward; a failure ends the line."""
    if reported == "SENDING_FAILED":
        return current in ("ACCEPTED", "PROCESSING")
    if reported == "DELIVERY_FAILED":
        return current in ("PROCESSING", "SENT")
    return (
        current in ORDERED
        and reported in ORDERED
        and ORDERED.index(reported) > ORDERED.index(current)
    )


@dataclass(frozen=True)
class State:
    """A message right after one of its events."""

    version: int
    status: str
    redacted: bool
    channel: str
    needs_approval: bool
    text: str | None  # the text it reads: null once redacted


@dataclass(frozen=True)
class Command:
    """What a command asks of the lifecycle: `kind` is edit, update, send, approve, reject,
    report or redact; an update may change the draft and may send it."""

    kind: str
    changes: bool = False
    sends: bool = False
    report: str | None = None


def allows(command: Command, s: State) -> bool:
    draft = s.status == "DRAFT" and not s.redacted
    if command.kind == "edit":
        sent_ok = s.status not in SENT_STATES or s.channel == "CHAT"
        return not s.redacted and s.status != "REJECTED" and sent_ok
    if command.kind == "update":
        return draft and not (command.sends and s.needs_approval)
    if command.kind == "send":
        return draft and not s.needs_approval
    if command.kind in ("approve", "reject"):
        return draft
    if command.kind == "report":
        return command.report is not None and moves_forward(s.status, command.report)
    if command.kind == "redact":
        return not s.redacted and s.status in REDACTABLE
    raise AssertionError(f"no such command: {command.kind}")


def records(command: Command) -> list[str]:
    """The events an allowed command records, in order."""
    if command.kind == "update":
        return ["Edited"] * command.changes + ["Sent"] * command.sends
    return {
        "edit": ["Edited"],
        "send": ["Sent"],
        "approve": ["Approved", "Sent"],
        "reject": ["Rejected"],
        "report": ["StatusChanged"],
        "redact": ["Redacted"],
    }[command.kind]


def after(s: State, event: dict[str, Any]) -> State:
    kind = event["type"]
    status = {"Sent": "ACCEPTED", "Rejected": "REJECTED"}.get(kind, s.status)
    if kind == "StatusChanged":
        status = event["status"]
    redacted = s.redacted or kind == "Redacted"
    text = s.text if event.get("text") is None else event["text"]
    return replace(
        s, version=s.version + 1, status=status, redacted=redacted, text=None if redacted else text
    )


def replay(history: list[dict[str, Any]]) -> tuple[list[State], list[str]]:
    """The state after each event of one message's history (as the API answers it), and every
    rule of the lifecycle the history breaks."""
    broken: list[str] = []
    if not history or history[0]["type"] != "Drafted":
        return [], [f"a history starts with Drafted: {[e['type'] for e in history]}"]
    first = history[0]
    s = State(1, "DRAFT", False, first["channel"], first["requiresApproval"], first.get("text"))
    states = [s]
    for n, e in enumerate(history[1:], start=1):
        where = f"{e['messageId']} v{e['version']} {e['type']} by {e['actor']}"
        previous = history[n - 1]
        if e["version"] != n + 1:
            broken.append(f"{where}: at place {n + 1} of the history")
        if e["type"] == "Sent" and previous["type"] == "Approved":
            legal = previous["actor"] == e["actor"]
        elif e["type"] == "Approved":
            following = history[n + 1]["type"] if n + 1 < len(history) else None
            legal = allows(Command("approve"), s) and following == "Sent"
        else:
            legal = e["type"] != "Drafted" and allows(command_of_event(e), s)
        if not legal:
            broken.append(f"{where}: not allowed on a {s}")
        s = after(s, e)
        states.append(s)
    return states, broken


def command_of_event(event: dict[str, Any]) -> Command:
    """The least the command that recorded this event must have been allowed to do."""
    return {
        "Edited": Command("edit"),
        "Sent": Command("send"),
        "Rejected": Command("reject"),
        "StatusChanged": Command("report", report=event.get("status")),
        "Redacted": Command("redact"),
    }[event["type"]]
