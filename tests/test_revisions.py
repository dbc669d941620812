"""Message.revisions and Message.approval through the schema itself (schema.execute), on each
backend, and `herald history --diff`, which prints the same diffs."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import pytest
from starlette.requests import Request

from app.api.context import Context
from app.api.schema import build_schema
from app.diffs import change_of, diff
from app.runtime import Herald
from app.settings import Settings
from tests.test_cli import herald_cli

DRAFTED = "Hi Sam, your order shipped."
FIRST_EDIT = "Hi Sam, your order has shipped."
SECOND_EDIT = "Hi Sam, your order has shipped today!"

REVISIONS = """
query($id: ID!, $first: Int, $after: String) {
  message(id: $id) {
    revisions(first: $first, after: $after) {
      edges { cursor node { version type actor occurredAt afterSend text body
                            diff { op text } change { wordsAdded wordsRemoved } } }
      pageInfo { hasNextPage hasPreviousPage startCursor endCursor }
    }
    approval { approvedBy approvedAt version edits asDrafted change { wordsAdded wordsRemoved } }
    history { edges { node { type } } }
  }
}
"""
DRAFT = "mutation($i: DraftMessageInput!) { draftMessage(input: $i) { id } }"
EDIT = "mutation($i: EditMessageInput!) { editMessage(input: $i) { version } }"
UPDATE = "mutation($i: UpdateMessageInput!) { updateMessage(input: $i) { version } }"
APPROVE = "mutation($i: ApproveMessageInput!) { approveMessage(input: $i) { version } }"
REPORT = "mutation($i: RecordDeliveryStatusInput!) { recordDeliveryStatus(input: $i) { version } }"
REDACT = "mutation($i: RedactMessageInput!) { redactMessage(input: $i) { version } }"


class Caller:
    """Runs operations through the served schema, as a request with this API key would."""

    def __init__(self, herald: Herald) -> None:
        self.herald = herald
        key = herald.workspaces.create_key("acme", "acme-bot")
        self.scope = {
            "type": "http",
            "method": "POST",
            "path": "/graphql",
            "query_string": b"",
            "headers": [(b"authorization", f"Bearer {key}".encode())],
        }

    async def run(self, document: str, **variables: Any) -> dict[str, Any]:
        context = Context(herald=self.herald, request=Request(self.scope))
        result = await build_schema().execute(
            document, variable_values=variables, context_value=context
        )
        assert result.errors is None, result.errors
        assert result.data is not None
        return result.data

    async def refused(self, document: str, **variables: Any) -> str:
        context = Context(herald=self.herald, request=Request(self.scope))
        result = await build_schema().execute(
            document, variable_values=variables, context_value=context
        )
        assert result.errors is not None
        assert len(result.errors) == 1, result.errors
        code: str = (result.errors[0].extensions or {})["code"]
        return code

    async def draft(self, text: str, **fields: Any) -> str:
        given = {"conversationId": "support-42", "text": text, "actor": "writer-bot", **fields}
        made = await self.run(DRAFT, i=given)
        message_id: str = made["draftMessage"]["id"]
        return message_id

    async def revisions(self, message_id: str, **page: Any) -> dict[str, Any]:
        message: dict[str, Any] = (await self.run(REVISIONS, id=message_id, **page))["message"]
        return message


@pytest.fixture
def caller(herald: Herald) -> Caller:
    return Caller(herald)


def segments(old: str, new: str) -> list[dict[str, str]]:
    """The rule's diff, as the API answers it."""
    return [{"op": s.op.value, "text": s.text} for s in diff(old, new)]


async def reviewed(caller: Caller) -> str:
    """A bot's draft, edited twice by a person, approved by another, then delivered."""
    message_id = await caller.draft(DRAFTED, requiresApproval=True)
    await caller.run(EDIT, i={"id": message_id, "text": FIRST_EDIT, "actor": "ada"})
    await caller.run(EDIT, i={"id": message_id, "text": SECOND_EDIT, "actor": "ada"})
    await caller.run(APPROVE, i={"id": message_id, "actor": "grace"})
    for status in ("PROCESSING", "SENT", "DELIVERED"):
        await caller.run(REPORT, i={"id": message_id, "status": status, "actor": "sms-gateway"})
    return message_id


