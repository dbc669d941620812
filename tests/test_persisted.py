"""Persisted documents against the live server: Apollo's automatic persisted queries (a hash
in place of the document, PersistedQueryNotFound, GET for queries, a bounded memory), and
the operator's trusted mode, in which only registered documents run, on every transport."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import httpx
import pytest
from websockets.sync.client import connect
from websockets.typing import Subprotocol

from app.settings import Settings
from tests.conftest import Api, LiveServer, served
from tests.processes import herald_cli
from tests.sse import streamed
from tests.ws import init, receive, run_over

READ = "{ messages(first: 5) { edges { node { id text } } } }"
WRITE = 'mutation { draftMessage(input: {conversationId: "c", text: "hi"}) { id } }'


@pytest.fixture
def server(sqlite_server: LiveServer) -> LiveServer:
    """SQLite only: what these tests prove does not depend on the backend (the documents'
    SQL runs on both in the trusted-mode test)."""
    return sqlite_server


def sha(document: str) -> str:
    return hashlib.sha256(document.encode()).hexdigest()


def persisted(document: str, version: int = 1) -> dict[str, Any]:
    return {"persistedQuery": {"version": version, "sha256Hash": sha(document)}}


def post(api: Api, body: dict[str, Any]) -> dict[str, Any]:
    response = api.http.post(api.url, json=body, headers=api.headers())
    assert response.status_code == 200, response.text
    answer: dict[str, Any] = response.json()
    return answer


def get(api: Api, document: str) -> httpx.Response:
    params = {"extensions": json.dumps(persisted(document))}
    return api.http.get(
        api.url, params=params, headers={"Accept": "application/json", **api.headers()}
    )


def codes(answer: dict[str, Any]) -> list[str]:
    return [error["extensions"]["code"] for error in answer.get("errors", [])]


def test_a_hash_is_unknown_until_its_document_is_sent_with_it_then_it_runs_alone(
    api: Api,
) -> None:
    unknown = post(api, {"extensions": persisted(READ)})
    assert unknown["errors"][0]["message"] == "PersistedQueryNotFound"
    assert codes(unknown) == ["PERSISTED_QUERY_NOT_FOUND"]
    assert get(api, READ).json()["errors"][0]["message"] == "PersistedQueryNotFound"

    registered = post(api, {"query": READ, "extensions": persisted(READ)})
    assert registered["data"] == {"messages": {"edges": []}}
    assert post(api, {"extensions": persisted(READ)})["data"] == registered["data"]
    by_get = get(api, READ)
    assert by_get.status_code == 200
    assert by_get.json()["data"] == registered["data"]


def test_a_wrong_hash_another_version_or_a_malformed_hash_is_refused(api: Api) -> None:
    wrong = post(api, {"query": READ, "extensions": persisted(WRITE)})
    assert wrong["errors"][0]["message"] == "provided sha does not match query"
    assert codes(wrong) == ["VALIDATION_FAILED"]
    assert codes(post(api, {"query": READ, "extensions": persisted(READ, version=2)})) == [
        "VALIDATION_FAILED"
    ]
    malformed = {"persistedQuery": {"version": 1, "sha256Hash": "ABC"}}
    assert codes(post(api, {"extensions": malformed})) == ["VALIDATION_FAILED"]
    assert codes(post(api, {"extensions": {"persistedQuery": "yes"}})) == ["VALIDATION_FAILED"]


def test_an_invalid_document_is_not_remembered(api: Api) -> None:
    broken = "{ messages { nope } }"
    assert codes(post(api, {"query": broken, "extensions": persisted(broken)})) == [
        "VALIDATION_FAILED"
    ]
    assert codes(post(api, {"extensions": persisted(broken)})) == ["PERSISTED_QUERY_NOT_FOUND"]


@pytest.fixture
def small_memory(sqlite_settings: Settings) -> Iterator[LiveServer]:
    with served(replace(sqlite_settings, apq_documents=2, apq_document_bytes=200)) as live:
        yield live


def test_remembered_documents_are_bounded_in_number_and_in_size(small_memory: LiveServer) -> None:
    api = small_memory.client("acme")
    try:
        documents = [f"query Q{n} {{ __typename }}" for n in range(3)]
        for document in documents:
            assert "errors" not in post(api, {"query": document, "extensions": persisted(document)})
        # At most two are remembered: the least recently used is forgotten.
        assert codes(post(api, {"extensions": persisted(documents[0])})) == [
            "PERSISTED_QUERY_NOT_FOUND"
        ]
        assert "errors" not in post(api, {"extensions": persisted(documents[2])})

        large = "query Large { __typename }" + " " * 200
        assert "errors" not in post(api, {"query": large, "extensions": persisted(large)})
        assert codes(post(api, {"extensions": persisted(large)})) == ["PERSISTED_QUERY_NOT_FOUND"]
    finally:
        api.close()


@pytest.fixture
def trusted(settings: Settings) -> Iterator[LiveServer]:
    with served(replace(settings, trusted_documents=True)) as live:
        yield live


def add_documents(server: LiveServer, *paths: Path) -> str:
    done = herald_cli(server.herald.settings.database_url, "documents", "add", *map(str, paths))
    assert done.returncode == 0, done.stderr
    return done.stdout


def test_trusted_mode_runs_registered_documents_only_over_http_websocket_and_sse(
    trusted: LiveServer, tmp_path: Path
) -> None:
    (tmp_path / "read.graphql").write_text(READ)
    added = add_documents(trusted, tmp_path / "read.graphql")  # by another process
    assert added.split()[:2] == ["added", sha(READ)]
    api = trusted.client("acme")
    assert api.key is not None
    try:
        assert "errors" not in post(api, {"query": READ})
        assert "errors" not in get(api, READ).json()  # by its hash alone
        refused = post(api, {"query": WRITE})
        assert codes(refused) == ["FORBIDDEN"]
        assert "herald documents add" in refused["errors"][0]["message"]
        # Sending a document with its hash registers nothing in this mode.
        assert codes(post(api, {"query": WRITE, "extensions": persisted(WRITE)})) == ["FORBIDDEN"]
        assert codes(post(api, {"extensions": persisted(WRITE)})) == ["PERSISTED_QUERY_NOT_FOUND"]

        with connect(
            f"ws://127.0.0.1:{trusted.port}/graphql",
            subprotocols=[Subprotocol("graphql-transport-ws")],
        ) as ws:
            init(ws, api.key)
            assert "errors" not in run_over(ws, "read", READ)
            ws.send(json.dumps({"id": "write", "type": "subscribe", "payload": {"query": WRITE}}))
            refusal = receive(ws)  # graphql-transport-ws says `error` for a refused document
            assert (refusal["id"], refusal["type"]) == ("write", "error"), refusal
            assert [e["extensions"]["code"] for e in refusal["payload"]] == ["FORBIDDEN"]

        url = f"{trusted.base_url}/graphql/stream"
        with httpx.Client() as http:
            for document, expected in ((READ, []), (WRITE, ["FORBIDDEN"])):
                with streamed(http, url, api.headers(), query=document) as stream:
                    assert codes(stream.result()) == expected
        assert post(api, {"query": READ})["data"]["messages"]["edges"] == [], "nothing written"
    finally:
        api.close()


def test_documents_add_refuses_invalid_documents_and_reads_apollo_manifests(
    server: LiveServer, tmp_path: Path
) -> None:
    invalid = tmp_path / "invalid.graphql"
    invalid.write_text("{ messages { nope } }")
    valid = tmp_path / "valid.graphql"
    valid.write_text(READ)
    database = server.herald.settings.database_url
    done = herald_cli(database, "documents", "add", str(valid), str(invalid))
    assert done.returncode == 1
    assert "nope" in done.stderr
    assert herald_cli(database, "documents", "list").stdout == ""  # nothing was added

    manifest = tmp_path / "persisted-query-manifest.json"
    operations = [
        {"id": sha(body), "name": name, "type": "query", "body": body}
        for name, body in (("Read", READ), ("Typename", "query Typename { __typename }"))
    ]
    manifest.write_text(
        json.dumps(
            {"format": "apollo-persisted-query-manifest", "version": 1, "operations": operations}
        )
    )
    assert add_documents(server, manifest, valid).splitlines() == [
        f"added {sha(READ)} {manifest}",
        f"added {operations[1]['id']} {manifest}",
        f"known {sha(READ)} {valid}",
    ]
    listed = herald_cli(database, "documents", "list").stdout.split()
    assert listed == sorted(op["id"] for op in operations)
