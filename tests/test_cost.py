"""Every operation is priced from its document and variables before it runs: over the budget it
is refused with LIMIT_EXCEEDED (its cost and the budget in extensions), over HTTP and WebSocket
alike, and every answer reports its cost. Pricing, and the depth and alias limits, take time
linear in the document, however its fragments spread one another."""

from __future__ import annotations

import json
from typing import Any

import pytest
from graphql import get_introspection_query, parse
from websockets.sync.client import connect
from websockets.typing import Subprotocol

from app.api.cost import Pricer
from app.api.prices import CONTENT
from app.api.schema import build_schema
from bench.fairness import chain
from tests.conftest import Api, LiveServer, draft
from tests.ws import init, run_over

BUDGET = 10_000


def price(query: str, variables: dict[str, Any] | None = None) -> int:
    return Pricer(build_schema()._schema).price(parse(query), None, variables or {}).requested


def test_a_list_costs_its_first_times_its_items_and_content_costs_its_kib() -> None:
    node = "{ messages(first: 10) { edges { node { id } } } }"
    assert price(node) == 1 + 10 * 2  # the connection, then an edge and a node each
    assert price("{ messages(first: 10) { edges { node { text } } } }") == 1 + 10 * (2 + CONTENT)
    assert (
        price("query($n: Int) { messages(first: $n) { edges { cursor } } }", {"n": 7}) == 1 + 7 + 1
    )
    assert price("{ messages { edges { cursor } } }") == 51, "the default page is 50"
    # Past the page limit: the resolver refuses it (VALIDATION_FAILED) before reading anything.
    assert price("{ messages(first: 1000) { edges { cursor } } }") == 1


def test_history_nested_in_messages_multiplies() -> None:
    nested = "{ messages(first: 100) { edges { node { history { edges { node { type } } } } } } }"
    assert price(nested) == 1 + 100 * (2 + 1 + 100 * 2)


def test_fragments_on_several_event_types_cost_the_dearest_of_them() -> None:
    both = """{ events(first: 10) { edges { node {
        ... on MessageDrafted { text body } ... on MessageEdited { text } } } } }"""
    assert price(both) == 1 + 10 * (2 + 2 * CONTENT)


def test_input_values_are_priced_and_skipped_fields_are_not() -> None:
    base = price("query($s: [MessageStatus!]) { messages(status: $s) { edges { cursor } } }")
    many = price(
        "query($s: [MessageStatus!]) { messages(status: $s) { edges { cursor } } }",
        {"s": ["SENT"] * 1000},
    )
    assert many - base == 1001
    skipped = "query($no: Boolean!) { messages(first: 100) @include(if: $no) { edges { cursor } } }"
    assert price(skipped, {"no": False}) == 1


def test_the_usual_introspection_query_is_within_the_budget() -> None:
    assert price(get_introspection_query(descriptions=True)) < BUDGET


def test_a_chain_of_fragments_is_priced_without_walking_each_spread() -> None:
    # Sixty fragments: walked once per spread, this would never finish (the bench times it).
    assert price(chain(60)) == 0


def test_the_fragment_chain_is_answered_without_a_key_at_any_length(server: LiveServer) -> None:
    anonymous = Api(server.base_url, None)
    try:
        for length in (20, 30, 60):
            document = chain(length)
            body = anonymous.post(document)
            assert body["data"] == {"__typename": "Query"}, body
            # Nothing but the reading of the document: a point per KiB of it.
            assert body["extensions"]["cost"]["requestedQueryCost"] == len(document) // 1024
        for length in (200, 400):  # too deep for graphql-core's checks; past the token limit
            [error] = anonymous.post(chain(length))["errors"]
            assert error["extensions"]["code"] == "LIMIT_EXCEEDED", error
    finally:
        anonymous.close()


def test_every_answer_reports_its_cost(api: Api) -> None:
    mid = draft(api, "Priced")["id"]
    body = api.post("query($id: ID!) { message(id: $id) { id text } }", {"id": mid})
    cost = body["extensions"]["cost"]
    assert cost["requestedQueryCost"] == 1 + CONTENT + 1
    assert cost["actualQueryCost"] == 2 + 1  # data, message, and the one input value
    assert cost["maximumQueryCost"] == BUDGET
    assert cost["throttleStatus"]["currentlyAvailable"] > 0


HEAVY = "{ messages(first: 100) { edges { node { text body } } } }"


def test_an_operation_over_the_budget_is_refused_over_http_with_its_cost(api: Api) -> None:
    body = api.post(HEAVY)
    [error] = body["errors"]
    assert error["extensions"] == {
        "code": "LIMIT_EXCEEDED",
        "cost": 1 + 100 * (2 + 2 * CONTENT),
        "budget": BUDGET,
    }
    assert body.get("data") is None


def test_thirty_aliases_of_messages_with_their_history_are_refused(api: Api) -> None:
    history = "history { edges { node { type } } }"
    aliased = " ".join(
        f"a{i}: messages(first: 100) {{ edges {{ node {{ {history} }} }} }}" for i in range(30)
    )
    [error] = api.post(f"{{ {aliased} }}")["errors"]
    assert error["extensions"]["code"] == "LIMIT_EXCEEDED"
    assert error["extensions"]["cost"] > BUDGET


@pytest.mark.parametrize("protocol", ["graphql-transport-ws"])
def test_an_operation_over_the_budget_is_refused_over_websocket_alike(
    server: LiveServer, protocol: str
) -> None:
    key = server.key("acme")
    with connect(
        f"ws://127.0.0.1:{server.port}/graphql", subprotocols=[Subprotocol(protocol)]
    ) as ws:
        init(ws, key)
        answer = run_over(ws, "1", HEAVY)
    assert answer["data"] is None, answer
    [error] = answer["errors"]
    assert error["extensions"]["code"] == "LIMIT_EXCEEDED"
    assert error["extensions"]["budget"] == BUDGET


def test_the_nested_introspection_bomb_is_limit_exceeded(server: LiveServer) -> None:
    anonymous = Api(server.base_url, None)
    bomb = "{ __schema { types { fields { type { fields { type { fields { name } } } } } } } }"
    try:
        [error] = anonymous.post(bomb)["errors"]
    finally:
        anonymous.close()
    assert error["extensions"]["code"] == "LIMIT_EXCEEDED", error
    assert json.dumps(error).isascii()