async def test_each_edit_of_a_draft_is_a_revision_with_its_word_diff_from_the_one_before(
    caller: Caller,
) -> None:
    message = await caller.revisions(await reviewed(caller))
    nodes = [edge["node"] for edge in message["revisions"]["edges"]]
    assert [(n["version"], n["type"], n["actor"]) for n in nodes] == [
        (1, "Drafted", "writer-bot"),
        (2, "Edited", "ada"),
        (3, "Edited", "ada"),
    ]
    assert [n["text"] for n in nodes] == [DRAFTED, FIRST_EDIT, SECOND_EDIT]
    assert nodes[1]["body"] == {"type": "text", "text": {"text": FIRST_EDIT}}
    assert nodes[0]["diff"] is None  # the draft has nothing before it
    assert nodes[1]["diff"] == [
        {"op": "EQUAL", "text": "Hi Sam, your order "},
        {"op": "INSERT", "text": "has "},
        {"op": "EQUAL", "text": "shipped."},
    ]
    assert nodes[2]["diff"] == segments(FIRST_EDIT, SECOND_EDIT)
    assert nodes[2]["change"] == {"wordsAdded": 2, "wordsRemoved": 1}  # +"today" +"!" -"."
    assert [e["cursor"] for e in message["revisions"]["edges"]] == ["1", "2", "3"]
    assert message["revisions"]["pageInfo"]["hasNextPage"] is False


async def test_the_approval_says_after_how_many_edits_by_whom_and_how_much_changed(
    caller: Caller,
) -> None:
    message = await caller.revisions(await reviewed(caller))
    approval = message["approval"]
    whole = change_of(diff(DRAFTED, SECOND_EDIT))
    assert approval["approvedBy"] == "grace"
    assert approval["asDrafted"] is False
    assert approval["change"] == {"wordsAdded": whole.added, "wordsRemoved": whole.removed}
    types = [edge["node"]["type"] for edge in message["history"]["edges"]]
    assert types.index("Approved") + 1 == approval["version"] == 4
    assert approval["edits"] == types[: types.index("Approved")].count("Edited") == 2


async def test_a_draft_approved_unchanged_is_approved_as_drafted_and_a_draft_has_no_approval(
    caller: Caller,
) -> None:
    untouched = await caller.draft("Your code is 1234.", requiresApproval=True)
    assert (await caller.revisions(untouched))["approval"] is None
    await caller.run(APPROVE, i={"id": untouched, "actor": "grace"})
    approval = (await caller.revisions(untouched))["approval"]
    assert approval["asDrafted"] is True
    assert approval["edits"] == 0
    assert approval["version"] == 2
    assert approval["change"] == {"wordsAdded": 0, "wordsRemoved": 0}


async def test_the_approval_is_found_in_a_draft_edited_past_several_snapshots(
    caller: Caller,
) -> None:
    message_id = await caller.draft("take 0", requiresApproval=True)
    for take in range(1, 24):  # snapshots every 10 events: the approval lies past two of them
        await caller.run(EDIT, i={"id": message_id, "text": f"take {take}", "actor": "ada"})
    await caller.run(APPROVE, i={"id": message_id})
    approval = (await caller.revisions(message_id, first=0))["approval"]
    assert (approval["version"], approval["edits"]) == (25, 23)
    assert approval["change"] == {"wordsAdded": 1, "wordsRemoved": 1}


