"""Bad input of every kind, end to end over real HTTP: the right error code, nothing recorded, and
never a Python traceback in the answer."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from tests.conftest import DRAFT, MESSAGE_FIELDS, Api, LiveServer, draft
from tests.figures import record

MESSAGE = f"query($id: ID!) {{ message(id: $id) {{ {MESSAGE_FIELDS} }} }}"
SNAPSHOT = """
query {
  events(first: 500) { edges { cursor node { messageId version type } } }
  messages(first: 100) { edges { cursor node { id version } } }
}
"""


def mutation(name: str, input_type: str) -> str:
    return f"mutation($input: {input_type}!) {{ {name}(input: $input) {{ id version status }} }}"


EDIT = mutation("editMessage", "EditMessageInput")
SEND = mutation("sendMessage", "SendMessageInput")
APPROVE = mutation("approveMessage", "ApproveMessageInput")
REJECT = mutation("rejectMessage", "RejectMessageInput")
REDACT = mutation("redactMessage", "RedactMessageInput")
UPDATE = mutation("updateMessage", "UpdateMessageInput")
STATUS = mutation("recordDeliveryStatus", "RecordDeliveryStatusInput")

PHONE = {"identifierKey": "phonenumber", "identifierValue": "+15550100"}


# Helpers.


def clean(response: httpx.Response) -> httpx.Response:
    """The response, once checked to give away no Python internals."""
    assert "Traceback" not in response.text, response.text
    assert 'File "' not in response.text, response.text
    return response


def post_raw(
    api: Api,
    payload: object,
    headers: dict[str, str] | None = None,
    auth: bool = True,
) -> httpx.Response:
    given = {**(api.headers() if auth else {}), **(headers or {})}
    return clean(api.http.post(api.url, json=payload, headers=given))


def refuse(
    api: Api,
    query: str,
    variables: dict[str, Any] | None = None,
    headers: dict[str, str] | None = None,
    auth: bool = True,
) -> dict[str, Any]:
    """The extensions of the one error a request must be answered with."""
    response = post_raw(api, {"query": query, "variables": variables or {}}, headers, auth)
    assert response.status_code == 200, response.text
    body = response.json()
    assert body.get("errors"), body
    assert len(body["errors"]) == 1, body["errors"]
    error = body["errors"][0]
    assert isinstance(error.get("extensions"), dict), error
    extensions: dict[str, Any] = error["extensions"]
    return extensions


def snapshot(api: Api) -> dict[str, Any]:
    """The workspace's events and messages pages: what a refused request must leave alone."""
    return api.ok(SNAPSHOT)


@pytest.fixture
def unchanged(api: Api) -> Iterator[None]:
    """Asserts, after the test, that nothing was recorded in the workspace during it."""
    before = snapshot(api)
    yield
    assert snapshot(api) == before


def invalid(
    api: Api, query: str, variables: dict[str, Any], path: str | None = None
) -> dict[str, Any]:
    """Refuse a request as VALIDATION_FAILED, with details at `path` when given."""
    extensions = refuse(api, query, variables)
    assert extensions["code"] == "VALIDATION_FAILED", (variables, extensions)
    details = extensions["details"]
    assert isinstance(details, dict)
    assert details, extensions
    assert all(
        isinstance(m, list) and m and all(isinstance(x, str) for x in m) for m in details.values()
    )
    if path is not None:
        assert path in details, (path, details)
    return extensions


def draft_input(**fields: Any) -> dict[str, Any]:
    return {"input": {"conversationId": "conv-1", **fields}}


def read(api: Api, mid: str) -> dict[str, Any]:
    message: dict[str, Any] = api.ok(MESSAGE, {"id": mid})["message"]
    assert message is not None
    return message


# Content.


@pytest.mark.usefixtures("unchanged")
def test_a_draft_with_both_text_and_body_is_refused(api: Api) -> None:
    body = {"type": "text", "text": {"text": "hi"}}
    invalid(api, DRAFT, draft_input(text="hi", body=body), "input")


@pytest.mark.usefixtures("unchanged")
def test_a_draft_with_neither_text_nor_body_is_refused(api: Api) -> None:
    invalid(api, DRAFT, draft_input(), "input")
    invalid(api, DRAFT, draft_input(text=None, body=None), "input")


