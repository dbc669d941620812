"""Relay's global object identification: node(id:) and nodes(ids:) find a message by its id
(the same UUID as everywhere else), and find nothing of another workspace."""

from __future__ import annotations

import uuid

import pytest

from tests.conftest import Api, LiveServer, draft

NODE = """
query($id: ID!) {
  node(id: $id) { __typename id ... on Message { text version conversationId } }
}
"""
NODES = "query($ids: [ID!]!) { nodes(ids: $ids) { __typename id } }"


@pytest.fixture
def server(sqlite_server: LiveServer) -> LiveServer:
    """SQLite only: node reads the same view as message(id:), which runs on both backends."""
    return sqlite_server


def test_node_finds_a_message_by_the_same_id_message_uses(api: Api) -> None:
    made = draft(api, "found by its id", conversationId="relay-1")
    found = api.ok(NODE, {"id": made["id"]})["node"]
    assert found == {
        "__typename": "Message",
        "id": made["id"],
        "text": "found by its id",
        "version": 1,
        "conversationId": "relay-1",
    }


def test_another_workspaces_id_an_unknown_id_and_a_non_id_resolve_to_null(
    server: LiveServer, api: Api
) -> None:
    globex = server.client("globex")
    try:
        theirs = draft(globex, "globex's own")["id"]
        for id in (theirs, str(uuid.uuid4()), "not-an-id", ""):
            assert api.ok(NODE, {"id": id}) == {"node": None}
        assert globex.ok(NODE, {"id": theirs})["node"]["id"] == theirs
    finally:
        globex.close()


def test_nodes_answers_in_the_order_asked_with_null_where_there_is_none(
    server: LiveServer, api: Api
) -> None:
    globex = server.client("globex")
    try:
        first, second = draft(api, "one")["id"], draft(api, "two")["id"]
        theirs = draft(globex, "globex's")["id"]
        ids = [second, theirs, first, second, str(uuid.uuid4())]
        assert api.ok(NODES, {"ids": ids})["nodes"] == [
            {"__typename": "Message", "id": second},
            None,
            {"__typename": "Message", "id": first},
            {"__typename": "Message", "id": second},
            None,
        ]
    finally:
        globex.close()


def test_nodes_takes_at_most_a_hundred_ids(api: Api) -> None:
    assert api.ok(NODES, {"ids": [str(uuid.uuid4()) for _ in range(100)]})["nodes"] == [None] * 100
    refused = api.error(NODES, {"ids": [str(uuid.uuid4()) for _ in range(101)]})
    assert refused["code"] == "VALIDATION_FAILED"
    assert refused["details"] == {"ids": ["at most 100 ids at once"]}
