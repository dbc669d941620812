"""The Message aggregate on its own, no database: given events, when a command, then new events
or a domain error."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import pytest
from eventsourcing.domain import CanMutateAggregate

from app.body_text import text_body
from app.domain import Message, message_id
from app.errors import Conflict
from app.lifecycle import Channel, Status

Event = CanMutateAggregate[Any]

RECIPIENTS: list[dict[str, Any]] = [
    {"identifierKey": "phonenumber", "identifierValue": "+15550100"}
]
FAILURE_REASON = "carrier rejected the number"

# The states of the lifecycle table: a status, and whether the message was redacted in it.
SENT_LIKE = (
    Status.ACCEPTED,
    Status.PROCESSING,
    Status.SENT,
    Status.DELIVERED,
    Status.SENDING_FAILED,
    Status.DELIVERY_FAILED,
)
FINISHED = (Status.SENT, Status.DELIVERED, Status.SENDING_FAILED, Status.DELIVERY_FAILED)
PLAIN_STATES = [(s, False) for s in (Status.DRAFT, Status.REJECTED, *SENT_LIKE)]
REDACTED_STATES = [(s, True) for s in (Status.DRAFT, Status.REJECTED, *FINISHED)]
ALL_STATES = PLAIN_STATES + REDACTED_STATES

# The delivery reports that lead from a freshly sent (ACCEPTED) message to each status.
REPORTS_TO: dict[Status, list[Status]] = {
    Status.ACCEPTED: [],
    Status.PROCESSING: [Status.PROCESSING],
    Status.SENT: [Status.PROCESSING, Status.SENT],
    Status.DELIVERED: [Status.SENT, Status.DELIVERED],
    Status.SENDING_FAILED: [Status.SENDING_FAILED],
    Status.DELIVERY_FAILED: [Status.PROCESSING, Status.DELIVERY_FAILED],
}


def state_id(state: tuple[Status, bool]) -> str:
    status, redacted = state
    return f"redacted-{status.value}" if redacted else status.value


def drafted(channel: Channel = Channel.CHAT, *, requires_approval: bool = False) -> Message:
    return Message(
        workspace="acme",
        conversation_id="conv-1",
        channel=channel.value,
        content=text_body("Hello there"),
        recipients=list(RECIPIENTS),
        sender={"name": "Shop"},
        reply_to=None,
        reference="order-42",
        requires_approval=requires_approval,
        actor="bot",
    )


def given(
    status: Status,
    *,
    redacted: bool = False,
    channel: Channel = Channel.CHAT,
    requires_approval: bool = False,
) -> tuple[Message, list[Event]]:
    """A message brought into `status` by its own commands, and the events that got it there."""
    msg = drafted(channel, requires_approval=requires_approval)
    if status is Status.REJECTED:
        msg.reject("ann", "off-brand")
    elif status is not Status.DRAFT:
        if requires_approval:
            msg.approve("ann")
        else:
            msg.send("bot")
        for reported in REPORTS_TO[status]:
            failed = reported in (Status.SENDING_FAILED, Status.DELIVERY_FAILED)
            msg.record_status("carrier", reported, FAILURE_REASON if failed else None)
    if redacted:
        msg.redact("ann", "contains a card number")
    history = list(msg.collect_events())
    assert msg.state is status
    assert msg.redacted is redacted
    return msg, history


def names(events: Sequence[Event]) -> list[str]:
    return [type(e).__name__ for e in events]


def fields(event: Event) -> dict[str, Any]:
    return dict(vars(event))


def rebuild(events: Sequence[Event]) -> Message:
    msg: Message | None = None
    for e in events:
        msg = e.mutate(msg)
    assert isinstance(msg, Message)
    return msg


def assert_refused(msg: Message, command: Callable[[Message], None]) -> Conflict:
    """The command is a CONFLICT that names the current version and status and changes nothing."""
    version, status, before = msg.version, msg.status, dict(vars(msg))
    with pytest.raises(Conflict) as refused:
        command(msg)
    assert refused.value.current_version == version
    assert refused.value.current_status == status
    assert refused.value.code == "CONFLICT"
    assert refused.value.extensions() == {
        "code": "CONFLICT",
        "currentVersion": version,
        "currentStatus": status,
    }
    assert list(msg.collect_events()) == []
    assert dict(vars(msg)) == before
    return refused.value


# The lifecycle table, as the issue states it: which events each command records in each state,
# or None for CONFLICT. Edits here are of a CHAT message; other channels are covered below.
DRAFT_ROW: dict[str, list[str] | None] = {
    "edit": ["Edited"],
    "update": [],
    "send": ["Sent"],
    "approve": ["Approved", "Sent"],
    "reject": ["Rejected"],
    "redact": ["Redacted"],
}
FINAL_ROW: dict[str, list[str] | None] = dict.fromkeys(DRAFT_ROW)
REJECTED_ROW: dict[str, list[str] | None] = {**FINAL_ROW, "redact": ["Redacted"]}
IN_PROGRESS_ROW: dict[str, list[str] | None] = {**FINAL_ROW, "edit": ["Edited"]}
FINISHED_ROW: dict[str, list[str] | None] = {**IN_PROGRESS_ROW, "redact": ["Redacted"]}


def table_row(status: Status, redacted: bool) -> dict[str, list[str] | None]:
    if redacted:
        return FINAL_ROW
    if status is Status.REJECTED:
        return REJECTED_ROW
    if status is Status.DRAFT:
        return DRAFT_ROW
    if status in (Status.ACCEPTED, Status.PROCESSING):
        return IN_PROGRESS_ROW
    return FINISHED_ROW


COMMANDS: dict[str, Callable[[Message], None]] = {
    "edit": lambda m: m.edit("eve", content=text_body("Hello again")),
    "update": lambda m: m.update(send=False),
    "send": lambda m: m.send("sam"),
    "approve": lambda m: m.approve("ann"),
    "reject": lambda m: m.reject("rob", "too pushy"),
    "redact": lambda m: m.redact("ray", "personal data"),
}


@pytest.mark.parametrize("command", list(COMMANDS))
@pytest.mark.parametrize("state", ALL_STATES, ids=state_id)
def test_each_command_in_each_state_follows_the_lifecycle_table(
    state: tuple[Status, bool], command: str
) -> None:
    status, redacted = state
    msg, _ = given(status, redacted=redacted)
    expected = table_row(status, redacted)[command]
    if expected is None:
        assert_refused(msg, COMMANDS[command])
        return
    version = msg.version
    COMMANDS[command](msg)
    new = list(msg.collect_events())
    assert names(new) == expected
    assert [e.originator_version for e in new] == list(range(version + 1, version + 1 + len(new)))
    assert msg.version == version + len(new)


@pytest.mark.parametrize("reported", list(Status))
@pytest.mark.parametrize("state", [(Status.DRAFT, False), (Status.REJECTED, False)], ids=state_id)
def test_a_delivery_status_for_a_draft_or_a_rejected_message_is_a_conflict(
    state: tuple[Status, bool], reported: Status
) -> None:
    msg, _ = given(state[0])
    assert_refused(msg, lambda m: m.record_status("carrier", reported, None))


def test_sending_a_draft_records_sent_and_accepts_it() -> None:
    msg, _ = given(Status.DRAFT)
    msg.send("sam", "send-key-1")
    [sent] = msg.collect_events()
    assert type(sent).__name__ == "Sent"
    assert fields(sent)["actor"] == "sam"
    assert fields(sent)["key"] == "send:send-key-1"
    assert msg.status == Status.ACCEPTED.value
    assert msg.sent_at is not None


def test_sending_stamps_sent_at_with_the_time_of_the_sent_event() -> None:
    msg, _ = given(Status.DRAFT)
    msg.send("sam")
    [sent] = msg.collect_events()
    assert msg.sent_at == sent.timestamp


def test_a_draft_that_requires_approval_cannot_be_sent() -> None:
    msg, _ = given(Status.DRAFT, requires_approval=True)
    refused = assert_refused(msg, lambda m: m.send("sam"))
    assert refused.current_status == "DRAFT"
    assert refused.current_version == 1


def test_a_draft_that_requires_approval_can_still_be_edited_and_rejected() -> None:
    msg, _ = given(Status.DRAFT, requires_approval=True)
    msg.edit("eve", content=text_body("Better wording"))
    msg.reject("rob", "still off-brand")
    assert names(msg.collect_events()) == ["Edited", "Rejected"]
    assert msg.status == Status.REJECTED.value
    assert msg.rejected_by == "rob"
    assert msg.rejection_reason == "still off-brand"


@pytest.mark.parametrize("requires_approval", [True, False])
def test_approving_a_draft_records_approved_then_sent(requires_approval: bool) -> None:
    msg, _ = given(Status.DRAFT, requires_approval=requires_approval)
    msg.approve("ann", "approve-key-1")
    approved, sent = msg.collect_events()
    assert names([approved, sent]) == ["Approved", "Sent"]
    assert (approved.originator_version, sent.originator_version) == (2, 3)
    assert fields(approved)["actor"] == "ann"
    assert fields(approved)["key"] == "approve:approve-key-1"
    assert fields(sent)["actor"] == "ann"
    assert fields(sent)["key"] is None
    assert msg.status == Status.ACCEPTED.value
    assert msg.approved_by == "ann"
    assert msg.version == 3


def test_approving_stamps_approved_at_and_sent_at_with_the_times_of_their_own_events() -> None:
    msg, _ = given(Status.DRAFT, requires_approval=True)
    msg.approve("ann")
    approved, sent = msg.collect_events()
    assert msg.approved_at == approved.timestamp
    assert msg.sent_at == sent.timestamp


def test_redacting_stamps_redacted_at_with_the_time_of_the_redacted_event() -> None:
    msg, _ = given(Status.DELIVERED)
    msg.redact("ray", "personal data")
    [redacted] = msg.collect_events()
    assert msg.redacted_at == redacted.timestamp


def test_rejecting_a_draft_keeps_who_rejected_it_and_why() -> None:
    msg, _ = given(Status.DRAFT)
    msg.reject("rob", "too pushy")
    [rejected] = msg.collect_events()
    assert type(rejected).__name__ == "Rejected"
    assert fields(rejected)["actor"] == "rob"
    assert fields(rejected)["reason"] == "too pushy"
    assert (msg.status, msg.rejected_by, msg.rejection_reason) == ("REJECTED", "rob", "too pushy")


@pytest.mark.parametrize("status", FINISHED)
def test_redacting_erases_the_content_and_keeps_the_status(status: Status) -> None:
    msg, _ = given(status)
    msg.redact("ray", "personal data")
    [redacted] = msg.collect_events()
    assert type(redacted).__name__ == "Redacted"
    assert fields(redacted)["actor"] == "ray"
    assert fields(redacted)["reason"] == "personal data"
    assert msg.content is None
    assert msg.redacted is True
    assert msg.status == status.value


@pytest.mark.parametrize("channel", list(Channel))
def test_editing_a_draft_of_any_channel_is_not_an_edit_after_send(channel: Channel) -> None:
    msg, _ = given(Status.DRAFT, channel=channel)
    msg.edit("eve", content=text_body("Hello again"), recipients=[{"identifierKey": "x"}])
    [edited] = msg.collect_events()
    assert type(edited).__name__ == "Edited"
    assert fields(edited)["after_send"] is False
    assert fields(edited)["actor"] == "eve"
    assert fields(edited)["content"] == text_body("Hello again")
    assert msg.content == text_body("Hello again")
    assert msg.recipients == [{"identifierKey": "x"}]
    assert msg.sender == {"name": "Shop"}, "fields not given stay as they were"
    assert msg.edited is False


@pytest.mark.parametrize("status", SENT_LIKE)
def test_a_sent_chat_message_can_be_edited_and_is_marked_edited(status: Status) -> None:
    msg, _ = given(status, channel=Channel.CHAT)
    msg.edit("eve", content=text_body("Fixed a typo"))
    [edited] = msg.collect_events()
    assert type(edited).__name__ == "Edited"
    assert fields(edited)["after_send"] is True
    assert msg.edited is True
    assert msg.content == text_body("Fixed a typo")
    assert msg.status == status.value, "an edit does not change the delivery status"


@pytest.mark.parametrize("channel", [Channel.SMS, Channel.EMAIL, Channel.WHATSAPP])
@pytest.mark.parametrize("status", SENT_LIKE)
def test_a_sent_message_of_another_channel_cannot_be_edited(
    status: Status, channel: Channel
) -> None:
    msg, _ = given(status, channel=channel)
    assert_refused(msg, lambda m: m.edit("eve", content=text_body("Fixed a typo")))


@pytest.mark.parametrize("channel", list(Channel))
def test_a_redacted_message_cannot_be_edited_even_in_chat(channel: Channel) -> None:
    msg, _ = given(Status.SENT, redacted=True, channel=channel)
    assert_refused(msg, lambda m: m.edit("eve", content=text_body("Back again")))


def test_an_edited_flag_stays_once_a_sent_chat_message_was_edited() -> None:
    msg, _ = given(Status.ACCEPTED)
    msg.edit("eve", content=text_body("one"))
    msg.record_status("carrier", Status.DELIVERED, None)
    msg.edit("eve", content=text_body("two"))
    assert names(msg.collect_events()) == ["Edited", "StatusChanged", "Edited"]
    assert msg.edited is True
    assert msg.content == text_body("two")


def test_a_draft_edited_before_sending_is_not_marked_edited_after_sending() -> None:
    msg, _ = given(Status.DRAFT)
    msg.edit("eve", content=text_body("one"))
    msg.send("sam")
    msg.collect_events()
    assert msg.edited is False


# Delivery statuses, from the rules: ACCEPTED < PROCESSING < SENT < DELIVERED, skipping allowed;
# SENDING_FAILED from ACCEPTED or PROCESSING; DELIVERY_FAILED from PROCESSING or SENT; DELIVERED
# and the failures are final; DRAFT, REJECTED and ACCEPTED are never reports.
ORDER = [Status.ACCEPTED, Status.PROCESSING, Status.SENT, Status.DELIVERED]
FAILS_FROM = {
    Status.SENDING_FAILED: {Status.ACCEPTED, Status.PROCESSING},
    Status.DELIVERY_FAILED: {Status.PROCESSING, Status.SENT},
}


def may_report(current: Status, reported: Status) -> bool:
    if reported in FAILS_FROM:
        return current in FAILS_FROM[reported]
    if reported in (Status.DRAFT, Status.REJECTED, Status.ACCEPTED) or current not in ORDER:
        return False
    return ORDER.index(reported) > ORDER.index(current)


@pytest.mark.parametrize("reported", list(Status))
@pytest.mark.parametrize("state", [(s, False) for s in SENT_LIKE] + REDACTED_STATES, ids=state_id)
def test_a_delivery_status_moves_only_forward(state: tuple[Status, bool], reported: Status) -> None:
    status, redacted = state
    msg, _ = given(status, redacted=redacted)
    reason = "a reason"
    if not may_report(status, reported):
        assert_refused(msg, lambda m: m.record_status("carrier", reported, reason))
        return
    msg.record_status("carrier", reported, reason)
    [changed] = msg.collect_events()
    assert type(changed).__name__ == "StatusChanged"
    assert fields(changed)["status"] == reported.value
    assert fields(changed)["actor"] == "carrier"
    # A redacted message's key is gone: what a report says of it is not kept either.
    assert fields(changed)["reason"] == (None if redacted else reason)
    assert msg.status == reported.value
    assert msg.redacted is redacted
    if redacted:
        assert msg.content is None


def test_the_forward_rules_allow_every_move_the_issue_names() -> None:
    # A guard on the matrix above: it must not pass by refusing everything.
    allowed = {(c, r) for c in Status for r in Status if may_report(c, r)}
    assert (Status.ACCEPTED, Status.DELIVERED) in allowed
    assert (Status.SENT, Status.DELIVERY_FAILED) in allowed
    assert len(allowed) == 10


@pytest.mark.parametrize(
    ("status", "path"),
    [
        (Status.SENDING_FAILED, [Status.SENDING_FAILED]),
        (Status.SENDING_FAILED, [Status.PROCESSING, Status.SENDING_FAILED]),
        (Status.DELIVERY_FAILED, [Status.PROCESSING, Status.DELIVERY_FAILED]),
        (Status.DELIVERY_FAILED, [Status.SENT, Status.DELIVERY_FAILED]),
    ],
)
def test_a_failure_keeps_its_reason(status: Status, path: list[Status]) -> None:
    msg, _ = given(Status.ACCEPTED)
    for reported in path:
        msg.record_status("carrier", reported, f"reason for {reported.value}")
    msg.collect_events()
    assert msg.status == status.value
    assert msg.failure_reason == f"reason for {status.value}"


def test_a_reason_given_with_a_success_is_recorded_but_is_no_failure_reason() -> None:
    msg, _ = given(Status.ACCEPTED)
    msg.record_status("carrier", Status.DELIVERED, "handset acknowledged")
    [changed] = msg.collect_events()
    assert fields(changed)["reason"] == "handset acknowledged"
    assert msg.failure_reason is None


def test_redaction_erases_every_personal_field_of_the_message() -> None:
    msg, _ = given(Status.DELIVERY_FAILED, redacted=True)
    assert (msg.content, msg.sender, msg.reference, msg.failure_reason) == (None,) * 4
    assert msg.recipients == [{"identifierKey": "phonenumber", "identifierValue": None}]
    assert (msg.status, msg.redacted) == ("DELIVERY_FAILED", True)


def test_redaction_erases_a_rejected_drafts_reason() -> None:
    msg, _ = given(Status.REJECTED, redacted=True)
    assert (msg.rejection_reason, msg.rejected_by) == (None, "ann")


@pytest.mark.parametrize("command", ["send", "approve"])
def test_an_idempotency_key_is_marked_per_command(command: str) -> None:
    msg, history = given(Status.DRAFT)
    assert not msg.has_used(command, "k-1")
    getattr(msg, command)("ann", "k-1")
    assert msg.has_used(command, "k-1")
    other = "approve" if command == "send" else "send"
    assert not msg.has_used(other, "k-1")
    assert not msg.has_used(command, "k-2")
    assert not msg.has_used(command, None)
    assert rebuild([*history, *msg.collect_events()]).has_used(command, "k-1")


def test_a_command_without_an_idempotency_key_marks_nothing() -> None:
    msg, _ = given(Status.DRAFT, requires_approval=True)
    msg.approve("ann")
    msg.collect_events()
    assert msg.used_keys == []
    assert not msg.has_used("approve", None)


def test_an_idempotency_key_is_not_marked_when_the_command_is_refused() -> None:
    msg, _ = given(Status.REJECTED)
    assert_refused(msg, lambda m: m.approve("ann", "k-1"))
    assert not msg.has_used("approve", "k-1")


@pytest.mark.parametrize("channel", list(Channel))
@pytest.mark.parametrize("state", ALL_STATES, ids=state_id)
def test_a_message_rebuilt_from_its_own_events_equals_the_original(
    state: tuple[Status, bool], channel: Channel
) -> None:
    status, redacted = state
    msg, history = given(status, redacted=redacted, channel=channel)
    if channel is Channel.CHAT and not redacted and status is not Status.REJECTED:
        msg.edit("eve", content=text_body("edited"), sender={"name": "Other shop"})
        history += msg.collect_events()
    rebuilt = rebuild(history)
    assert rebuilt == msg
    assert rebuilt.version == len(history)
    assert rebuilt.state is status
    assert rebuilt.created_on == history[0].timestamp
    assert rebuilt.modified_on == history[-1].timestamp


def test_a_new_message_is_a_draft_with_nothing_decided_yet() -> None:
    msg = drafted(Channel.SMS, requires_approval=True)
    [created] = msg.collect_events()
    assert type(created).__name__ == "Drafted"
    assert created.originator_version == 1
    assert fields(created)["workspace"] == "acme"
    assert fields(created)["channel"] == "SMS"
    assert fields(created)["actor"] == "bot"
    assert fields(created)["requires_approval"] is True
    assert msg.state is Status.DRAFT
    assert msg.version == 1
    assert (msg.approved_by, msg.approved_at, msg.rejected_by, msg.sent_at) == (None,) * 4
    assert (msg.edited, msg.redacted, msg.failure_reason) == (False, False, None)


@pytest.mark.parametrize("raw", ["", "nope", "123", "not-a-uuid-at-all", "g" * 32])
def test_a_malformed_id_names_no_message(raw: str) -> None:
    assert message_id(raw) is None


def test_a_well_formed_id_names_its_message() -> None:
    msg = drafted()
    assert message_id(str(msg.id)) == msg.id
    assert message_id(msg.id.hex) == msg.id
