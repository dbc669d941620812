"""Every field Herald stores is either sealed (app/personal.py) or on the README's list of fields
kept in clear: a field added later to an event or a message cannot slip through unsealed."""

from __future__ import annotations

import dataclasses
import re
from pathlib import Path

from eventsourcing.domain import Aggregate

from app.body_text import text_body
from app.domain import Message
from app.lifecycle import Status
from app.personal import ADDRESS, RECIPIENTS, WHOLE

README = Path(__file__).parents[1] / "README.md"
SEALED = WHOLE | {RECIPIENTS}


def clear_fields() -> set[str]:
    text = README.read_text()
    section = re.search(r"<!-- clear-fields -->(.*?)<!-- /clear-fields -->", text, re.S)
    assert section is not None, "the README lists the fields kept in clear"
    return set(re.findall(r"`([A-Za-z_]+)`", section.group(1)))


def event_classes() -> list[type[Aggregate.Event]]:
    found = [
        v
        for v in vars(Message).values()
        if isinstance(v, type) and issubclass(v, Aggregate.Event) and v is not Message.Event
    ]
    assert len(found) >= 8  # Drafted ... Redacted, and the library's Created
    return found


def test_the_readme_keeps_nothing_personal_in_clear() -> None:
    assert clear_fields().isdisjoint(SEALED | {ADDRESS})


def test_every_field_of_every_event_is_sealed_or_listed_as_clear() -> None:
    clear = clear_fields()
    unlisted = {
        f"{cls.__name__}.{f.name}"
        for cls in event_classes()
        for f in dataclasses.fields(cls)
        if f.name not in SEALED | clear
    }
    assert unlisted == set()


def test_every_attribute_of_a_message_is_sealed_or_listed_as_clear() -> None:
    msg = Message(
        workspace="acme",
        conversation_id="c",
        channel="CHAT",
        content=text_body("hi"),
        recipients=[{"identifierKey": "phonenumber", "identifierValue": "+1555", "type": "TO"}],
        sender={"name": "Shop", "email": None},
        reply_to=None,
        reference="r",
        requires_approval=True,
        actor="bot",
    )
    msg.approve("ann", "k")
    msg.record_status("carrier", Status.SENDING_FAILED, "why")
    msg.redact("ray", "pii")
    # A message is stored as a snapshot of its state, in the snapshots and in the views.
    stored = Message.Snapshot.take(msg).state
    assert set(stored) - SEALED - clear_fields() == set()


def test_a_recipient_keeps_only_its_kind_and_type_in_clear() -> None:
    clear = clear_fields()
    assert {"identifierKey", "type"} <= clear
    assert ADDRESS not in clear