@pytest.mark.usefixtures("unchanged")
def test_a_draft_with_empty_text_is_refused(api: Api) -> None:
    for text in ("", "   ", "\n\t"):
        invalid(api, DRAFT, draft_input(text=text), "input.text")


BAD_BODIES: list[tuple[object, str]] = [
    ({"type": "text", "text": {"text": 5}}, "input.body.text.text"),
    ({"type": "text", "text": {}}, "input.body.text.text"),
    ({"type": "text"}, "input.body.text"),
    ({"type": "image", "image": {"images": [{}]}}, "input.body.image.images[0].mediaUrl"),
    ({"type": "image", "image": {"images": "cat.png"}}, "input.body.image.images"),
    ("just words", "input.body"),
    ([{"type": "text", "text": {"text": "hi"}}], "input.body"),
    (42, "input.body"),
]


@pytest.mark.usefixtures("unchanged")
def test_a_body_failing_the_bird_schema_is_refused_with_its_json_path(api: Api) -> None:
    for body, path in BAD_BODIES:
        invalid(api, DRAFT, draft_input(body=body), path)


@pytest.mark.usefixtures("unchanged")
def test_a_body_of_an_unknown_type_is_refused(api: Api) -> None:
    extensions = invalid(
        api, DRAFT, draft_input(body={"type": "hologram", "hologram": {"text": "hi"}})
    )
    assert "input.body.type" in extensions["details"]
    invalid(api, DRAFT, draft_input(body={"text": {"text": "hi"}}), "input.body.type")
    invalid(api, DRAFT, draft_input(body={"type": 7, "text": {"text": "hi"}}), "input.body.type")


def test_a_bad_body_or_text_in_an_edit_changes_nothing(api: Api) -> None:
    mid = draft(api, "Original")["id"]
    before = snapshot(api)
    invalid(
        api,
        EDIT,
        {"input": {"id": mid, "body": {"type": "text", "text": {"text": 5}}}},
        "input.body.text.text",
    )
    invalid(api, EDIT, {"input": {"id": mid, "text": "  "}}, "input.text")
    invalid(api, EDIT, {"input": {"id": mid}}, "input")
    body = {"type": "text", "text": {"text": "x"}}
    invalid(api, EDIT, {"input": {"id": mid, "text": "x", "body": body}}, "input")
    assert snapshot(api) == before
    message = read(api, mid)
    assert (message["version"], message["text"]) == (1, "Original")


# GraphQL's own checks.


WRONG_TYPES: list[tuple[str, dict[str, Any]]] = [
    (DRAFT, draft_input(text="hi", requiresApproval="yes")),
    (DRAFT, draft_input(text="hi", channel="FAX")),
    (DRAFT, draft_input(text="hi", channel=1)),
    (DRAFT, {"input": {"conversationId": {"nested": True}, "text": "hi"}}),
    (DRAFT, {"input": {"conversationId": None, "text": "hi"}}),
    (DRAFT, {"input": {"text": "hi"}}),
    (DRAFT, draft_input(text=["hi"])),
    (DRAFT, draft_input(text="hi", recipients="+15550100")),
    (DRAFT, draft_input(text="hi", recipients=[{**PHONE, "type": "BCCC"}])),
    (DRAFT, {"input": None}),
    (DRAFT, {}),
    (DRAFT, {"input": "conv-1"}),
]


@pytest.mark.usefixtures("unchanged")
def test_wrong_variable_types_are_validation_failed(api: Api) -> None:
    for query, variables in WRONG_TYPES:
        invalid(api, query, variables)


def test_wrong_variable_types_in_commands_change_nothing(api: Api) -> None:
    mid = draft(api, "Stay")["id"]
    before = snapshot(api)
    invalid(api, EDIT, {"input": {"id": mid, "text": "x", "expectedVersion": "one"}})
    invalid(api, EDIT, {"input": {"id": mid, "text": "x", "expectedVersion": 1.5}})
    invalid(api, SEND, {"input": {"id": mid, "expectedVersion": True}})
    invalid(api, STATUS, {"input": {"id": mid, "status": "LOST"}})
    invalid(api, REJECT, {"input": {"id": mid, "reason": {"why": "no"}}})
    invalid(api, UPDATE, {"input": {"conversationId": "conv-1", "id": mid, "draft": "false"}})
    assert snapshot(api) == before


