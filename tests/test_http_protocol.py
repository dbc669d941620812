"""GraphQL over HTTP, as the graphql-over-http draft says, against the live server."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from tests.conftest import Api, draft

GQL = "application/graphql-response+json"


def post(api: Api, body: object, accept: str | None = GQL, **headers: str) -> httpx.Response:
    sent = {**api.headers(), **headers}
    if accept is not None:
        sent["accept"] = accept
    return api.http.post(api.url, json=body, headers=sent)


def errors_of(response: httpx.Response) -> list[dict[str, Any]]:
    body: dict[str, Any] = response.json()
    errors: list[dict[str, Any]] = body["errors"]
    return errors


@pytest.mark.parametrize(
    ("name", "body"),
    [
        ("a syntax error", {"query": "{ message(id: "}),
        ("an unknown field", {"query": "{ nope }"}),
        (
            "variables that do not coerce",
            {"query": "query($id: ID!) { message(id: $id) { id } }", "variables": {"id": [1]}},
        ),
        ("a missing variable", {"query": "query($id: ID!) { message(id: $id) { id } }"}),
    ],
)
def test_a_request_error_is_400_without_data_for_graphql_response_json(
    api: Api, name: str, body: dict[str, Any]
) -> None:
    response = post(api, body)
    assert response.status_code == 400, name
    assert response.headers["content-type"].startswith(GQL)
    assert "data" not in response.json()
    assert errors_of(response)[0]["extensions"]["code"] == "VALIDATION_FAILED"


def test_the_same_request_error_is_200_without_data_for_plain_json(api: Api) -> None:
    response = post(api, {"query": "{ nope }"}, accept="application/json")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("application/json")
    assert "data" not in response.json()
    assert errors_of(response)


def test_a_successful_request_answers_in_the_media_type_asked_for(api: Api) -> None:
    made = draft(api, "over http")
    query = {
        "query": "query($id: ID!) { message(id: $id) { text } }",
        "variables": {"id": made["id"]},
    }
    for accept, media in (
        (GQL, GQL),
        ("application/json", "application/json"),
        ("*/*", "application/json"),
        (None, "application/json"),
    ):
        response = post(api, query, accept=accept)
        assert response.status_code == 200
        assert response.headers["content-type"].startswith(media), accept
        assert response.json()["data"]["message"]["text"] == "over http"


def test_an_error_while_executing_is_200_with_data(api: Api) -> None:
    response = post(api, {"query": 'mutation { sendMessage(input: {id: "nope"}) { id } }'})
    assert response.status_code == 200
    body = response.json()
    assert "data" in body
    assert errors_of(response)[0]["extensions"]["code"] == "NOT_FOUND"


def test_get_runs_queries_and_refuses_mutations_with_405(api: Api) -> None:
    made = draft(api, "by get")
    got = api.http.get(
        api.url,
        params={
            "query": "query($id: ID!) { message(id: $id) { text } }",
            "variables": f'{{"id": "{made["id"]}"}}',
        },
        headers={**api.headers(), "accept": GQL},
    )
    assert got.status_code == 200
    assert got.json()["data"]["message"]["text"] == "by get"
    refused = api.http.get(
        api.url,
        params={
            "query": 'mutation { draftMessage(input: {conversationId: "c", text: "x"}) { id } }'
        },
        headers=api.headers(),
    )
    assert refused.status_code == 405
    assert refused.headers["allow"] == "POST"
    assert errors_of(refused)
    events = api.ok("{ events { edges { cursor } } }")["events"]["edges"]
    assert len(events) == 1, "only the draft made by POST was recorded"


def test_other_methods_get_405_with_allow(api: Api) -> None:
    response = api.http.put(api.url, content=b"{}", headers=api.headers())
    assert response.status_code == 405
    assert set(response.headers["allow"].replace(" ", "").split(",")) == {"GET", "POST"}
    assert errors_of(response)


def test_a_body_of_another_content_type_gets_415(api: Api) -> None:
    response = api.http.post(
        api.url, content=b"{ __typename }", headers={**api.headers(), "content-type": "text/plain"}
    )
    assert response.status_code == 415
    assert response.headers["content-type"].startswith("application/json")
    assert errors_of(response)


def test_a_client_that_accepts_no_json_gets_406(api: Api) -> None:
    response = post(api, {"query": "{ __typename }"}, accept="image/png")
    assert response.status_code == 406
    assert errors_of(response)


def test_malformed_json_gets_400_with_a_json_error_body(api: Api) -> None:
    response = api.http.post(
        api.url, content=b"{bad", headers={**api.headers(), "content-type": "application/json"}
    )
    assert response.status_code == 400
    assert response.headers["content-type"].startswith("application/json")
    assert "JSON" in errors_of(response)[0]["message"]
