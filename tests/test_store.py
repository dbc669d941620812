"""MessageStore on a real SQLite file: commands, optimistic concurrency, idempotency, workspaces,
time travel, history paging, snapshots, redaction, read-your-writes views, and real races."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, TypeVar

import pytest
from eventsourcing.persistence import RecordConflictError

from app.body_text import plain_text, text_body
from app.domain import Message
from app.errors import Conflict, NotFound
from app.lifecycle import Status
from app.runtime import Herald
from app.secrecy import new_key
from app.settings import Settings
from app.store import Event, MessageStore
from app.workspaces import Principal
from tests.postgres import fresh_database

T = TypeVar("T")
THREADS = 8
RECIPIENTS = [{"identifierKey": "phonenumber", "identifierValue": "+15550100", "type": "to"}]
IMAGE: dict[str, Any] = {
    "type": "image",
    "image": {"images": [{"mediaUrl": "https://cdn.example/cat.png"}], "text": "Our cat"},
}


@pytest.fixture
def store(herald: Herald) -> MessageStore:
    return herald.store


@pytest.fixture
def stranger(herald: Herald) -> Principal:
    return Principal(workspace=herald.workspaces.ensure("globex"), key_name="globex-bot")


@pytest.fixture
def snapshotting(
    settings: Settings, tmp_path: Path, request: pytest.FixtureRequest
) -> Iterator[Herald]:
    """A second Herald on its own database of the same backend, snapshotting every 5 events."""
    if settings.is_postgres:
        url = fresh_database(request.getfixturevalue("postgres_server"))
    else:
        url = f"sqlite:///{tmp_path}/snapshots.db"
    h = Herald(Settings(database_url=url, snapshot_interval=5))
    yield h
    h.close()


def draft(
    store: MessageStore,
    p: Principal,
    text: str = "Hello there",
    *,
    channel: str = "CHAT",
    requires_approval: bool = False,
    key: str | None = None,
    content: dict[str, Any] | None = None,
) -> Message:
    return store.draft(
        p,
        key,
        conversation_id="conv-1",
        channel=channel,
        content=text_body(text) if content is None else content,
        recipients=list(RECIPIENTS),
        sender=None,
        reply_to=None,
        reference="order-42",
        requires_approval=requires_approval,
        actor="bot",
    )


def changes(
    content: dict[str, Any] | None = None, recipients: list[dict[str, str]] | None = None
) -> dict[str, Any]:
    return {"content": content, "recipients": recipients, "sender": None, "reply_to": None}


def sent(store: MessageStore, p: Principal, text: str = "Hello there") -> str:
    """The id of a message the carrier reported SENT: the first state it can be redacted in."""
    mid = str(draft(store, p, text).id)
    store.send(p, mid, None, "sam", None)
    store.record_status(p, mid, "carrier", Status.SENT, None)
    return mid


def every_event(store: MessageStore, p: Principal, mid: str) -> list[Event]:
    return store.history(p, mid, 0, 1000)


def names(events: Sequence[Event]) -> list[str]:
    return [type(e).__name__ for e in events]


def text_of(msg: Message) -> str | None:
    return None if msg.content is None else plain_text(msg.content)


def query(herald: Herald, sql: str, *params: object) -> list[tuple[Any, ...]]:
    """Read the database behind `herald`, whichever backend it is."""
    db = herald.store.db
    with db.transaction(commit=False) as c:
        c.execute(db.sql(sql.replace("{snapshots}", snapshot_table(herald))), params)
        return [tuple(row) for row in c.fetchall()]


def snapshot_table(herald: Herald) -> str:
    assert herald.store.snapshots is not None
    name: str = herald.store.snapshots.recorder.events_table_name  # type: ignore[attr-defined]
    return name


def race(work: Callable[[int], T]) -> list[T | Exception]:
    """Run `work(0)`..`work(7)` on 8 threads released together; each result or its error."""
    barrier = threading.Barrier(THREADS)

    def one(i: int) -> T | Exception:
        barrier.wait(timeout=30)
        try:
            return work(i)
        except Exception as error:
            return error

    with ThreadPoolExecutor(max_workers=THREADS) as pool:
        return list(pool.map(one, range(THREADS)))


# Commands.


def test_drafting_records_one_drafted_event_in_the_callers_workspace(
    store: MessageStore, principal: Principal
) -> None:
    msg = draft(store, principal, "Your order shipped")
    loaded = store.load(principal, str(msg.id))
    assert loaded.version == 1
    assert loaded.workspace == principal.workspace
    assert loaded.status == Status.DRAFT.value
    assert loaded.content == text_body("Your order shipped")
    assert loaded.recipients == RECIPIENTS
    assert loaded.reference == "order-42"
    [drafted] = every_event(store, principal, str(msg.id))
    assert type(drafted).__name__ == "Drafted"
    assert vars(drafted)["actor"] == "bot"
    assert vars(drafted)["content"] == text_body("Your order shipped")


def test_two_drafts_without_idempotency_keys_are_two_messages(
    store: MessageStore, principal: Principal
) -> None:
    assert draft(store, principal).id != draft(store, principal).id


def test_editing_only_the_text_keeps_the_rest_of_a_structured_body(
    store: MessageStore, principal: Principal
) -> None:
    msg = draft(store, principal, content=IMAGE)
    edited = store.edit(principal, str(msg.id), 1, "eve", text="Our dog")
    assert edited.version == 2
    loaded = store.load(principal, str(msg.id))
    assert loaded.content is not None
    assert loaded.content["type"] == "image"
    assert loaded.content["image"]["images"] == IMAGE["image"]["images"]
    assert text_of(loaded) == "Our dog"
    [_, event] = every_event(store, principal, str(msg.id))
    assert type(event).__name__ == "Edited"
    assert vars(event)["actor"] == "eve"
    assert vars(event)["after_send"] is False


def test_editing_with_a_whole_body_replaces_it(store: MessageStore, principal: Principal) -> None:
    msg = draft(store, principal, content=IMAGE)
    store.edit(principal, str(msg.id), None, "eve", content=text_body("Plain now"))
    assert store.load(principal, str(msg.id)).content == text_body("Plain now")


def test_a_sent_chat_message_edited_through_the_store_is_marked_edited(
    store: MessageStore, principal: Principal
) -> None:
    mid = sent(store, principal)
    msg = store.edit(principal, mid, None, "eve", text="Fixed a typo")
    assert msg.edited is True
    loaded = store.load(principal, mid)
    assert (loaded.edited, loaded.status, text_of(loaded)) == (True, "SENT", "Fixed a typo")


@pytest.mark.parametrize("channel", ["SMS", "EMAIL", "WHATSAPP"])
def test_a_sent_message_of_another_channel_cannot_be_edited_through_the_store(
    store: MessageStore, principal: Principal, channel: str
) -> None:
    mid = str(draft(store, principal, channel=channel).id)
    store.send(principal, mid, None, "sam", None)
    with pytest.raises(Conflict) as refused:
        store.edit(principal, mid, None, "eve", text="Fixed a typo")
    assert (refused.value.current_version, refused.value.current_status) == (2, "ACCEPTED")
    assert store.load(principal, mid).version == 2


def test_approving_a_draft_records_approved_then_sent(
    store: MessageStore, principal: Principal
) -> None:
    mid = str(draft(store, principal, requires_approval=True).id)
    msg = store.approve(principal, mid, 1, "ann", None)
    assert (msg.version, msg.status, msg.approved_by) == (3, "ACCEPTED", "ann")
    assert names(every_event(store, principal, mid)) == ["Drafted", "Approved", "Sent"]
    loaded = store.load(principal, mid)
    assert (loaded.version, loaded.status, loaded.approved_by) == (3, "ACCEPTED", "ann")


def test_sending_a_draft_accepts_it(store: MessageStore, principal: Principal) -> None:
    mid = str(draft(store, principal).id)
    msg = store.send(principal, mid, 1, "sam", None)
    assert (msg.version, msg.status) == (2, "ACCEPTED")
    assert names(every_event(store, principal, mid)) == ["Drafted", "Sent"]
    assert store.load(principal, mid).sent_at is not None


def test_a_draft_that_requires_approval_is_not_sent_by_the_store(
    store: MessageStore, principal: Principal
) -> None:
    mid = str(draft(store, principal, requires_approval=True).id)
    with pytest.raises(Conflict) as refused:
        store.send(principal, mid, None, "sam", None)
    assert (refused.value.current_version, refused.value.current_status) == (1, "DRAFT")
    assert names(every_event(store, principal, mid)) == ["Drafted"]


def test_rejecting_a_draft_makes_it_final(store: MessageStore, principal: Principal) -> None:
    mid = str(draft(store, principal).id)
    msg = store.reject(principal, mid, 1, "rob", "too pushy")
    assert (msg.status, msg.rejected_by, msg.rejection_reason) == ("REJECTED", "rob", "too pushy")
    with pytest.raises(Conflict) as refused:
        store.send(principal, mid, None, "sam", None)
    assert (refused.value.current_version, refused.value.current_status) == (2, "REJECTED")


def test_a_message_in_progress_cannot_be_redacted(
    store: MessageStore, principal: Principal
) -> None:
    mid = str(draft(store, principal).id)
    store.send(principal, mid, None, "sam", None)
    with pytest.raises(Conflict) as refused:
        store.redact(principal, mid, None, "ray", "pii")
    assert (refused.value.current_version, refused.value.current_status) == (2, "ACCEPTED")
    assert store.load(principal, mid).content == text_body("Hello there")


def test_delivery_statuses_move_forward_and_a_failure_keeps_its_reason(
    store: MessageStore, principal: Principal
) -> None:
    mid = str(draft(store, principal).id)
    store.send(principal, mid, None, "sam", None)
    store.record_status(principal, mid, "carrier", Status.PROCESSING, None)
    msg = store.record_status(principal, mid, "carrier", Status.DELIVERY_FAILED, "handset off")
    assert (msg.version, msg.status, msg.failure_reason) == (4, "DELIVERY_FAILED", "handset off")
    loaded = store.load(principal, mid)
    assert (loaded.status, loaded.failure_reason) == ("DELIVERY_FAILED", "handset off")
    last = every_event(store, principal, mid)[-1]
    assert type(last).__name__ == "StatusChanged"
    assert (vars(last)["status"], vars(last)["reason"]) == ("DELIVERY_FAILED", "handset off")


@pytest.mark.parametrize("reported", [Status.PROCESSING, Status.SENT, Status.DELIVERY_FAILED])
def test_a_delivery_status_that_does_not_move_forward_is_a_conflict(
    store: MessageStore, principal: Principal, reported: Status
) -> None:
    mid = str(draft(store, principal).id)
    store.send(principal, mid, None, "sam", None)
    store.record_status(principal, mid, "carrier", Status.DELIVERED, None)
    with pytest.raises(Conflict) as refused:
        store.record_status(principal, mid, "carrier", reported, None)
    assert (refused.value.current_version, refused.value.current_status) == (3, "DELIVERED")
    assert store.load(principal, mid).version == 3


def test_updating_a_draft_changes_it_without_sending(
    store: MessageStore, principal: Principal
) -> None:
    mid = str(draft(store, principal).id)
    recipients = [{"identifierKey": "emailaddress", "identifierValue": "a@b.example"}]
    msg = store.update(principal, mid, 1, "eve", False, changes(text_body("New"), recipients))
    assert (msg.version, msg.status) == (2, "DRAFT")
    loaded = store.load(principal, mid)
    assert (loaded.content, loaded.recipients) == (text_body("New"), recipients)
    assert names(every_event(store, principal, mid)) == ["Drafted", "Edited"]


def test_updating_a_draft_with_send_changes_and_sends_it_in_one_save(
    store: MessageStore, principal: Principal
) -> None:
    mid = str(draft(store, principal).id)
    msg = store.update(principal, mid, 1, "eve", True, changes(text_body("Final")))
    assert (msg.version, msg.status) == (3, "ACCEPTED")
    assert names(every_event(store, principal, mid)) == ["Drafted", "Edited", "Sent"]
    assert store.load(principal, mid).content == text_body("Final")


def test_updating_with_only_send_records_only_sent(
    store: MessageStore, principal: Principal
) -> None:
    mid = str(draft(store, principal).id)
    store.update(principal, mid, None, "eve", True, changes())
    assert names(every_event(store, principal, mid)) == ["Drafted", "Sent"]


def test_an_update_that_cannot_send_saves_none_of_its_changes(
    store: MessageStore, principal: Principal
) -> None:
    mid = str(draft(store, principal, "Original", requires_approval=True).id)
    with pytest.raises(Conflict) as refused:
        store.update(principal, mid, None, "eve", True, changes(text_body("Changed")))
    assert (refused.value.current_version, refused.value.current_status) == (1, "DRAFT")
    loaded = store.load(principal, mid)
    assert (loaded.version, loaded.content) == (1, text_body("Original"))


def test_a_sent_message_cannot_be_updated(store: MessageStore, principal: Principal) -> None:
    mid = str(draft(store, principal).id)
    store.send(principal, mid, None, "sam", None)
    with pytest.raises(Conflict) as refused:
        store.update(principal, mid, None, "eve", False, changes(text_body("Changed")))
    assert (refused.value.current_version, refused.value.current_status) == (2, "ACCEPTED")


# Optimistic concurrency: a pinned expected version that is not current is a conflict.

PINNED: dict[str, Callable[[MessageStore, Principal, str, int], Message]] = {
    "edit": lambda s, p, mid, v: s.edit(p, mid, v, "eve", text="Changed"),
    "approve": lambda s, p, mid, v: s.approve(p, mid, v, "ann", None),
    "send": lambda s, p, mid, v: s.send(p, mid, v, "sam", None),
    "reject": lambda s, p, mid, v: s.reject(p, mid, v, "rob", "no"),
    "redact": lambda s, p, mid, v: s.redact(p, mid, v, "ray", "pii"),
    "update": lambda s, p, mid, v: s.update(p, mid, v, "eve", False, changes(text_body("x"))),
}


@pytest.mark.parametrize("command", list(PINNED))
def test_an_expected_version_that_is_not_current_is_a_conflict(
    store: MessageStore, principal: Principal, command: str
) -> None:
    if command == "redact":
        mid = sent(store, principal)
    else:
        mid = str(draft(store, principal).id)
        store.edit(principal, mid, None, "eve", text="Second version")
    current = store.load(principal, mid)
    for stale in (current.version - 1, current.version + 1):
        with pytest.raises(Conflict) as refused:
            PINNED[command](store, principal, mid, stale)
        assert refused.value.current_version == current.version
        assert refused.value.current_status == current.status
        assert store.load(principal, mid).version == current.version
    assert PINNED[command](store, principal, mid, current.version).version > current.version


# Idempotency.


def test_drafting_twice_with_one_idempotency_key_makes_one_message(
    store: MessageStore, principal: Principal
) -> None:
    first = draft(store, principal, "First", key="draft-1")
    again = draft(store, principal, "Second", key="draft-1")
    assert again.id == first.id
    assert again.version == 1
    assert again.content == text_body("First")
    assert names(every_event(store, principal, str(first.id))) == ["Drafted"]
    assert draft(store, principal, key="draft-2").id != first.id


def test_one_idempotency_key_in_two_workspaces_makes_two_messages(
    store: MessageStore, principal: Principal, stranger: Principal
) -> None:
    ours = draft(store, principal, "Ours", key="draft-1")
    theirs = draft(store, stranger, "Theirs", key="draft-1")
    assert ours.id != theirs.id
    assert text_of(store.load(principal, str(ours.id))) == "Ours"
    assert text_of(store.load(stranger, str(theirs.id))) == "Theirs"
    assert theirs.workspace == stranger.workspace


def test_retrying_an_approval_with_its_idempotency_key_records_nothing_new(
    store: MessageStore, principal: Principal
) -> None:
    mid = str(draft(store, principal, requires_approval=True).id)
    first = store.approve(principal, mid, 1, "ann", "approve-1")
    # The retry still carries the expected version the first attempt was made with.
    again = store.approve(principal, mid, 1, "ann", "approve-1")
    assert (again.version, again.status) == (first.version, first.status) == (3, "ACCEPTED")
    assert names(every_event(store, principal, mid)) == ["Drafted", "Approved", "Sent"]
    with pytest.raises(Conflict):
        store.approve(principal, mid, None, "ann", "approve-2")


def test_retrying_a_send_with_its_idempotency_key_records_nothing_new(
    store: MessageStore, principal: Principal
) -> None:
    mid = str(draft(store, principal).id)
    store.send(principal, mid, 1, "sam", "send-1")
    store.record_status(principal, mid, "carrier", Status.SENT, None)
    again = store.send(principal, mid, 1, "sam", "send-1")
    assert (again.version, again.status) == (3, "SENT")
    assert names(every_event(store, principal, mid)) == ["Drafted", "Sent", "StatusChanged"]
    with pytest.raises(Conflict):
        store.send(principal, mid, None, "sam", None)


# Workspaces and ids: what the caller may not see does not exist.


def _draft_id(store: MessageStore, p: Principal) -> str:
    return str(draft(store, p).id)


def _accepted_id(store: MessageStore, p: Principal) -> str:
    mid = _draft_id(store, p)
    store.send(p, mid, None, "sam", None)
    return mid


ACTIONS: dict[str, tuple[Callable[[MessageStore, Principal], str], Callable[..., object]]] = {
    "load": (_draft_id, lambda s, p, mid: s.load(p, mid)),
    "load a version": (_draft_id, lambda s, p, mid: s.load(p, mid, version=1)),
    "history": (_draft_id, lambda s, p, mid: s.history(p, mid, 0, 10)),
    "edit": (_draft_id, lambda s, p, mid: s.edit(p, mid, None, "eve", text="Mine now")),
    "approve": (_draft_id, lambda s, p, mid: s.approve(p, mid, None, "ann", None)),
    "send": (_draft_id, lambda s, p, mid: s.send(p, mid, None, "sam", None)),
    "reject": (_draft_id, lambda s, p, mid: s.reject(p, mid, None, "rob", "no")),
    "redact": (sent, lambda s, p, mid: s.redact(p, mid, None, "ray", "pii")),
    "update": (
        _draft_id,
        lambda s, p, mid: s.update(p, mid, None, "eve", True, changes(text_body("x"))),
    ),
    "record_status": (
        _accepted_id,
        lambda s, p, mid: s.record_status(p, mid, "carrier", Status.DELIVERED, None),
    ),
}


@pytest.mark.parametrize("action", list(ACTIONS))
def test_another_workspaces_message_is_not_found(
    store: MessageStore, principal: Principal, stranger: Principal, action: str
) -> None:
    prepare, act = ACTIONS[action]
    mid = prepare(store, principal)
    before = store.load(principal, mid)
    with pytest.raises(NotFound):
        act(store, stranger, mid)
    after = store.load(principal, mid)
    assert (after.version, after.content) == (before.version, before.content)
    assert not store.exists(stranger, mid)
    assert store.exists(principal, mid)
    act(store, principal, mid)  # the same call made by the owner works


MALFORMED_IDS = ["", "nope", "123", "not-a-uuid-at-all", "00000000-0000"]


@pytest.mark.parametrize("action", list(ACTIONS))
def test_a_malformed_id_is_not_found(
    store: MessageStore, principal: Principal, action: str
) -> None:
    _, act = ACTIONS[action]
    for raw in MALFORMED_IDS:
        with pytest.raises(NotFound):
            act(store, principal, raw)


def test_a_well_formed_id_of_no_message_is_not_found(
    store: MessageStore, principal: Principal
) -> None:
    with pytest.raises(NotFound):
        store.load(principal, "8a3f6c1e-7d0e-4a53-9f8e-2b1f0f4b2a11")
    assert not store.exists(principal, "8a3f6c1e-7d0e-4a53-9f8e-2b1f0f4b2a11")


# Time travel and history.


def test_loading_a_version_shows_the_message_as_it_was_then(
    store: MessageStore, principal: Principal
) -> None:
    mid = str(draft(store, principal, "one").id)
    store.edit(principal, mid, None, "eve", text="two")
    store.edit(principal, mid, None, "eve", text="three")
    store.send(principal, mid, None, "sam", None)
    store.record_status(principal, mid, "carrier", Status.SENT, None)
    store.record_status(principal, mid, "carrier", Status.DELIVERED, None)
    expected = [
        ("one", "DRAFT"),
        ("two", "DRAFT"),
        ("three", "DRAFT"),
        ("three", "ACCEPTED"),
        ("three", "SENT"),
        ("three", "DELIVERED"),
    ]
    for version, (text, status) in enumerate(expected, start=1):
        then = store.load(principal, mid, version=version)
        assert (then.version, text_of(then), then.status) == (version, text, status)
    assert store.load(principal, mid).version == len(expected)


def test_history_pages_through_the_events_by_version(
    store: MessageStore, principal: Principal
) -> None:
    mid = str(draft(store, principal).id)
    for i in range(4):
        store.edit(principal, mid, None, f"editor-{i}", text=f"edit {i}")
    store.send(principal, mid, None, "sam", None)
    pages = [store.history(principal, mid, after, 2) for after in (0, 2, 4, 6)]
    assert [[e.originator_version for e in page] for page in pages] == [[1, 2], [3, 4], [5, 6], []]
    assert names(pages[0] + pages[1] + pages[2]) == ["Drafted", *["Edited"] * 4, "Sent"]
    assert [vars(e)["actor"] for e in pages[1]] == ["editor-1", "editor-2"]
    assert [e.originator_version for e in store.history(principal, mid, 3, 100)] == [4, 5, 6]
    assert store.history(principal, mid, 99, 10) == []


# Snapshots.


def test_a_long_history_loads_from_snapshots_and_still_travels_in_time(
    snapshotting: Herald,
) -> None:
    store = snapshotting.store
    p = Principal(workspace=snapshotting.workspaces.ensure("acme"), key_name="acme-bot")
    mid = str(draft(store, p, "text 1").id)
    expected: dict[int, tuple[str, str]] = {1: ("text 1", "DRAFT")}
    for version in range(2, 21):
        store.edit(p, mid, None, "eve", text=f"text {version}")
        expected[version] = (f"text {version}", "DRAFT")
    store.send(p, mid, None, "sam", None)
    store.record_status(p, mid, "carrier", Status.PROCESSING, None)
    store.record_status(p, mid, "carrier", Status.SENT, None)
    expected |= {21: ("text 20", "ACCEPTED"), 22: ("text 20", "PROCESSING")}
    expected[23] = ("text 20", "SENT")

    snapshots = query(
        snapshotting,
        "SELECT originator_version, state FROM {snapshots} WHERE originator_id = ? "
        "ORDER BY originator_version",
        store.load(p, mid).id if snapshotting.settings.is_postgres else store.load(p, mid).id.hex,
    )
    assert [v for v, _ in snapshots] == [5, 10, 15, 20]
    for version, state in snapshots:
        assert f"text {version}".encode() not in bytes(state), "snapshots hold content sealed"

    loaded = store.load(p, mid)
    assert (loaded.version, text_of(loaded), loaded.status) == (23, "text 20", "SENT")
    assert len(every_event(store, p, mid)) == 23
    for version, (text, status) in expected.items():
        then = store.load(p, mid, version=version)
        assert (then.version, text_of(then), then.status) == (version, text, status)
    view = snapshotting.views.message(p.workspace, mid)
    assert view is not None
    assert (view.version, text_of(view)) == (23, "text 20")


def test_a_store_keeps_its_own_snapshot_interval_when_another_store_is_opened(
    herald: Herald, store: MessageStore, principal: Principal, snapshotting: Herald
) -> None:
    # `store` snapshots every 10 events; opening `snapshotting` (every 5) must not change that.
    assert (herald.settings.snapshot_interval, snapshotting.settings.snapshot_interval) == (10, 5)
    mid = str(draft(store, principal).id)
    for i in range(8):
        store.edit(principal, mid, None, "eve", text=f"edit {i}")
    assert store.load(principal, mid).version == 9
    assert query(herald, "SELECT originator_version FROM {snapshots}") == []
    store.edit(principal, mid, None, "eve", text="edit 9")
    assert query(herald, "SELECT originator_version FROM {snapshots}") == [(10,)]


def test_a_snapshot_taken_from_memory_holds_what_replaying_the_events_gives(
    snapshotting: Herald,
) -> None:
    store = snapshotting.store
    p = Principal(workspace=snapshotting.workspaces.ensure("acme"), key_name="acme-bot")
    mid = draft(store, p, "first").id
    for i in range(3):
        store.edit(p, str(mid), None, "eve", text=f"edit {i}")
    # One save that crosses the interval with two events (an edit, then the send).
    store.update(p, str(mid), None, "eve", True, changes(content=text_body("final")))
    store.record_status(p, str(mid), "carrier", Status.SENT, None)
    assert store.snapshots is not None
    [stored] = store.snapshots.recorder.select_events(mid)
    snapshot = store.sealing.opened(stored, store.keys.read(mid))
    replayed: Message | None = None
    for e in store.events_of(mid)[: snapshot.originator_version]:
        replayed = e.mutate(replayed)  # type: ignore[attr-defined]
    assert replayed is not None
    assert snapshot.originator_version == replayed.version == 6
    assert snapshot.state == Message.Snapshot.take(replayed).state  # type: ignore[attr-defined]
    assert "final" not in stored.state.decode(), "the snapshot is stored sealed"
    assert text_of(replayed) == "final"


def test_a_snapshot_that_cannot_be_written_does_not_fail_the_acknowledged_command(
    herald: Herald, store: MessageStore, principal: Principal, caplog: pytest.LogCaptureFixture
) -> None:
    mid = str(draft(store, principal).id)
    for i in range(8):
        store.edit(principal, mid, None, "eve", text=f"edit {i}")
    refuse_snapshots(herald)
    edited = store.edit(principal, mid, None, "eve", text="the tenth event")
    assert edited.version == 10
    assert "could not snapshot message" in caplog.text
    assert query(herald, "SELECT originator_version FROM {snapshots}") == []
    loaded = store.load(principal, mid)
    assert (loaded.version, text_of(loaded)) == (10, "the tenth event")
    view = herald.views.message(principal.workspace, mid)
    assert view is not None
    assert view.version == 10


def refuse_snapshots(herald: Herald) -> None:
    refuse_inserts(herald, snapshot_table(herald))


def refuse_inserts(herald: Herald, table: str) -> None:
    """A trigger that fails every insert into `table`, as a full disk would."""
    if herald.settings.is_postgres:
        statements = [
            "CREATE OR REPLACE FUNCTION refuse() RETURNS trigger AS $$ "
            "BEGIN RAISE EXCEPTION 'no room for rows'; END $$ LANGUAGE plpgsql",
            f"CREATE TRIGGER refuse BEFORE INSERT ON {table} "
            "FOR EACH ROW EXECUTE FUNCTION refuse()",
        ]
    else:
        statements = [
            f"CREATE TRIGGER refuse BEFORE INSERT ON {table} "
            "BEGIN SELECT RAISE(ABORT, 'no room for rows'); END"
        ]
    execute(herald, *statements)


def allow_inserts(herald: Herald, table: str) -> None:
    on = f" ON {table}" if herald.settings.is_postgres else ""
    execute(herald, f"DROP TRIGGER refuse{on}")


def execute(herald: Herald, *statements: str) -> None:
    with herald.store.db.transaction(commit=True) as c:
        for statement in statements:
            c.execute(statement)


# Redaction.


def key_rows(herald: Herald, mid: str) -> int:
    hex_id = mid.replace("-", "")
    [(count,)] = query(
        herald, "SELECT COUNT(*) FROM herald_content_keys WHERE message_id = ?", hex_id
    )
    return int(count)


def assert_erased(herald: Herald, p: Principal, mid: str, versions: int) -> None:
    store = herald.store
    loaded = store.load(p, mid)
    assert (loaded.content, loaded.redacted, loaded.version) == (None, True, versions)
    for version in range(1, versions + 1):
        assert store.load(p, mid, version=version).content is None
    events = every_event(store, p, mid)
    assert len(events) == versions
    with_content = [e for e in events if "content" in vars(e)]
    assert names(with_content[:2]) == ["Drafted", "Edited"], "the events that held content"
    assert [vars(e)["content"] for e in with_content] == [None] * len(with_content)
    view = herald.views.message(p.workspace, mid)
    assert view is not None
    assert (view.content, view.redacted, view.version) == (None, True, versions)
    assert key_rows(herald, mid) == 0


def test_redacting_erases_the_content_from_every_version_event_and_view(
    herald: Herald, principal: Principal
) -> None:
    store = herald.store
    mid = str(draft(store, principal, "card 4111 1111").id)
    store.edit(principal, mid, None, "eve", text="card 4111 1111 1111")
    store.send(principal, mid, None, "sam", None)
    store.record_status(principal, mid, "carrier", Status.SENT, None)
    assert key_rows(herald, mid) == 1
    assert text_of(store.load(principal, mid, version=1)) == "card 4111 1111"

    msg = store.redact(principal, mid, 4, "ray", "card number")
    assert (msg.content, msg.redacted, msg.version) == (None, True, 5)
    assert_erased(herald, principal, mid, 5)
    last = every_event(store, principal, mid)[-1]
    assert type(last).__name__ == "Redacted"
    # Its reason was sealed with the key it destroyed: erased with the rest.
    assert (vars(last)["actor"], vars(last)["reason"]) == ("ray", None)


def test_redacting_a_message_with_snapshots_erases_every_version(snapshotting: Herald) -> None:
    store = snapshotting.store
    p = Principal(workspace=snapshotting.workspaces.ensure("acme"), key_name="acme-bot")
    mid = str(draft(store, p, "secret 1").id)
    for i in range(2, 12):
        store.edit(p, mid, None, "eve", text=f"secret {i}")
    store.send(p, mid, None, "sam", None)
    store.record_status(p, mid, "carrier", Status.DELIVERED, None)
    store.redact(p, mid, 13, "ray", "pii")
    assert_erased(snapshotting, p, mid, 14)
    # Another message keeps its content: only the redacted message's key is destroyed.
    other = str(draft(store, p, "still here").id)
    assert text_of(store.load(p, other)) == "still here"


def test_a_redacted_message_cannot_be_redacted_again(
    store: MessageStore, principal: Principal
) -> None:
    mid = sent(store, principal)
    store.redact(principal, mid, None, "ray", "pii")
    with pytest.raises(Conflict) as refused:
        store.redact(principal, mid, None, "ray", "pii")
    assert (refused.value.current_version, refused.value.current_status) == (4, "SENT")


# Read-your-writes: the views hold each command's events by the time it returns.


def test_the_views_see_every_write_as_soon_as_the_command_returns(
    herald: Herald, principal: Principal
) -> None:
    store = herald.store
    ws = principal.workspace
    first = draft(store, principal, "one", requires_approval=True)
    mid = str(first.id)
    steps: list[Callable[[], Message]] = [
        lambda: first,
        lambda: store.edit(principal, mid, None, "eve", text="two"),
        lambda: store.update(principal, mid, None, "eve", False, changes(text_body("three"))),
        lambda: store.approve(principal, mid, None, "ann", None),
        lambda: store.record_status(principal, mid, "carrier", Status.PROCESSING, None),
        lambda: store.edit(principal, mid, None, "eve", text="four"),
        lambda: store.record_status(principal, mid, "carrier", Status.SENT, None),
        lambda: store.redact(principal, mid, None, "ray", "pii"),
    ]
    for step in steps:
        msg = step()
        view = herald.views.message(ws, mid)
        assert view is not None
        assert (view.version, view.status, view.content) == (msg.version, msg.status, msg.content)
        assert (view.edited, view.redacted) == (msg.edited, msg.redacted)
    assert herald.views.message(ws, mid) is not None
    assert herald.views.message("another-workspace", mid) is None
    rejected = draft(store, principal)
    store.reject(principal, str(rejected.id), None, "rob", "no")
    view = herald.views.message(ws, str(rejected.id))
    assert view is not None
    assert (view.version, view.status) == (2, "REJECTED")


# Rebuilding the views.


def view_rows(herald: Herald) -> list[list[tuple[Any, ...]]]:
    return [
        query(herald, "SELECT * FROM view_messages ORDER BY id"),
        query(herald, "SELECT * FROM view_events ORDER BY notification_id"),
        query(herald, "SELECT * FROM view_contacts ORDER BY message_id, contact"),
    ]


def view_indexes(herald: Herald) -> set[str]:
    if herald.settings.is_postgres:
        sql = "SELECT indexname FROM pg_indexes WHERE tablename LIKE ?"
    else:
        sql = "SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name LIKE ?"
    return {
        name for (name,) in query(herald, sql, "view_%") if not name.endswith(("_pkey", "_1", "_2"))
    }


def test_a_rebuild_replays_the_same_views_and_builds_their_indexes_again(
    herald: Herald, principal: Principal
) -> None:
    store = herald.store
    for i in range(6):
        mid = str(draft(store, principal, f"message {i}").id)
        store.edit(principal, mid, None, "eve", text=f"edited {i}")
        if i % 2:
            store.send(principal, mid, None, "sam", None)
    store.redact(principal, sent(store, principal, "to erase"), None, "ray", "pii")
    rows, indexes = view_rows(herald), view_indexes(herald)
    assert len(indexes) == 6
    herald.projection.rebuild()
    assert view_rows(herald) == rows
    assert view_indexes(herald) == indexes


def test_a_rebuild_that_fails_leaves_the_indexes_in_place_and_can_run_again(
    herald: Herald, principal: Principal
) -> None:
    store = herald.store
    mid = str(draft(store, principal, "one").id)
    store.edit(principal, mid, None, "eve", text="two")
    rows, indexes = view_rows(herald), view_indexes(herald)
    refuse_inserts(herald, "view_events")
    with pytest.raises(Exception, match="no room"):
        herald.projection.rebuild()
    assert view_indexes(herald) == indexes
    allow_inserts(herald, "view_events")
    herald.projection.rebuild()
    assert view_rows(herald) == rows


# Races on real threads.


def test_of_eight_racing_edits_expecting_one_version_exactly_one_wins(
    herald: Herald, principal: Principal
) -> None:
    store = herald.store
    mid = str(draft(store, principal).id)
    results = race(lambda i: store.edit(principal, mid, 1, f"editor-{i}", text=f"edit {i}"))
    won = [r for r in results if isinstance(r, Message)]
    lost = [r for r in results if not isinstance(r, Message)]
    assert len(won) == 1, results
    assert all(isinstance(r, Conflict) for r in lost), lost
    assert all(
        (r.current_version, r.current_status) == (2, "DRAFT")
        for r in lost
        if isinstance(r, Conflict)
    )
    loaded = store.load(principal, mid)
    assert loaded.version == 2
    assert loaded.content == won[0].content
    assert names(every_event(store, principal, mid)) == ["Drafted", "Edited"]
    view = herald.views.message(principal.workspace, mid)
    assert view is not None
    assert view.version == 2


def test_eight_racing_edits_without_an_expected_version_all_land(
    herald: Herald, principal: Principal
) -> None:
    store = herald.store
    mid = str(draft(store, principal).id)
    results = race(lambda i: store.edit(principal, mid, None, f"editor-{i}", text=f"edit {i}"))
    assert all(isinstance(r, Message) for r in results), results
    versions = sorted(r.version for r in results if isinstance(r, Message))
    assert versions == list(range(2, 2 + THREADS))
    loaded = store.load(principal, mid)
    assert loaded.version == 1 + THREADS
    events = every_event(store, principal, mid)
    assert names(events) == ["Drafted", *["Edited"] * THREADS]
    assert sorted(vars(e)["actor"] for e in events[1:]) == [f"editor-{i}" for i in range(THREADS)]
    view = herald.views.message(principal.workspace, mid)
    assert view is not None
    assert view.version == 1 + THREADS


def test_eight_racing_drafts_with_one_idempotency_key_make_one_message(
    herald: Herald, principal: Principal
) -> None:
    store = herald.store
    results = race(lambda i: draft(store, principal, f"attempt {i}", key="draft-race"))
    assert all(isinstance(r, Message) for r in results), results
    ids = {r.id for r in results if isinstance(r, Message)}
    assert len(ids) == 1
    [mid] = [str(i) for i in ids]
    assert names(every_event(store, principal, mid)) == ["Drafted"]
    assert store.load(principal, mid).version == 1
    assert herald.views.message(principal.workspace, mid) is not None


def test_eight_racing_approvals_with_one_idempotency_key_approve_once(
    herald: Herald, principal: Principal
) -> None:
    store = herald.store
    mid = str(draft(store, principal, requires_approval=True).id)
    results = race(lambda i: store.approve(principal, mid, None, f"approver-{i}", "approve-race"))
    assert all(isinstance(r, Message) for r in results), results
    assert {r.version for r in results if isinstance(r, Message)} == {3}
    assert names(every_event(store, principal, mid)) == ["Drafted", "Approved", "Sent"]
    assert store.load(principal, mid).status == "ACCEPTED"


def new_draft(p: Principal, text: str, key: str | None) -> Message:
    """A draft as `store.draft` makes it, not yet saved."""
    return Message(
        workspace=p.workspace,
        idempotency_key=key,
        conversation_id="conv-1",
        channel="CHAT",
        content=text_body(text),
        recipients=list(RECIPIENTS),
        sender=None,
        reply_to=None,
        reference=None,
        requires_approval=False,
        actor="bot",
    )


def test_a_failed_group_of_drafts_is_saved_draft_by_draft_each_with_its_own_key(
    herald: Herald, principal: Principal
) -> None:
    """Two retries of one draft in one group make the group fail; GroupCommit then tries each
    alone. Each must still have its events, and the loser must not replace the winner's content
    key (once, the loser's key overwrote it and the message could no longer be read)."""
    store = herald.store
    winner = new_draft(principal, "the winner", "same-key")
    loser = new_draft(principal, "the loser", "same-key")
    lone = new_draft(principal, "another message", None)
    assert winner.id == loser.id
    drafts = [(m.collect_events(), new_key()) for m in (winner, loser, lone)]
    saved: list[Sequence[Event]] = []

    def commit(group: Sequence[tuple[Sequence[Event], bytes]]) -> None:
        store._save_drafts(group)
        saved.extend(events for events, _ in group)

    with pytest.raises(RecordConflictError):
        commit(drafts)  # what GroupCommit tries first, with all three
    for item in drafts:  # then, as GroupCommit does after a conflict, each alone
        try:
            commit([item])
        except RecordConflictError:
            assert item is drafts[1]
    assert len(saved) == 2
    assert store.load(principal, str(winner.id)).content == text_body("the winner")
    assert store.load(principal, str(lone.id)).content == text_body("another message")
    assert names(every_event(store, principal, str(winner.id))) == ["Drafted"]
