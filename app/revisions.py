"""A message's revisions and its approval, read from its events: what GraphQL's
Message.revisions and Message.approval answer, and what `herald history --diff` prints.

A revision is the content as it stood after a Drafted or an Edited event. An edit that left the
body alone (updateMessage changing only the recipients) is a revision too, with nothing changed:
once a message is redacted no one can tell such an edit from another, and the list of
revisions must not change when its content is erased."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from app.body_text import plain_text
from app.diffs import Change, Segment, change_of, diff
from app.domain import Body, Message
from app.store import Event

REVISION_EVENTS = ("Drafted", "Edited")


@dataclass(frozen=True)
class Revision:
    version: int
    type: str
    actor: str | None
    at: datetime
    after_send: bool
    # The rest is None once the message is redacted; diff and change also for the first one.
    content: Body | None
    text: str | None
    diff: list[Segment] | None
    change: Change | None


@dataclass(frozen=True)
class Approval:
    by: str | None
    at: datetime
    version: int
    edits: int
    change: Change | None  # from the draft's text to the approved one; None once redacted


def text_of(content: Body | None) -> str:
    return "" if content is None else plain_text(content) or ""


def revisions(events: Iterable[Event], before: Body | None, *, erased: bool) -> list[Revision]:
    """The revisions among `events`, each with its word diff from the one before. `before` is
    the content as it stood before the first of `events`, None when they start at the draft.
    An erased message's revisions say who and when, and nothing of what."""
    found: list[Revision] = []
    current = before
    for e in events:
        name = type(e).__name__
        if name not in REVISION_EVENTS:
            continue
        state: dict[str, Any] = vars(e)
        previous = current
        if state.get("content") is not None:
            current = state["content"]
        first = name == "Drafted"
        segments = None if erased or first else diff(text_of(previous), text_of(current))
        found.append(
            Revision(
                version=e.originator_version,
                type=name,
                actor=state.get("actor"),
                at=state["timestamp"],
                after_send=bool(state.get("after_send")),
                content=None if erased else current,
                text=None if erased or current is None else plain_text(current),
                diff=segments,
                change=None if segments is None else change_of(segments),
            )
        )
    return found


def approval(load: Callable[[int | None], Message]) -> Approval | None:
    """How the message came to be approved; None unless it was. `load(version)` gives the
    message as it stood at that version (None: now). Bounded work however long its history:
    the version of the approval is found by bisection, each load starting from a snapshot."""
    now = load(None)
    if now.approved_at is None:
        return None
    low, high = 2, now.version  # the Approved event is never the first
    while low < high:
        middle = (low + high) // 2
        if load(middle).approved_at is None:
            low = middle + 1
        else:
            high = middle
    drafted, approved = load(1).content, load(low).content
    erased = drafted is None or approved is None or load(None).redacted
    return Approval(
        by=now.approved_by,
        at=now.approved_at,
        version=low,
        # A draft records nothing but its Drafted event and Edited events until it is approved:
        # every other command (send, reject, redact, a delivery status) ends the draft or needs
        # it ended (app/domain.py).
        edits=low - 2,
        change=None if erased else change_of(diff(text_of(drafted), text_of(approved))),
    )


def diff_lines(events: list[Event]) -> dict[int, str]:
    """For `herald history --diff`: each revision's diff, by version, marked as git's
    --word-diff=plain marks it: [-removed-]{+added+}."""
    erased = any(type(e).__name__ == "Redacted" for e in events)
    marks = {"EQUAL": "{}", "DELETE": "[-{}-]", "INSERT": "{{+{}+}}"}
    indent = " " * 6
    return {
        r.version: indent
        + "".join(marks[s.op.value].format(s.text) for s in r.diff).replace("\n", "\n" + indent)
        for r in revisions(events, None, erased=erased)
        if r.diff is not None
    }
