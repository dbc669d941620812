"""Message.revisions and Message.approval: each revision of a message's content with its word
diff from the one before, and how the message came to be approved (app/revisions.py)."""

from __future__ import annotations

from enum import Enum
from typing import TYPE_CHECKING, Annotated, Any, Protocol

import strawberry
from strawberry.types import Info

from app.diffs import Change
from app.revisions import Approval, Revision, approval, revisions
from app.store import MessageStore
from app.workspaces import Principal

from .context import blocking, context_of
from .paging import MAX_HISTORY, check_first, parse_cursor
from .scalars import JSON, DateTime, json_value

if TYPE_CHECKING:
    from .types import PageInfo

DEFAULT_REVISIONS = 20
_ERASED = "Null once the message is redacted."


@strawberry.enum(description="What a segment of a word diff does to the text before it.")
class DiffOp(Enum):
    EQUAL = strawberry.enum_value("EQUAL", description="Kept: in both texts.")
    INSERT = strawberry.enum_value("INSERT", description="Added: only in the newer text.")
    DELETE = strawberry.enum_value("DELETE", description="Removed: only in the older text.")


@strawberry.type(
    description=(
        "A run of text of a word diff. The EQUAL and DELETE segments in order make the older "
        "text, the EQUAL and INSERT segments the newer one."
    )
)
class DiffSegment:
    op: DiffOp = strawberry.field(description="Whether the run is kept, added or removed.")
    text: str = strawberry.field(description="The run of text, spaces included.")


@strawberry.type(
    description=("The size of a change of text, in words (a run of punctuation counts as a word).")
)
class TextChange:
    words_added: int = strawberry.field(description="Words in the newer text only.")
    words_removed: int = strawberry.field(description="Words in the older text only.")


@strawberry.type(
    description=(
        "The content of a message as it stood after its draft or one of its edits, with what "
        "changed since the revision before. Once the message is redacted, a revision still "
        "says who and when, and nothing of what."
    )
)
class MessageRevision:
    version: int = strawberry.field(description="The version of the event that made it.")
    type: str = strawberry.field(description="The event that made it: Drafted or Edited.")
    actor: str | None = strawberry.field(description="Who made it.")
    occurred_at: DateTime = strawberry.field(description="When it was made.")
    after_send: bool = strawberry.field(description="True when it was made after sending.")
    text: str | None = strawberry.field(description=f"The plain text. {_ERASED}")
    body: JSON | None = strawberry.field(description=f"The whole body. {_ERASED}")
    diff: list[DiffSegment] | None = strawberry.field(
        description=(
            "The word diff of the plain text from the revision before: only EQUAL segments when "
            f"the edit left the text alone. Null for the draft, which has none before it. {_ERASED}"
        )
    )
    change: TextChange | None = strawberry.field(
        description=f"The size of the diff. Null when diff is null. {_ERASED}"
    )


@strawberry.type(description="One revision and the cursor just after it.")
class MessageRevisionEdge:
    cursor: str = strawberry.field(
        description="The revision's position (a version); pass it as `after` for the later ones."
    )
    node: MessageRevision = strawberry.field(description="The revision.")


@strawberry.type(description="A page of revisions, oldest first.")
class MessageRevisionConnection:
    edges: list[MessageRevisionEdge] = strawberry.field(description="The revisions of this page.")
    page_info: Annotated[PageInfo, strawberry.lazy("app.api.types")] = strawberry.field(
        description="Where this page starts and ends, and whether more revisions may follow."
    )


@strawberry.type(description="How a message came to be approved.")
class ApprovalSummary:
    approved_by: str | None = strawberry.field(description="Who approved it.")
    approved_at: DateTime = strawberry.field(description="When it was approved.")
    version: int = strawberry.field(description="The version of its MessageApproved event.")
    edits: int = strawberry.field(
        description="How many edits were made between draft and approval."
    )
    as_drafted: bool = strawberry.field(description="True when it was approved with no edit.")
    change: TextChange | None = strawberry.field(
        description=f"The size of the change from the drafted text to the approved one. {_ERASED}"
    )


class _Identified(Protocol):
    id: strawberry.ID


async def _revisions(
    root: _Identified,
    info: Info,
    first: Annotated[
        int | None,
        strawberry.argument(
            description=(
                f"How many revisions to return: 0 to {MAX_HISTORY} (default {DEFAULT_REVISIONS});"
                " anything else fails with VALIDATION_FAILED."
            )
        ),
    ] = DEFAULT_REVISIONS,
    after: Annotated[
        str | None,
        strawberry.argument(
            description=(
                "A cursor this API gave out (a version): only revisions after it are returned. "
                "Leave it out to start at the draft."
            )
        ),
    ] = None,
) -> MessageRevisionConnection:
    from .types import page_info  # .types holds Message, which holds these fields

    ctx = context_of(info)
    size = DEFAULT_REVISIONS if first is None else first
    check_first(size, MAX_HISTORY, "first")
    position = parse_cursor(after, "after")
    found, more = await blocking(
        _page, ctx.herald.store, ctx.principal(), str(root.id), size, position
    )
    edges = [MessageRevisionEdge(cursor=str(r.version), node=_revision(r)) for r in found]
    cursors = [edge.cursor for edge in edges]
    return MessageRevisionConnection(
        edges=edges, page_info=page_info(cursors, has_next=more, has_previous=bool(position))
    )


def _page(
    store: MessageStore, p: Principal, raw_id: str, first: int, after: int
) -> tuple[list[Revision], bool]:
    """The revisions after version `after`, out of at most first + MAX_HISTORY events (a message
    has at most a few events that are not revisions: approval, sending, delivery, redaction)."""
    before = store.load(p, raw_id, after).content if after and first else None
    limit = first + MAX_HISTORY if first else 1  # first: 0 only asks whether more follow
    events = store.history(p, raw_id, after, limit)
    # Read last, so that content read before a redaction is not answered after it.
    erased = store.load(p, raw_id).redacted
    found = revisions(events, before, erased=erased)
    return found[:first], len(found) > first or len(events) == limit


async def _approval(root: _Identified, info: Info) -> ApprovalSummary | None:
    ctx = context_of(info)
    store, p, raw_id = ctx.herald.store, ctx.principal(), str(root.id)
    found: Approval | None = await blocking(approval, lambda v: store.load(p, raw_id, v))
    if found is None:
        return None
    return ApprovalSummary(
        approved_by=found.by,
        approved_at=DateTime(found.at),
        version=found.version,
        edits=found.edits,
        as_drafted=found.edits == 0,
        change=_change(found.change),
    )


def _revision(r: Revision) -> MessageRevision:
    return MessageRevision(
        version=r.version,
        type=r.type,
        actor=r.actor,
        occurred_at=DateTime(r.at),
        after_send=r.after_send,
        text=r.text,
        body=json_value(r.content),
        diff=None
        if r.diff is None
        else [DiffSegment(op=DiffOp[s.op.name], text=s.text) for s in r.diff],
        change=_change(r.change),
    )


def _change(change: Change | None) -> TextChange | None:
    return (
        None
        if change is None
        else TextChange(words_added=change.added, words_removed=change.removed)
    )


def revisions_field() -> Any:
    """Message.revisions, for the Message type to hold."""
    return strawberry.field(
        resolver=_revisions,
        description=(
            "Each revision of the content, oldest first, with its word diff from the one before."
        ),
    )


def approval_field() -> Any:
    """Message.approval, for the Message type to hold."""
    return strawberry.field(
        resolver=_approval,
        description="How the message came to be approved; null unless it was approved.",
    )
