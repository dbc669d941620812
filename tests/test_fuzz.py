"""Property-based fuzzing of the live GraphQL endpoint (hypothesis), on each backend.

What is thrown at a real server over real HTTP:

- raw requests: random JSON (objects, arrays, strings, numbers, NaN and Infinity, nested junk,
  huge or odd unicode with lone surrogates and control characters, deep nesting), random bytes,
  random envelopes around random GraphQL-ish text, with random content types, Accept,
  Authorization and x-workspace-id headers, over POST and GET;
- mutated operations of the contract: every command and query with generated variables (odd
  texts, Bird bodies, recipients, versions, page sizes, cursors, ids in several spellings),
  aimed at messages in every lifecycle state, at another workspace's message and at ids that
  name nothing; then mutated: values replaced by JSON of the wrong type, keys dropped, added or
  wrapped, and the document itself edited;
- generated Bird bodies alone, in otherwise valid writes (draft, edit, update);
- one odd string (lone surrogates, NUL, bidi controls, ...) in one string field of an otherwise
  valid request, field by field.

For every answer: the status is below 500, the body leaks no traceback, file path or exception
class name, a JSON body is strict JSON (no NaN or Infinity), every error carries a contract code
(an INTERNAL_SERVER_ERROR is a bug), a request answered with errors and no data recorded nothing
(the workspace's last event cursor is unchanged), another workspace is never changed, and the
server still answers a normal query, and still takes a write from another workspace.

The normal run keeps to a few hundred examples in all (about 30 seconds for the file on each
backend). A long run, with the same properties and this many examples for each test:

    HERALD_FUZZ_EXAMPLES=5000 .venv/bin/pytest -q tests/test_fuzz.py

The normal run is derandomized (the same examples every time); the long run draws new ones,
and hypothesis keeps its failing examples in .hypothesis/ and replays them first next time.
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import re
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode

import httpx
import pytest
from graphql import FieldNode, GraphQLError, OperationDefinitionNode, parse
from hypothesis import HealthCheck, given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st

from app.bodies import BODY_TYPES
from tests.conftest import DRAFT, Api, LiveServer, draft
from tests.figures import record

CODES = frozenset(
    {"UNAUTHENTICATED", "FORBIDDEN", "NOT_FOUND", "CONFLICT", "VALIDATION_FAILED", "LIMIT_EXCEEDED"}
)
_LONG_RUN = int(os.environ.get("HERALD_FUZZ_EXAMPLES", "0") or "0")


def fuzz_settings(examples: int) -> hypothesis_settings:
    return hypothesis_settings(
        max_examples=_LONG_RUN or examples,
        # The normal run is the same every time, so CI fails only on a change; the long run
        # explores new examples.
        derandomize=not _LONG_RUN,
        deadline=None,
        suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
        print_blob=True,
    )


# What an answer may never contain.

_LEAK_MARKERS = ("Traceback", 'File "')
# A Python exception class name (ValueError, UnicodeEncodeError, psycopg's DataError, ...);
# GraphQL's own wording ("Syntax Error: ...") has a space and does not match.
_EXCEPTION_NAME = re.compile(r"\b[A-Z][A-Za-z0-9]*(?:Error|Exception)\b")

EVENTS_AFTER = """
query($after: String) { events(first: 500, after: $after) { pageInfo { endCursor hasNextPage } } }
"""


def strict_json(text: str) -> Any:
    """Parse `text` as JSON as the RFC defines it: NaN and Infinity are not JSON."""

    def refuse(constant: str) -> Any:
        raise ValueError(f"{constant} is not JSON")

    return json.loads(text, parse_constant=refuse)


def settle(response: httpx.Response) -> None:
    """Wait, with one more request, for the server to finish with a request it failed: it logs
    the exception after answering 500, and in Python 3.11 formatting a traceback parses source
    with ast, whose state is shared between threads; racing pytest's own use of ast when it
    reports the failure, that turns the report into a SystemError."""
    with contextlib.suppress(httpx.TransportError):  # no server there: nothing to wait for
        httpx.get(response.request.url.copy_with(path="/healthz", query=None), timeout=30)


def check_answer(response: httpx.Response, sent: str) -> Any:
    """Check what every answer must satisfy; return its JSON body (None when it has none)."""
    text = response.text
    if response.status_code >= 500:
        settle(response)
    assert response.status_code < 500, (response.status_code, text[:2000])
    content_type = response.headers.get("content-type", "")
    if content_type.startswith("text/html"):
        assert response.status_code == 200, text[:2000]  # GraphiQL, nothing else
        return None
    for marker in _LEAK_MARKERS:
        assert marker not in text or marker in sent, f"the answer leaks {marker!r}: {text[:2000]}"
    leaked = {name for name in _EXCEPTION_NAME.findall(text) if name not in sent}
    assert not leaked, f"the answer names exception classes {leaked}: {text[:2000]}"
    if "json" not in content_type:
        return None
    try:
        body = strict_json(text)
    except ValueError as e:
        raise AssertionError(f"the answer is not valid JSON ({e}): {text[:2000]}") from None
    errors = body.get("errors") if isinstance(body, dict) else None
    if errors is not None:
        assert isinstance(errors, list), body
        assert errors, body
        for error in errors:
            extensions = error.get("extensions") or {}
            assert extensions.get("code") in CODES, f"an error without a contract code: {error}"
    return body


def tally(backend: str, response: httpx.Response) -> None:
    """Count a fuzzed request and how it was answered, before the answer is checked."""
    status = response.status_code
    record(
        "fuzzing",
        backend,
        requests=1,
        answered_2xx=int(status < 300),
        answered_4xx=int(400 <= status < 500),
        answered_5xx=int(status >= 500),
    )


def checked(backend: str, body: Any) -> None:
    """Count a fuzzed request whose answer passed every check."""
    record("fuzzing", backend, answers_checked=1, refusals_seen_unchanged=int(rejected(body)))


def rejected(body: Any) -> bool:
    """The request was answered with errors and no data, and no root field ran to completion:
    nothing may have been recorded. (An error deeper in a selection comes after its root
    field resolved, so a mutation's effect may stand; such answers are not refusals.)"""
    if not isinstance(body, dict) or not body.get("errors") or body.get("data") is not None:
        return False
    return all(len(error.get("path") or []) <= 1 for error in body["errors"])


def last_cursor(api: Api, known: str | None) -> str | None:
    """The workspace's last event cursor, paging on from `known`; also proves the server still
    answers a normal query."""
    cursor = known
    while True:
        page = api.ok(EVENTS_AFTER, {"after": cursor})["events"]["pageInfo"]
        if page["endCursor"] is not None:
            cursor = page["endCursor"]
        if not page["hasNextPage"]:
            return cursor


@dataclass
class Watch:
    """The last event cursors of the workspaces, kept for the whole test (all its examples), so
    that each look reads only what is new."""

    apis: dict[str, Api]
    cursors: dict[str, str | None] = field(default_factory=dict)

    def now(self, *names: str) -> dict[str, str | None]:
        for name in names:
            self.cursors[name] = last_cursor(self.apis[name], self.cursors.get(name))
        return {name: self.cursors[name] for name in names}


@pytest.fixture
def globex(server: LiveServer) -> Iterator[Api]:
    client = server.client("globex", "globex-bot")
    yield client
    client.close()


@pytest.fixture
def watch(api: Api, globex: Api) -> Watch:
    return Watch({"acme": api, "globex": globex})


@dataclass
class Health:
    """Whether the server still takes writes, from a workspace of its own, after each request;
    and which request broke it, if one did (the examples after it would only be victims)."""

    api: Api
    broken_by: str | None = None

    def look(self, sent: str) -> None:
        if self.broken_by is not None:
            return
        answer = self.api.post(DRAFT, {"input": {"conversationId": "health", "text": "fine"}})
        if "errors" in answer:
            self.broken_by = f"{sent[:2000]} (then a plain draft got {answer['errors']})"

    def assert_fine(self) -> None:
        assert self.broken_by is None, f"the server takes no more writes since: {self.broken_by}"


@pytest.fixture
def health(server: LiveServer) -> Iterator[Health]:
    client = server.client("initech", "initech-bot")
    yield Health(client)
    client.close()


# Strategies: values. Each is well-typed and mostly valid, with odd content (any code point, lone
# surrogates, NUL, bidi controls, lengths at and past the limits, NaN); wrong types and shapes
# come from the mutations applied afterwards, so that a good share of requests gets deep.

_ODD_CHARACTERS = st.one_of(
    st.sampled_from(["\ud800", "\udfff"]),  # lone surrogates: valid JSON escapes, not UTF-8
    st.sampled_from(["\x00", "\u200b", "\u202e", "\ufeff", "\U0001f600"]),
    st.sampled_from(list("{}[]()$@!:\"'\\,=|&.#\n\r\t ")),
    st.characters(codec=None, exclude_categories=[]),  # any code point at all
)
plain_text = st.text(min_size=1, max_size=40)
odd_text = st.lists(_ODD_CHARACTERS, min_size=1, max_size=40).map("".join)  # st.text() drops
# lone surrogates
long_text = st.builds(
    lambda c, n: c * n,
    st.sampled_from(["x", "\u00e9", "\U0001f600", "\x00", " ", "\ud800"]),
    st.sampled_from([255, 256, 257, 2_000, 2_001, 65_536, 65_537, 200_000]),
)
texts = st.one_of(plain_text, odd_text, plain_text, odd_text, long_text)  # long: 1 in 5
numbers = st.one_of(
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=True, allow_infinity=True),
)
json_leaves = st.one_of(st.none(), st.booleans(), numbers, texts)
json_values = st.recursive(
    json_leaves,
    lambda inner: st.one_of(
        st.lists(inner, max_size=4), st.dictionaries(st.one_of(plain_text, odd_text), inner)
    ),
    max_leaves=20,
)
json_objects = st.dictionaries(st.one_of(plain_text, odd_text), json_values, max_size=5)