@pytest.mark.usefixtures("unchanged")
def test_an_unknown_field_or_argument_is_validation_failed(api: Api) -> None:
    invalid(api, '{ message(id: "x") { id nope } }', {})
    invalid(api, "{ nothingHere }", {})
    invalid(api, '{ message(id: "x", colour: "red") { id } }', {})
    invalid(
        api,
        'mutation { draftMessage(input: {conversationId: "c", text: "hi", colour: "red"}) { id } }',
        {},
    )
    invalid(api, DRAFT, draft_input(text="hi", colour="red"))
    invalid(api, "mutation { draftMessage { id } }", {})
    invalid(api, 'mutation { draftMessage(input: {conversationId: "c", text: "hi"}) }', {})


# Versions and sizes.


COMMANDS: list[tuple[str, dict[str, Any]]] = [
    (EDIT, {"text": "x"}),
    (SEND, {}),
    (APPROVE, {}),
    (REJECT, {}),
    (REDACT, {}),
    (UPDATE, {"conversationId": "conv-1", "draft": False}),
]


def test_an_expected_version_of_zero_or_less_is_refused_by_every_command(api: Api) -> None:
    mid = draft(api, "Versioned")["id"]
    before = snapshot(api)
    for version in (0, -1, -(2**31)):
        for query, fields in COMMANDS:
            variables = {"input": {"id": mid, "expectedVersion": version, **fields}}
            invalid(api, query, variables, "input.expectedVersion")
    assert snapshot(api) == before
    assert read(api, mid)["version"] == 1


def test_a_stale_expected_version_is_a_conflict(api: Api) -> None:
    mid = draft(api, "Versioned")["id"]
    api.ok(EDIT, {"input": {"id": mid, "text": "Versioned again"}})
    before = snapshot(api)
    for query, fields in [(EDIT, {"text": "x"}), (SEND, {}), (REJECT, {})]:
        for version in (1, 3):
            extensions = refuse(
                api, query, {"input": {"id": mid, "expectedVersion": version, **fields}}
            )
            assert extensions == {"code": "CONFLICT", "currentVersion": 2, "currentStatus": "DRAFT"}
    assert snapshot(api) == before
    sent = api.ok(SEND, {"input": {"id": mid, "expectedVersion": 2}})["sendMessage"]
    assert (sent["version"], sent["status"]) == (3, "ACCEPTED")


@pytest.mark.usefixtures("unchanged")
def test_overlong_strings_in_a_draft_are_refused(api: Api) -> None:
    long = "x" * 257
    cases: list[tuple[dict[str, Any], str]] = [
        (draft_input(conversationId=long, text="hi"), "input.conversationId"),
        (draft_input(text="hi", reference=long), "input.reference"),
        (draft_input(text="hi", actor=long), "input.actor"),
        (draft_input(text="hi", idempotencyKey=long), "input.idempotencyKey"),
        (draft_input(text="x" * 65_537), "input.text"),
        (
            draft_input(text="hi", recipients=[{**PHONE, "identifierValue": long}]),
            "input.recipients[0].identifierValue",
        ),
        (
            draft_input(text="hi", recipients=[{**PHONE, "identifierKey": long}]),
            "input.recipients[0].identifierKey",
        ),
        (draft_input(text="hi", sender={"name": long}), "input.sender.name"),
        (
            draft_input(text="hi", sender={"name": "Ada", "email": long + "@x"}),
            "input.sender.email",
        ),
    ]
    for variables, path in cases:
        invalid(api, DRAFT, variables, path)


def test_strings_at_their_limits_are_accepted(api: Api) -> None:
    made = draft(
        api,
        "x" * 65_536,
        conversationId="c" * 256,
        reference="r" * 256,
        actor="a" * 256,
        recipients=[{"identifierKey": "k" * 256, "identifierValue": "v" * 256}],
    )
    message = read(api, made["id"])
    assert (len(message["text"]), message["conversationId"]) == (65_536, "c" * 256)
    rejected = api.ok(REJECT, {"input": {"id": made["id"], "reason": "r" * 2_000}})
    assert rejected["rejectMessage"]["status"] == "REJECTED"


