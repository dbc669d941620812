"""`herald projections verify`: replay every event and compare the result with the views."""

from __future__ import annotations

from typing import Any
from uuid import UUID

from app.domain import Message
from app.runtime import Herald


def verify(herald: Herald) -> list[str]:
    """The differences between the views and a replay of the events; empty when consistent.
    Both sides are compared with their personal values still sealed, so a message whose
    content can no longer be opened is checked like any other. Reads the whole store, so it is
    an operator's check, never a request's."""
    store, views = herald.store, herald.views
    replayed: dict[UUID, Message] = {}
    expected_events: list[tuple[int, str, str, int]] = []
    position = 0
    while batch := store.recorder.select_notifications(
        start=position, limit=1000, inclusive_of_start=False
    ):
        for notification in batch:
            event = store.mapper.to_domain_event(notification)
            msg = event.mutate(replayed.get(event.originator_id))  # type: ignore[attr-defined]
            replayed[event.originator_id] = msg
            expected_events.append((notification.id, msg.workspace, msg.id.hex, msg.version))
        position = batch[-1].id
    differences: list[str] = []
    tracked = herald.projection.position
    if tracked != position:
        differences.append(f"the views are at position {tracked}, the events at {position}")
    projection = herald.projection.consumer
    with views.db.transaction(commit=False) as c:
        c.execute(
            "SELECT notification_id, workspace, message_id, version FROM view_events "
            "ORDER BY notification_id"
        )
        actual_events = [(int(r[0]), str(r[1]), str(r[2]), int(r[3])) for r in c.fetchall()]
        c.execute("SELECT id FROM view_messages")
        in_view = {str(r[0]) for r in c.fetchall()}
        c.execute("SELECT workspace, contact, message_id FROM view_contacts")
        actual_contacts = {(str(r[0]), str(r[1]), str(r[2])) for r in c.fetchall()}
        expected_contacts = set()
        for msg in replayed.values():
            if msg.id.hex not in in_view:
                differences.append(f"message {msg.id} is missing from the messages view")
                continue
            row = views.current(c, msg.id)
            if _state(row) != _state(msg):
                differences.append(f"message {msg.id} differs: view {_state(row)} != {_state(msg)}")
            for contact in projection.contacts_of(c, msg):  # type: ignore[attr-defined]
                expected_contacts.add((msg.workspace, contact, msg.id.hex))
    if actual_events != expected_events:
        missing = set(expected_events) - set(actual_events)
        extra = set(actual_events) - set(expected_events)
        differences.append(f"events view: {len(missing)} missing, {len(extra)} unexpected rows")
    for extra_id in in_view - {m.id.hex for m in replayed.values()}:
        differences.append(f"message {extra_id} is in the view but has no events")
    if actual_contacts != expected_contacts:
        missing_contacts = len(expected_contacts - actual_contacts)
        extra_contacts = len(actual_contacts - expected_contacts)
        differences.append(
            f"contacts view: {missing_contacts} missing, {extra_contacts} unexpected rows"
        )
    return differences


def _state(msg: Message) -> dict[str, Any]:
    return {k: v for k, v in vars(msg).items() if k != "_pending_events"}