def _body(kind: str, content: dict[str, Any]) -> dict[str, Any]:
    return {"type": kind, kind: content}


def _location(latitude: float, longitude: float, label: str, address: str) -> dict[str, Any]:
    place = {"label": label, "address": address}
    coordinates = {"latitude": latitude, "longitude": longitude}
    return _body("location", {"coordinates": coordinates, "location": place})


coordinates = st.one_of(
    st.sampled_from([math.nan, math.inf, -math.inf]), st.floats(), st.integers()
)
text_bodies = st.builds(lambda t: _body("text", {"text": t}), texts)
bird_bodies = st.one_of(
    text_bodies,
    st.builds(lambda h, t: _body("html", {"html": h, "text": t}), texts, texts),
    st.builds(_location, coordinates, coordinates, texts, texts),
    st.builds(_location, coordinates, coordinates, plain_text, plain_text),
    st.builds(lambda u, t: _body("image", {"images": [{"mediaUrl": u}], "text": t}), texts, texts),
    st.builds(
        lambda u, n: _body(
            "file", {"files": [{"mediaUrl": u, "contentType": "a/b", "filename": n}]}
        ),
        texts,
        texts,
    ),
    st.lists(text_bodies, max_size=3).map(lambda items: _body("section", {"items": items})),
    # Any type with random content: mostly refused, by the Bird schema.
    st.sampled_from(BODY_TYPES).flatmap(
        lambda kind: st.fixed_dictionaries({"type": st.just(kind), kind: json_objects})
    ),
)
versions = st.one_of(
    st.integers(min_value=-2, max_value=12), st.sampled_from([2**31 - 1, -(2**31)])
)
page_sizes = st.one_of(
    st.none(),
    st.integers(min_value=-3, max_value=600),
    st.sampled_from([0, 100, 101, 500, 501, 2**31 - 1, -(2**31)]),
)
cursors = st.one_of(
    st.none(),
    st.integers(min_value=0, max_value=10**25).map(str),
    st.sampled_from(["", "0", "-1", "1.5", " 1", "\uff11", "1e3", "00000000000000000001"]),
    odd_text,
)
STATUSES = [
    "DRAFT",
    "REJECTED",
    "ACCEPTED",
    "PROCESSING",
    "SENT",
    "DELIVERED",
    "SENDING_FAILED",
    "DELIVERY_FAILED",
]
statuses = st.sampled_from(STATUSES)
channels = st.sampled_from(["CHAT", "SMS", "EMAIL", "WHATSAPP"])
recipient = st.fixed_dictionaries(
    {"identifierKey": texts, "identifierValue": texts},
    optional={"type": st.sampled_from(["TO", "CC", "BCC"])},
)
recipients = st.one_of(
    st.lists(recipient, max_size=3), st.builds(lambda r, n: [r] * n, recipient, st.just(101))
)
senders = st.fixed_dictionaries({"name": texts}, optional={"email": st.one_of(st.emails(), texts)})