async def test_revisions_come_in_pages_by_version_each_diffed_from_the_revision_before_it(
    caller: Caller,
) -> None:
    message_id = await reviewed(caller)
    first = (await caller.revisions(message_id, first=1))["revisions"]
    assert [e["node"]["version"] for e in first["edges"]] == [1]
    assert first["pageInfo"]["hasNextPage"] is True
    after = first["pageInfo"]["endCursor"]
    second = (await caller.revisions(message_id, first=1, after=after))["revisions"]
    assert [e["node"]["version"] for e in second["edges"]] == [2]
    assert second["edges"][0]["node"]["diff"] == segments(DRAFTED, FIRST_EDIT)
    assert second["pageInfo"]["hasPreviousPage"] is True
    rest = (await caller.revisions(message_id, after="2"))["revisions"]
    assert [e["node"]["version"] for e in rest["edges"]] == [3]
    assert rest["pageInfo"]["hasNextPage"] is False
    query = "query($id: ID!, $f: Int, $a: String) { message(id: $id) { revisions(first: $f, after: $a) { edges { cursor } } } }"  # noqa: E501
    assert await caller.refused(query, id=message_id, f=101) == "VALIDATION_FAILED"
    assert await caller.refused(query, id=message_id, f=-1) == "VALIDATION_FAILED"
    assert await caller.refused(query, id=message_id, a="v2") == "VALIDATION_FAILED"


async def test_an_edit_that_leaves_the_text_alone_is_a_revision_that_changes_nothing(
    caller: Caller,
) -> None:
    message_id = await caller.draft("Meeting at noon.")
    recipients = [{"identifierKey": "emailaddress", "identifierValue": "sam@example.com"}]
    await caller.run(
        UPDATE, i={"id": message_id, "conversationId": "support-42", "recipients": recipients}
    )
    nodes = [e["node"] for e in (await caller.revisions(message_id))["revisions"]["edges"]]
    assert [n["version"] for n in nodes] == [1, 2]
    assert nodes[1]["text"] == "Meeting at noon."
    assert nodes[1]["diff"] == [{"op": "EQUAL", "text": "Meeting at noon."}]
    assert nodes[1]["change"] == {"wordsAdded": 0, "wordsRemoved": 0}


async def test_once_redacted_revisions_say_who_and_when_and_nothing_of_what(
    caller: Caller,
) -> None:
    message_id = await reviewed(caller)
    await caller.run(REDACT, i={"id": message_id, "actor": "dpo"})
    message = await caller.revisions(message_id)
    nodes = [edge["node"] for edge in message["revisions"]["edges"]]
    assert [(n["version"], n["actor"]) for n in nodes] == [
        (1, "writer-bot"),
        (2, "ada"),
        (3, "ada"),
    ]
    for node in nodes:
        assert (node["text"], node["body"], node["diff"], node["change"]) == (None,) * 4
    assert message["approval"]["edits"] == 2
    assert message["approval"]["change"] is None
    answer = json.dumps(message)
    for word in ("Sam", "order", "shipped", "today"):
        assert word not in answer
    page = (await caller.revisions(message_id, first=1, after="1"))["revisions"]
    assert page["edges"][0]["node"]["diff"] is None


def test_history_diff_prints_the_same_word_diffs_as_the_api(sqlite_settings: Settings) -> None:
    herald = Herald(sqlite_settings)
    try:
        caller = Caller(herald)
        message_id = asyncio.run(reviewed(caller))
    finally:
        herald.close()
    shown = herald_cli(sqlite_settings.database_url, "history", message_id, "--diff")
    assert shown.returncode == 0, shown.stderr
    lines = shown.stdout.splitlines()
    edited = [i for i, line in enumerate(lines) if "Edited" in line]
    assert [lines[i + 1] for i in edited] == [
        "      Hi Sam, your order {+has +}shipped.",
        "      Hi Sam, your order has shipped[-.-]{+ today!+}",
    ]
    assert not any("[-" in line or "{+" in line for line in lines[: edited[0]])
    plain = herald_cli(sqlite_settings.database_url, "history", message_id)
    assert "{+" not in plain.stdout

    herald = Herald(sqlite_settings)
    try:
        asyncio.run(Caller(herald).run(REDACT, i={"id": message_id}))
    finally:
        herald.close()
    erased = herald_cli(sqlite_settings.database_url, "history", message_id, "--diff")
    assert erased.returncode == 0, erased.stderr
    assert "shipped" not in erased.stdout
    assert "{+" not in erased.stdout
