"""Introspection can be turned off by configuration; the API itself keeps working."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pytest

from app.runtime import Herald
from app.settings import Settings
from tests.conftest import LiveServer, draft
from tests.figures import record

SCHEMA = "{ __schema { queryType { name } } }"


@pytest.fixture
def closed(sqlite_settings: Settings) -> Iterator[LiveServer]:
    herald = Herald(replace(sqlite_settings, introspection=False))
    with LiveServer(herald) as live:
        yield live
    herald.close()


def test_with_introspection_off_the_schema_is_not_given_out_but_queries_work(
    closed: LiveServer,
) -> None:
    api = closed.client("acme")
    try:
        refused = api.post(SCHEMA)
        assert "data" not in refused
        assert {e["extensions"]["code"] for e in refused["errors"]} == {"VALIDATION_FAILED"}
        assert all("introspection has been disabled" in e["message"] for e in refused["errors"])
        made = draft(api, "still served")
        got = api.ok("query($id: ID!) { message(id: $id) { text } }", {"id": made["id"]})
        assert got["message"]["text"] == "still served"
    finally:
        api.close()


def test_introspection_is_on_by_default(server: LiveServer) -> None:
    api = server.client("acme")
    try:
        assert api.ok(SCHEMA)["__schema"]["queryType"]["name"] == "Query"
    finally:
        api.close()


def test_herald_introspection_0_in_the_environment_turns_it_off(tmp_path: Path) -> None:
    settings = Settings.from_env(
        {"HERALD_DATABASE_URL": f"sqlite:///{tmp_path}/herald.db", "HERALD_INTROSPECTION": "0"}
    )
    herald = Herald(settings)
    try:
        with LiveServer(herald) as server:
            api = server.client("acme")
            try:
                refused = api.post(SCHEMA)
                assert "data" not in refused
                assert {e["extensions"]["code"] for e in refused["errors"]} == {"VALIDATION_FAILED"}
                assert api.ok("{ messages { edges { cursor } } }")["messages"]["edges"] == []
                record("limits", "sqlite", introspection_refused=len(refused["errors"]))
            finally:
                api.close()
    finally:
        herald.close()