# A message id: the prepared target in some spelling, or one that names nothing.
TARGET = "\x00target\x00"
SPELLINGS: dict[str, Callable[[str], str]] = {
    "as given": lambda i: i,
    "upper case": str.upper,
    "braces": lambda i: "{" + i + "}",
    "urn": lambda i: f"urn:uuid:{i}",
    "hex": lambda i: i.replace("-", ""),
    "padded": lambda i: f" {i} ",
}
ids = st.one_of(
    st.just(TARGET),
    st.sampled_from(sorted(SPELLINGS)).map(lambda s: f"{TARGET}{s}"),
    st.uuids().map(str),
    texts,
)
CONVERSATION = "fuzz-conv"
conversations = st.one_of(st.just(CONVERSATION), texts)
actors = texts
keys = texts
content = st.one_of(
    st.fixed_dictionaries({"text": texts}), st.fixed_dictionaries({"body": bird_bodies})
)


def spelled(target: str, value: Any) -> Any:
    """`value` with every TARGET placeholder replaced by the target id in the drawn spelling."""
    if isinstance(value, str) and value.startswith(TARGET):
        spelling = value.removeprefix(TARGET) or "as given"
        return SPELLINGS[spelling](target)
    if isinstance(value, list):
        return [spelled(target, v) for v in value]
    if isinstance(value, dict):
        return {k: spelled(target, v) for k, v in value.items()}
    return value


# Strategies: operations of the contract.

MESSAGE_SELECTION = "{ id version status text body redacted }"


class Operation:
    """One operation of the contract and a strategy for its (valid-looking) variables."""

    def __init__(
        self, name: str, document: str, variables: st.SearchStrategy[dict[str, Any]]
    ) -> None:
        self.name = name
        self.document = document
        self.variables = variables

    def __repr__(self) -> str:
        return self.name


def _input(
    required: dict[str, Any], optional: dict[str, Any], *, with_content: bool = False
) -> st.SearchStrategy[Any]:
    fields = st.fixed_dictionaries(required, optional=optional)
    if with_content:  # exactly one of text and body, as the contract wants
        fields = st.builds(lambda f, c: {**f, **c}, fields, content)
    return st.fixed_dictionaries({"input": fields})


def _document(name: str, input_type: str) -> str:
    return f"mutation($input: {input_type}!) {{ {name}(input: $input) {MESSAGE_SELECTION} }}"


def _command(
    name: str, input_type: str, optional: dict[str, Any], *, with_content: bool = False
) -> Operation:
    return Operation(
        name,
        _document(name, input_type),
        _input({"id": ids}, optional, with_content=with_content),
    )