def test_overlong_strings_in_commands_are_refused(api: Api) -> None:
    mid = draft(api, "Short")["id"]
    sent = draft(api, "Sent")["id"]
    api.ok(SEND, {"input": {"id": sent}})
    before = snapshot(api)
    cases: list[tuple[str, dict[str, Any], str]] = [
        (EDIT, {"id": mid, "text": "x" * 65_537}, "input.text"),
        (EDIT, {"id": mid, "text": "x", "actor": "a" * 257}, "input.actor"),
        (SEND, {"id": mid, "actor": "a" * 257}, "input.actor"),
        (SEND, {"id": mid, "idempotencyKey": "k" * 257}, "input.idempotencyKey"),
        (APPROVE, {"id": mid, "idempotencyKey": "k" * 257}, "input.idempotencyKey"),
        (REJECT, {"id": mid, "reason": "r" * 2_001}, "input.reason"),
        (REDACT, {"id": sent, "reason": "r" * 2_001}, "input.reason"),
        (STATUS, {"id": sent, "status": "SENDING_FAILED", "reason": "r" * 2_001}, "input.reason"),
        (STATUS, {"id": sent, "status": "SENT", "actor": "a" * 257}, "input.actor"),
        (
            UPDATE,
            {"conversationId": "conv-1", "id": mid, "replyToMessageId": "m" * 257},
            "input.replyToMessageId",
        ),
    ]
    for query, fields, path in cases:
        invalid(api, query, {"input": fields}, path)
    assert snapshot(api) == before


def test_too_many_recipients_are_refused(api: Api) -> None:
    recipients = [{**PHONE, "identifierValue": f"+1555{i:07d}"} for i in range(101)]
    mid = draft(api, "Many", recipients=recipients[:100])["id"]
    assert len(read(api, mid)["recipients"]) == 100
    before = snapshot(api)
    invalid(api, DRAFT, draft_input(text="hi", recipients=recipients), "input.recipients")
    update = {"conversationId": "conv-1", "id": mid, "recipients": recipients}
    invalid(api, UPDATE, {"input": update}, "input.recipients")
    assert snapshot(api) == before


@pytest.mark.usefixtures("unchanged")
def test_an_empty_recipient_identifier_is_refused(api: Api) -> None:
    for value in ("", "   "):
        invalid(
            api,
            DRAFT,
            draft_input(text="hi", recipients=[PHONE, {**PHONE, "identifierValue": value}]),
            "input.recipients[1].identifierValue",
        )
        invalid(
            api,
            DRAFT,
            draft_input(text="hi", recipients=[{**PHONE, "identifierKey": value}]),
            "input.recipients[0].identifierKey",
        )


@pytest.mark.usefixtures("unchanged")
def test_a_sender_without_a_name_is_refused(api: Api) -> None:
    invalid(api, DRAFT, draft_input(text="hi", sender={"email": "ada@example.com"}))
    invalid(api, DRAFT, draft_input(text="hi", sender={"name": None}))
    invalid(api, DRAFT, draft_input(text="hi", sender={"name": ""}), "input.sender.name")
    invalid(api, DRAFT, draft_input(text="hi", sender={"name": "  "}), "input.sender.name")
    invalid(
        api,
        DRAFT,
        draft_input(text="hi", sender={"name": "Ada", "email": "nope"}),
        "input.sender.email",
    )


# Authentication.


MESSAGES = "{ messages { edges { node { id } } } }"


@pytest.mark.usefixtures("unchanged")
def test_a_request_without_a_key_or_with_an_unknown_key_is_unauthenticated(api: Api) -> None:
    for headers in (
        {},
        {"Authorization": ""},
        {"Authorization": "Bearer"},
        {"Authorization": "Bearer hk_not-a-key"},
        {"Authorization": "AccessKey hk_not-a-key"},
        {"Authorization": f"Basic {api.key}"},
        {"Authorization": str(api.key)},
    ):
        for query, variables in ((MESSAGES, {}), (DRAFT, draft_input(text="hi"))):
            extensions = refuse(api, query, variables, headers, auth=False)
            assert extensions["code"] == "UNAUTHENTICATED", headers


