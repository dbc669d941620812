from __future__ import annotations

from tests.conftest import Api, draft


def test_a_draft_can_be_read_back_through_the_api(api: Api) -> None:
    made = draft(api, "Hello Ada")
    got = api.ok(
        "query($id: ID!) { message(id: $id) { id text version status } }", {"id": made["id"]}
    )["message"]
    assert got == {"id": made["id"], "text": "Hello Ada", "version": 1, "status": "DRAFT"}