OPERATIONS = [
    Operation(
        "draftMessage",
        _document("draftMessage", "DraftMessageInput"),
        _input(
            {"conversationId": conversations},
            {
                "channel": channels,
                "recipients": recipients,
                "sender": senders,
                "replyToMessageId": ids,
                "reference": texts,
                "requiresApproval": st.booleans(),
                "idempotencyKey": keys,
                "actor": actors,
            },
            with_content=True,
        ),
    ),
    _command(
        "editMessage",
        "EditMessageInput",
        {"expectedVersion": versions, "actor": actors},
        with_content=True,
    ),
    Operation(
        "updateMessage",
        _document("updateMessage", "UpdateMessageInput"),
        _input(
            {"conversationId": conversations, "id": ids},
            {
                "draft": st.booleans(),
                "body": bird_bodies,
                "sender": senders,
                "status": statuses,
                "recipients": recipients,
                "addMissingParticipants": st.booleans(),
                "replyToMessageId": ids,
                "expectedVersion": versions,
                "actor": actors,
            },
        ),
    ),
    _command(
        "approveMessage",
        "ApproveMessageInput",
        {"expectedVersion": versions, "idempotencyKey": keys, "actor": actors},
    ),
    _command(
        "sendMessage",
        "SendMessageInput",
        {"expectedVersion": versions, "idempotencyKey": keys, "actor": actors},
    ),
    _command(
        "rejectMessage",
        "RejectMessageInput",
        {"reason": texts, "expectedVersion": versions, "actor": actors},
    ),
    _command(
        "redactMessage",
        "RedactMessageInput",
        {"reason": texts, "expectedVersion": versions, "actor": actors},
    ),
    Operation(
        "recordDeliveryStatus",
        "mutation($input: RecordDeliveryStatusInput!) "
        f"{{ recordDeliveryStatus(input: $input) {MESSAGE_SELECTION} }}",
        _input({"id": ids, "status": statuses}, {"reason": texts, "actor": actors}),
    ),
    Operation(
        "handleMessageAction",
        "mutation($c: ID!, $m: ID!, $meta: MessageActionMetadataInput!) {"
        " handleMessageAction(conversationId: $c, messageId: $m, metadata: $meta) {"
        " status message { _id message to sent status timestamp } } }",
        st.fixed_dictionaries(
            {
                "c": conversations,
                "m": ids,
                "meta": st.fixed_dictionaries(
                    {"action": st.sampled_from(["APPROVE", "EDIT", "REJECT"])},
                    optional={"editedMessage": texts},
                ),
            }
        ),
    ),
    Operation(
        "messages",
        "query($c: ID, $s: [MessageStatus!], $first: Int, $after: String) {"
        " messages(conversationId: $c, status: $s, first: $first, after: $after) {"
        " edges { cursor node { id text } } pageInfo { endCursor hasNextPage } } }",
        st.fixed_dictionaries(
            {},
            optional={
                "c": conversations,
                "s": st.lists(statuses, max_size=3),
                "first": page_sizes,
                "after": cursors,
            },
        ),
    ),
    Operation(
        "events",
        "query($c: ID, $first: Int, $after: String) {"
        " events(conversationId: $c, first: $first, after: $after) {"
        " edges { cursor node { messageId version type } } pageInfo { endCursor hasNextPage } } }",
        st.fixed_dictionaries(
            {}, optional={"c": conversations, "first": page_sizes, "after": cursors}
        ),
    ),
    Operation(
        "history",
        "query($id: ID!, $first: Int, $after: String) { message(id: $id) { id"
        " history(first: $first, after: $after) {"
        " edges { cursor node { version type } } pageInfo { endCursor hasNextPage } } } }",
        st.fixed_dictionaries({"id": ids}, optional={"first": page_sizes, "after": cursors}),
    ),
    Operation(
        "messageAt",
        "query($id: ID!, $v: Int!) { messageAt(id: $id, version: $v) { id version status text } }",
        st.fixed_dictionaries({"id": ids, "v": versions}),
    ),
]

# The message an operation is aimed at, prepared fresh for each example.
KINDS = (
    "draft",
    "needs approval",
    "sent sms",
    "sent chat",
    "failed email",
    "redacted",
    "rejected",
    "another workspace's",
    "missing",
)

SEND = "mutation($input: SendMessageInput!) { sendMessage(input: $input) { id } }"
REJECT = "mutation($input: RejectMessageInput!) { rejectMessage(input: $input) { id } }"
REDACT = "mutation($input: RedactMessageInput!) { redactMessage(input: $input) { id } }"
RECORD = (
    "mutation($input: RecordDeliveryStatusInput!) { recordDeliveryStatus(input: $input) { id } }"
)


def prepare(kind: str, api: Api, globex: Api) -> str:
    """A message in the state `kind` names; its id."""
    if kind == "missing":
        return str(uuid.uuid4())
    owner = globex if kind == "another workspace's" else api
    channel = {"sent sms": "SMS", "failed email": "EMAIL"}.get(kind, "CHAT")
    made = draft(
        owner,
        f"fuzz target ({kind})",
        conversationId=CONVERSATION,
        channel=channel,
        requiresApproval=kind == "needs approval",
        recipients=[{"identifierKey": "phonenumber", "identifierValue": "+15550100"}],
    )
    message_id = str(made["id"])
    if kind == "rejected":
        owner.ok(REJECT, {"input": {"id": message_id, "reason": "no"}})
    if kind in ("sent sms", "sent chat", "failed email", "redacted"):
        owner.ok(SEND, {"input": {"id": message_id}})
    if kind in ("sent chat", "redacted"):
        owner.ok(RECORD, {"input": {"id": message_id, "status": "SENT"}})
    if kind == "failed email":
        owner.ok(RECORD, {"input": {"id": message_id, "status": "SENDING_FAILED", "reason": "x"}})
    if kind == "redacted":
        owner.ok(REDACT, {"input": {"id": message_id}})
    return message_id