def test_an_access_key_header_works_like_bearer(api: Api) -> None:
    access = {"Authorization": f"AccessKey {api.key}"}
    response = post_raw(
        api, {"query": DRAFT, "variables": draft_input(text="Via AccessKey")}, access, auth=False
    )
    assert response.status_code == 200
    body = response.json()
    assert "errors" not in body, body
    mid = body["data"]["draftMessage"]["id"]
    assert read(api, mid)["text"] == "Via AccessKey"
    listed = post_raw(api, {"query": MESSAGES}, access, auth=False).json()
    assert listed["data"]["messages"]["edges"] == [{"node": {"id": mid}}]


def test_naming_another_workspace_is_forbidden_and_naming_ones_own_works(
    api: Api, server: LiveServer
) -> None:
    server.key("globex")  # the workspace exists, with its own key
    mid = draft(api, "Ours")["id"]
    before = snapshot(api)
    for workspace in ("globex", "nowhere"):
        headers = {"x-workspace-id": workspace}
        extensions = refuse(api, MESSAGES, {}, headers)
        assert extensions["code"] == "FORBIDDEN", workspace
        extensions = refuse(api, SEND, {"input": {"id": mid}}, headers)
        assert extensions["code"] == "FORBIDDEN", workspace
    assert snapshot(api) == before
    own = {"x-workspace-id": "acme"}
    response = post_raw(api, {"query": SEND, "variables": {"input": {"id": mid}}}, own)
    body = response.json()
    assert "errors" not in body, body
    assert body["data"]["sendMessage"]["status"] == "ACCEPTED"


# Limits.


def errors_of(response: httpx.Response) -> list[dict[str, Any]]:
    assert response.status_code == 200, response.text
    body = response.json()
    assert body.get("data") is None, body
    errors: list[dict[str, Any]] = body["errors"]
    assert errors
    return errors


@pytest.mark.usefixtures("unchanged")
def test_a_query_nested_deeper_than_twelve_levels_is_refused(backend: str, api: Api) -> None:
    # The schema has no cycle deep enough, so the innermost levels cannot be valid fields; the
    # answer must still say the limit was hit.
    deep = "{ messages { edges { node { history { edges { node { ... on MessageDrafted { recipients"
    deep += " { a { b { c { d { e { f { g { h } } } } } } } } } } } } } } } }"
    errors = errors_of(post_raw(api, {"query": deep}))
    codes = [e.get("extensions", {}).get("code") for e in errors]
    assert "LIMIT_EXCEEDED" in codes, errors
    assert all(codes), errors
    record("limits", backend, depth_refused=codes.count("LIMIT_EXCEEDED"))
    shallow = "{ messages(first: 1) { edges { node { history(first: 1) { edges { node {"
    shallow += " ... on MessageDrafted { recipients { identifierKey } } } } } } } } }"
    assert "errors" not in api.post(shallow)


@pytest.mark.usefixtures("unchanged")
def test_more_than_thirty_aliases_are_refused(backend: str, api: Api) -> None:
    def aliased(n: int) -> str:
        return "{ " + " ".join(f"a{i}: __typename" for i in range(n)) + " }"

    assert api.ok(aliased(30))["a29"] == "Query"
    assert refuse(api, aliased(31))["code"] == "LIMIT_EXCEEDED"
    extensions = refuse(
        api, "{ " + " ".join(f"m{i}: messages {{ edges {{ cursor }} }}" for i in range(31)) + " }"
    )
    assert extensions["code"] == "LIMIT_EXCEEDED"
    record("limits", backend, aliases_refused=2)


@pytest.mark.usefixtures("unchanged")
def test_more_than_four_thousand_tokens_are_refused(backend: str, api: Api) -> None:
    fields = " ".join(["id"] * 4_100)
    query = f'{{ message(id: "x") {{ {fields} }} }}'
    assert refuse(api, query)["code"] == "LIMIT_EXCEEDED"
    record("limits", backend, tokens_refused=1)


@pytest.mark.usefixtures("unchanged")
def test_a_query_with_a_syntax_error_is_validation_failed(api: Api) -> None:
    for query in ("{ message(", "mutation {", "}{", "query q($x: ) { __typename }"):
        extensions = refuse(api, query)
        assert extensions["code"] == "VALIDATION_FAILED", query