# Mutations of valid requests.

_CHANGES = ("replace", "drop", "add", "null", "wrap", "stringify")
variable_changes = st.one_of(
    st.just([]),
    st.just([]),  # two requests in three go in as generated
    st.lists(
        st.tuples(
            st.integers(min_value=0, max_value=1_000), st.sampled_from(_CHANGES), json_values
        ),
        min_size=1,
        max_size=3,
    ),
)
GRAPHQL_TOKENS = [
    "{",
    "}",
    "(",
    ")",
    "[",
    "]",
    ":",
    "$input",
    "$x: Int",
    "...",
    "... on Query",
    "query",
    "mutation",
    "subscription",
    "fragment F on Message { id }",
    "...F",
    "__typename",
    "__schema { types { name } }",
    "id",
    "text",
    "history { edges { node { type } } }",
    "@include(if: true)",
    "@skip(if: $x)",
    '"a string"',
    '"""block"""',
    "123",
    "1.5",
    "null",
    "true",
    "ENUM_VALUE",
    "draftMessage",
    "events",
    "a: message(id: $input)",
    "#",
    "\\u0000",
    "\ud800",
]
document_edits: st.SearchStrategy[list[tuple[int, str, str]]] = st.one_of(
    st.just([]),
    st.just([]),
    st.just([]),  # most documents go in as the contract has them
    st.lists(
        st.tuples(
            st.integers(min_value=0, max_value=10_000),
            st.sampled_from(["insert", "delete", "duplicate"]),
            st.one_of(st.sampled_from(GRAPHQL_TOKENS), odd_text),
        ),
        min_size=1,
        max_size=2,
    ),
)


def _paths(value: Any, path: tuple[str | int, ...] = ()) -> list[tuple[str | int, ...]]:
    found = [path]
    if isinstance(value, dict):
        for k, v in value.items():
            found += _paths(v, (*path, k))
    elif isinstance(value, list):
        for i, v in enumerate(value):
            found += _paths(v, (*path, i))
    return found


def change_variables(variables: dict[str, Any], index: int, how: str, junk: Any) -> Any:
    """Apply one change at the path `index` picks inside the variables. (The variables object
    itself stays an object: a request that is not one is the business of the raw requests.)"""
    paths = _paths(variables)[1:]
    if not paths:
        return variables
    path = paths[index % len(paths)]
    parent: Any = variables
    for step in path[:-1]:
        parent = parent[step]
    last = path[-1]
    current = parent[last]
    if how == "replace":
        parent[last] = junk
    elif how == "drop":
        del parent[last]
    elif how == "add" and isinstance(current, dict):
        current[f"unknown{index}"] = junk
    elif how == "null":
        parent[last] = None
    elif how == "wrap":
        parent[last] = [current]
    elif how == "stringify":
        parent[last] = json.dumps(current)
    return variables


def edit_document(document: str, position: int, how: str, token: str) -> str:
    at = position % (len(document) + 1)
    if how == "insert":
        return document[:at] + token + document[at:]
    if how == "delete":
        return document[:at] + document[at + 1 + len(token) % 7 :]
    return document[:at] + document[at : at + 1 + len(token) * 3] + document[at:]


def may_record(document: str) -> bool:
    """Whether the document could run more than one root field (then errors and no data may
    still follow a recorded effect of an earlier field, as GraphQL's null bubbling wants)."""
    try:
        parsed = parse(document)
    except (GraphQLError, RecursionError):
        return False
    for definition in parsed.definitions:
        if isinstance(definition, OperationDefinitionNode):
            selections = definition.selection_set.selections
            if len(selections) > 1 or not all(isinstance(s, FieldNode) for s in selections):
                return True
    return False


def encode(payload: Any, ascii_only: bool) -> bytes:
    """JSON as a sloppy client writes it: NaN and Infinity allowed, lone surrogates sent as
    \\ud800 escapes, or (not ASCII-only) as the raw bytes a broken UTF-8 encoder writes."""
    text = json.dumps(payload, ensure_ascii=ascii_only, allow_nan=True)
    return text.encode("utf-8", "surrogatepass")


def post(api: Api, content: bytes) -> httpx.Response:
    """POST on a connection of its own (Connection: close): a server that fails one request may
    drop its connection, and that must not be blamed on the next request."""
    headers = {**api.headers(), "content-type": "application/json", "connection": "close"}
    return api.http.post(api.url, content=content, headers=headers)


def exchange(
    api: Api,
    content: bytes,
    before: dict[str, str | None],
    may_have_recorded: bool,
    backend: str,
    watch: Watch,
    health: Health,
) -> None:
    """Post one fuzzed body (`before`: the workspaces' last cursors, read just ahead of it) and
    check the answer, what it left in the store, and that the server is still well."""
    sent = content.decode("utf-8", "surrogateescape")
    response = post(api, content)
    tally(backend, response)
    try:
        answer = check_answer(response, sent)
        check_untouched(watch, before, answer, may_have_recorded, sent)
        checked(backend, answer)
    finally:
        health.look(sent)
    health.assert_fine()


def check_untouched(
    watch: Watch, before: dict[str, str | None], body: Any, may_have_recorded: bool, sent: str
) -> None:
    """The watched workspaces other than acme did not change; acme did not either, when the
    request was refused."""
    after = watch.now(*before)
    for name in before.keys() - {"acme"}:
        assert after[name] == before[name], f"acme's request changed {name}: {sent[:2000]}"
    if not may_have_recorded and rejected(body):
        assert after["acme"] == before["acme"], f"a refused request recorded events: {body}"


@given(
    operation=st.sampled_from(OPERATIONS),
    kind=st.sampled_from(KINDS),
    data=st.data(),
    changes=variable_changes,
    edits=document_edits,
    ascii_only=st.integers(min_value=0, max_value=5).map(bool),  # mostly ASCII-only JSON
)
@fuzz_settings(examples=200)
def test_mutated_operations_of_the_contract_never_fail_the_server(
    backend: str,
    api: Api,
    globex: Api,
    watch: Watch,
    health: Health,
    operation: Operation,
    kind: str,
    data: st.DataObject,
    changes: list[tuple[int, str, Any]],
    edits: list[tuple[int, str, str]],
    ascii_only: bool,
) -> None:
    health.assert_fine()
    target = prepare(kind, api, globex)
    variables: Any = spelled(target, data.draw(operation.variables, label="variables"))
    for index, how, junk in changes:
        variables = change_variables(variables, index, how, junk)
    document = operation.document
    for position, how, token in edits:
        document = edit_document(document, position, how, token)
    content = encode({"query": document, "variables": variables}, ascii_only)
    # globex can only be touched through its own message, the one id of it acme is given.
    before = watch.now("acme", "globex") if kind == "another workspace's" else watch.now("acme")
    exchange(api, content, before, may_record(document), backend, watch, health)


BODY_WRITES: dict[str, tuple[str, Callable[[str, Any], dict[str, Any]]]] = {
    "draftMessage": (
        _document("draftMessage", "DraftMessageInput"),
        lambda target, body: {"input": {"conversationId": CONVERSATION, "body": body}},
    ),
    "editMessage": (
        _document("editMessage", "EditMessageInput"),
        lambda target, body: {"input": {"id": target, "body": body}},
    ),
    "updateMessage": (
        _document("updateMessage", "UpdateMessageInput"),
        lambda target, body: {
            "input": {"conversationId": CONVERSATION, "id": target, "body": body}
        },
    ),
}


@given(write=st.sampled_from(sorted(BODY_WRITES)), body=bird_bodies, ascii_only=st.booleans())
@fuzz_settings(examples=60)
def test_generated_bird_bodies_never_fail_the_server(
    backend: str,
    api: Api,
    globex: Api,
    watch: Watch,
    health: Health,
    write: str,
    body: Any,
    ascii_only: bool,
) -> None:
    """Bodies alone, in otherwise valid writes to a draft: the Bird schema's corners (NaN and
    infinite coordinates, sections, odd text) where they are stored and answered back."""
    document, variables = BODY_WRITES[write]
    health.assert_fine()
    target = prepare("draft", api, globex)
    content = encode({"query": document, "variables": variables(target, body)}, ascii_only)
    exchange(api, content, watch.now("acme"), False, backend, watch, health)


def _operation(name: str) -> str:
    return next(o.document for o in OPERATIONS if o.name == name)