@pytest.mark.usefixtures("unchanged")
@pytest.mark.parametrize(
    "query",
    [
        "{}",
        'query { message(id: "m") {} }',
        "{ ... on Query {} }",
        "fragment F on Query {} { ...F }",
        "mutation {}",
        "{ ...Unknown }",
    ],
)
def test_a_document_the_limiters_cannot_walk_is_validation_failed(api: Api, query: str) -> None:
    """Empty selection sets and unknown fragments once crashed the depth limiter (found by the
    fuzzer): they are bad input, not an unexpected error."""
    extensions = refuse(api, query)
    assert extensions["code"] == "VALIDATION_FAILED", query
    assert extensions["details"]["query"], extensions


# HTTP.


@pytest.mark.usefixtures("unchanged")
def test_a_body_over_one_mebibyte_is_refused_with_413(backend: str, api: Api) -> None:
    payload = {
        "query": DRAFT,
        "variables": {**draft_input(text="Would be recorded"), "padding": "x" * (1024 * 1024)},
    }
    response = post_raw(api, payload)
    assert response.status_code == 413
    assert response.json()["errors"][0]["extensions"]["code"] == "LIMIT_EXCEEDED"

    data = json.dumps(payload).encode()

    def chunks() -> Iterator[bytes]:  # no Content-Length: the server must count as it reads
        for start in range(0, len(data), 64 * 1024):
            yield data[start : start + 64 * 1024]

    streamed = clean(
        api.http.post(
            api.url, content=chunks(), headers={**api.headers(), "content-type": "application/json"}
        )
    )
    assert streamed.status_code == 413
    record("limits", backend, oversized_bodies_refused=2)


def test_a_body_just_under_the_limit_is_served(api: Api) -> None:
    payload = {
        "query": DRAFT,
        "variables": {**draft_input(text="Fits"), "padding": "x" * 1_000_000},
    }
    response = post_raw(api, payload)
    assert response.status_code == 200, response.text
    assert response.json()["data"]["draftMessage"]["text"] == "Fits"


@pytest.mark.usefixtures("unchanged")
def test_malformed_json_is_refused_with_400(api: Api) -> None:
    for content in (b"{bad", b'{"query": ', b"\xff\xfe", b""):
        response = clean(
            api.http.post(
                api.url,
                content=content,
                headers={**api.headers(), "content-type": "application/json"},
            )
        )
        assert response.status_code == 400, (content, response.text)


@pytest.mark.usefixtures("unchanged")
def test_odd_requests_get_a_client_error_and_no_traceback(api: Api) -> None:
    payloads: list[object] = [
        [1, 2],
        "query",
        42,
        None,
        {},
        {"query": 5},
        {"query": None},
        {"query": "{ __typename }", "variables": "x"},
        {"query": "{ __typename }", "variables": [1]},
        {"query": "{ __typename }", "operationName": 7},
        {"query": "query A { __typename }", "operationName": "B"},
    ]
    for payload in payloads:
        # A fresh connection each: a server that fails one request may drop its connection.
        response = clean(httpx.post(api.url, json=payload, headers=api.headers()))
        assert response.status_code in (200, 400, 415), (payload, response.status_code)
        if response.status_code == 200:
            assert response.json().get("errors"), (payload, response.text)
    text = clean(
        api.http.post(
            api.url,
            content=b"{ __typename }",
            headers={**api.headers(), "content-type": "text/plain"},
        )
    )
    assert text.status_code in (400, 415), text.text


def test_get_with_accept_html_serves_graphiql(server: LiveServer) -> None:
    response = clean(httpx.get(f"{server.base_url}/graphql", headers={"Accept": "text/html"}))
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/html")
    assert "graphiql" in response.text.lower()


def test_a_query_over_get_works(api: Api) -> None:
    mid = draft(api, "Read me over GET")["id"]
    query = "query($id: ID!) { message(id: $id) { id text } }"
    response = clean(
        api.http.get(
            api.url,
            params={"query": query, "variables": json.dumps({"id": mid})},
            headers=api.headers(),
        )
    )
    assert response.status_code == 200, response.text
    assert response.json()["data"] == {"message": {"id": mid, "text": "Read me over GET"}}


def test_a_mutation_over_get_records_nothing(api: Api) -> None:
    before = snapshot(api)
    query = 'mutation { draftMessage(input: {conversationId: "c", text: "hi"}) { id } }'
    response = clean(api.http.get(api.url, params={"query": query}, headers=api.headers()))
    assert 400 <= response.status_code < 500, response.text
    assert snapshot(api) == before