# One string field each: (operation, the target it needs, variables for (target id, string)).
StringField = tuple[str, str, Callable[[str, str], dict[str, Any]]]
STRING_FIELDS: dict[str, StringField] = {
    "draftMessage.conversationId": (
        "draftMessage",
        "missing",
        lambda t, v: {"input": {"conversationId": v, "text": "hi"}},
    ),
    "draftMessage.text": (
        "draftMessage",
        "missing",
        lambda t, v: {"input": {"conversationId": CONVERSATION, "text": v}},
    ),
    "draftMessage.reference": (
        "draftMessage",
        "missing",
        lambda t, v: {"input": {"conversationId": CONVERSATION, "text": "hi", "reference": v}},
    ),
    "draftMessage.actor": (
        "draftMessage",
        "missing",
        lambda t, v: {"input": {"conversationId": CONVERSATION, "text": "hi", "actor": v}},
    ),
    "draftMessage.idempotencyKey": (
        "draftMessage",
        "missing",
        lambda t, v: {"input": {"conversationId": CONVERSATION, "text": "hi", "idempotencyKey": v}},
    ),
    "draftMessage.recipients": (
        "draftMessage",
        "missing",
        lambda t, v: {
            "input": {
                "conversationId": CONVERSATION,
                "text": "hi",
                "recipients": [{"identifierKey": v, "identifierValue": v}],
            }
        },
    ),
    "draftMessage.sender": (
        "draftMessage",
        "missing",
        lambda t, v: {
            "input": {
                "conversationId": CONVERSATION,
                "text": "hi",
                "sender": {"name": v, "email": f"{v}@example.com"},
            }
        },
    ),
    "editMessage.text": ("editMessage", "draft", lambda t, v: {"input": {"id": t, "text": v}}),
    "editMessage.actor": (
        "editMessage",
        "draft",
        lambda t, v: {"input": {"id": t, "text": "hi", "actor": v}},
    ),
    "sendMessage.actor": ("sendMessage", "draft", lambda t, v: {"input": {"id": t, "actor": v}}),
    "approveMessage.idempotencyKey": (
        "approveMessage",
        "needs approval",
        lambda t, v: {"input": {"id": t, "idempotencyKey": v}},
    ),
    "rejectMessage.reason": (
        "rejectMessage",
        "draft",
        lambda t, v: {"input": {"id": t, "reason": v}},
    ),
    "redactMessage.reason": (
        "redactMessage",
        "sent chat",
        lambda t, v: {"input": {"id": t, "reason": v}},
    ),
    "recordDeliveryStatus.reason": (
        "recordDeliveryStatus",
        "sent sms",
        lambda t, v: {"input": {"id": t, "status": "SENDING_FAILED", "reason": v}},
    ),
    "updateMessage.sender": (
        "updateMessage",
        "draft",
        lambda t, v: {"input": {"conversationId": CONVERSATION, "id": t, "sender": {"name": v}}},
    ),
    "handleMessageAction.editedMessage": (
        "handleMessageAction",
        "draft",
        lambda t, v: {"c": CONVERSATION, "m": t, "meta": {"action": "EDIT", "editedMessage": v}},
    ),
    "handleMessageAction.conversationId": (
        "handleMessageAction",
        "draft",
        lambda t, v: {"c": v, "m": t, "meta": {"action": "APPROVE"}},
    ),
    "messages.conversationId": ("messages", "missing", lambda t, v: {"c": v}),
    "messages.after": ("messages", "missing", lambda t, v: {"after": v}),
    "events.conversationId": ("events", "missing", lambda t, v: {"c": v}),
    "history.after": ("history", "draft", lambda t, v: {"id": t, "after": v}),
    "message.id": ("messageAt", "missing", lambda t, v: {"id": v, "v": 1}),
}
odd_strings = st.lists(_ODD_CHARACTERS, min_size=1, max_size=8).map("".join)


@given(
    field=st.sampled_from(sorted(STRING_FIELDS)),
    value=odd_strings,
    ascii_only=st.integers(min_value=0, max_value=5).map(bool),
)
@fuzz_settings(examples=60)
def test_odd_strings_in_any_field_never_fail_the_server(
    backend: str,
    api: Api,
    globex: Api,
    watch: Watch,
    health: Health,
    field: str,
    value: str,
    ascii_only: bool,
) -> None:
    """One odd string (lone surrogates, NUL, bidi controls, ...) in one field of an otherwise
    valid request."""
    operation, kind, variables = STRING_FIELDS[field]
    health.assert_fine()
    target = prepare(kind, api, globex)
    content = encode(
        {"query": _operation(operation), "variables": variables(target, value)}, ascii_only
    )
    exchange(api, content, watch.now("acme"), False, backend, watch, health)


# Raw requests.


class RawRequest:
    def __init__(
        self,
        method: str,
        content: bytes,
        headers: dict[str, str],
        query_string: str = "",
        query: str | None = None,  # the GraphQL document a POST carries, if any
    ) -> None:
        self.method = method
        self.content = content
        self.headers = headers
        self.query_string = query_string
        self.query = query

    def __repr__(self) -> str:
        shown = self.content if len(self.content) <= 500 else self.content[:500] + b"..."
        return (
            f"RawRequest({self.method} ?{self.query_string[:500]!r} {self.headers!r} "
            f"{len(self.content)} bytes: {shown!r})"
        )


CONTENT_TYPES = [
    "application/json",
    "application/json; charset=utf-8",
    "application/json; charset=latin-1",
    "application/graphql-response+json",
    "application/graphql",
    "application/x-www-form-urlencoded",
    "multipart/form-data; boundary=x",
    "multipart/mixed",
    "text/plain",
    "text/html",
    "",
    "application/json, text/plain",
    "\u00e9/\u00e9",
]
ACCEPTS = [
    None,
    "application/json",
    "application/graphql-response+json",
    "application/graphql-response+json;q=0.9, application/json",
    "text/html",
    "*/*",
    "image/png",
    "multipart/mixed;subscriptionSpec=1.0",
    "text/event-stream",
    "",
]
AUTHORIZATIONS = ["key", "key", "none", "unknown key", "AccessKey", "odd"]
header_text = st.text(
    st.characters(min_codepoint=0x20, max_codepoint=0xFF, exclude_characters="\x7f"), max_size=40
).map(str.strip)

graphqlish = st.lists(st.sampled_from(GRAPHQL_TOKENS), max_size=40).map(" ".join)
envelopes = st.fixed_dictionaries(
    {},
    optional={
        "query": st.one_of(
            graphqlish, st.sampled_from([o.document for o in OPERATIONS]), texts, json_values
        ),
        "variables": st.one_of(json_objects, json_values),
        "operationName": st.one_of(texts, json_values),
        "extensions": st.one_of(json_objects, json_values),
    },
)


def nested(depth: int, opener: bytes, closer: bytes) -> bytes:
    return opener * depth + closer * depth


def _query_of(payload: object) -> str | None:
    query = payload.get("query") if isinstance(payload, dict) else None
    return query if isinstance(query, str) else None


# (body, the GraphQL document in it if any)
raw_payloads: st.SearchStrategy[tuple[bytes, str | None]] = st.one_of(
    st.tuples(envelopes, st.booleans()).map(lambda p: (encode(*p), _query_of(p[0]))),
    st.tuples(json_values, st.booleans()).map(lambda p: (encode(*p), _query_of(p[0]))),
    st.tuples(st.binary(max_size=200), st.none()),
    st.tuples(
        st.builds(
            nested,
            st.integers(min_value=1, max_value=300_000),
            st.sampled_from([b"[", b'{"a":', b'{"query":"{__typename}","variables":{"a":']),
            st.sampled_from([b"]", b"}"]),
        ),
        st.none(),
    ),
    st.tuples(
        st.builds(
            lambda d: (
                b'{"query": "query($v: JSON) { __typename }", "variables": {"v": '
                + nested(d, b"[", b"]")
                + b"}}"
            ),
            st.integers(min_value=1, max_value=100_000),
        ),
        st.none(),
    ),
)


@st.composite
def raw_requests(draw: st.DrawFn, key: str) -> RawRequest:
    headers: dict[str, str] = {}
    auth = draw(st.sampled_from(AUTHORIZATIONS))
    if auth == "key":
        headers["authorization"] = f"Bearer {key}"
    elif auth == "AccessKey":
        headers["authorization"] = f"AccessKey {key}"
    elif auth == "unknown key":
        headers["authorization"] = "Bearer hk_unknown"
    elif auth == "odd":
        headers["authorization"] = draw(header_text)
    accept = draw(st.sampled_from(ACCEPTS))
    if accept is not None:
        headers["accept"] = accept
    if draw(st.booleans()):
        headers["x-workspace-id"] = draw(st.one_of(st.just("acme"), header_text))
    if draw(st.integers(min_value=0, max_value=4)) == 0:
        fields = draw(
            st.dictionaries(
                st.sampled_from(["query", "variables", "operationName", "extensions"]),
                st.one_of(graphqlish, plain_text, odd_text, json_values.map(json.dumps)).map(
                    lambda v: v[:2_000]  # GET has no room for more
                ),
            )
        )
        query_string = urlencode({k: v.encode("utf-8", "surrogatepass") for k, v in fields.items()})
        return RawRequest("GET", b"", headers, query_string)
    headers["content-type"] = draw(st.sampled_from(CONTENT_TYPES))
    content, query = draw(raw_payloads)
    return RawRequest("POST", content, headers, query=query)


@given(data=st.data())
@fuzz_settings(examples=150)
def test_random_requests_never_fail_the_server(
    backend: str, api: Api, watch: Watch, data: st.DataObject
) -> None:
    assert api.key is not None
    request = data.draw(raw_requests(api.key), label="request")
    before = watch.now("acme")
    url = api.url + (f"?{request.query_string}" if request.query_string else "")
    sent = request.content.decode("utf-8", "surrogateescape") + request.query_string

    headers = {k.encode(): v.encode("latin-1") for k, v in request.headers.items()}
    headers[b"connection"] = b"close"  # a connection of its own, see post()
    response = api.http.request(request.method, url, content=request.content, headers=headers)
    tally(backend, response)

    body = check_answer(response, sent)
    query = request.query
    check_untouched(watch, before, body, query is not None and may_record(query), sent)
    checked(backend, body)


def test_the_fuzz_checks_can_fail() -> None:
    """The checks above are only worth something if they catch what they look for."""
    leaky = httpx.Response(200, json={"errors": [{"message": "x", "extensions": {}}]})
    with pytest.raises(AssertionError):
        check_answer(leaky, "")
    nan = httpx.Response(
        200, content=b'{"data": {"x": NaN}}', headers={"content-type": "application/json"}
    )
    with pytest.raises(AssertionError):
        check_answer(nan, "")
    trace = httpx.Response(400, text='Traceback (most recent call last):\n  File "x.py"')
    with pytest.raises(AssertionError):
        check_answer(trace, "")
    named = httpx.Response(400, json={"errors": [{"message": "KeyError: 'id'"}]})
    with pytest.raises(AssertionError):
        check_answer(named, "")
    nowhere = httpx.Request("POST", "http://127.0.0.1:9/graphql")  # nothing listens on port 9
    with pytest.raises(AssertionError):
        check_answer(httpx.Response(502, text="bad gateway", request=nowhere), "")
    fine = httpx.Response(
        200, json={"errors": [{"message": "no", "extensions": {"code": "NOT_FOUND"}}]}
    )
    assert check_answer(fine, "") == fine.json()
    assert rejected(fine.json())
    assert not rejected({"data": None, "errors": [{"message": "x", "path": ["a", "b"]}]})
    assert math.isnan(json.loads(encode(math.nan, True)))
    assert may_record("mutation { a: sendMessage(input: {id: 1}) { id } b: x }")
    assert not may_record("mutation { sendMessage(input: {id: 1}) { id } }")
