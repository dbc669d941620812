"""GET /metrics, scraped over HTTP and read with prometheus_client's own parser: the counters
move with the requests that were made, and nothing else, on each backend."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families
from websockets.sync.client import connect
from websockets.typing import Subprotocol

from app.runtime import Herald
from app.settings import Settings
from tests.conftest import Api, LiveServer, draft
from tests.processes import ServerProcess, create_key
from tests.ws import init

Samples = dict[tuple[str, tuple[tuple[str, str], ...]], float]
MESSAGE = "query($id: ID!) { message(id: $id) { id text } }"
APPROVE = "mutation($id: ID!) { approveMessage(input: {id: $id}) { id } }"


def scrape(base_url: str, token: str | None = None) -> Samples:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    response = httpx.get(f"{base_url}/metrics", headers=headers, timeout=10)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/plain")
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(response.text)
        for sample in family.samples
    }


def value(samples: Samples, name: str, **labels: str) -> float:
    return samples.get((name, tuple(sorted(labels.items()))), 0.0)


def moved(before: Samples, after: Samples, name: str, **labels: str) -> float:
    return value(after, name, **labels) - value(before, name, **labels)


def test_counters_move_with_the_operations_made_and_positions_are_read_when_scraped(
    server: LiveServer, api: Api
) -> None:
    before = scrape(server.base_url)
    made = draft(api, "counted")
    assert api.ok(MESSAGE, {"id": made["id"]})["message"]["text"] == "counted"
    assert api.error(APPROVE, {"id": "00000000-0000-0000-0000-000000000000"})["code"] == (
        "NOT_FOUND"
    )
    assert api.error("{ nosuch }")["code"] == "VALIDATION_FAILED"
    stranger = Api(server.base_url, None)
    try:
        assert stranger.error(MESSAGE, {"id": made["id"]})["code"] == "UNAUTHENTICATED"
    finally:
        stranger.close()
    after = scrape(server.base_url)

    operations = "herald_graphql_operations_total"
    assert moved(before, after, operations, type="mutation", operation="draftMessage", code="OK")
    assert moved(before, after, operations, type="query", operation="message", code="OK") == 1
    assert (
        moved(before, after, operations, type="query", operation="message", code="UNAUTHENTICATED")
        == 1
    )
    assert (
        moved(
            before, after, operations, type="query", operation="unknown", code="VALIDATION_FAILED"
        )
        == 1
    )
    commands = "herald_commands_total"
    assert moved(before, after, commands, command="draftMessage", result="OK") == 1
    assert moved(before, after, commands, command="approveMessage", result="NOT_FOUND") == 1
    errors = "herald_graphql_errors_total"
    assert moved(before, after, errors, operation="approveMessage", code="NOT_FOUND") == 1
    latency = "herald_graphql_duration_seconds_count"
    assert moved(before, after, latency, type="query", operation="message") == 2
    assert moved(before, after, "herald_http_requests_total", route="/graphql", status="200") == 5
    # The scrape reads the positions from the database: one event, projected.
    assert value(after, "herald_events_position") == 1
    assert value(after, "herald_consumer_position", consumer="herald_views") == 1
    assert value(after, "herald_consumer_lag", consumer="herald_views") == 0
    assert value(after, "herald_db_pool_connections", state="max") > 0


def test_refusals_are_counted_by_reason(settings: Settings) -> None:
    # Two reads of a missing message fit the burst (each takes its price, 66 points, and keeps
    # the 2 it used); a third does not.
    herald = Herald(replace(settings, rate_limit=0.01, rate_burst=68))
    try:
        with LiveServer(herald) as server:
            api = server.client("acme")
            try:
                before = scrape(server.base_url)
                aliased = "{ " + " ".join(f"a{i}: __typename" for i in range(40)) + " }"
                assert api.error(aliased)["code"] == "LIMIT_EXCEEDED"
                for _ in range(2):
                    api.ok(MESSAGE, {"id": "x"})
                over = api.http.post(
                    api.url,
                    json={"query": MESSAGE, "variables": {"id": "x"}},
                    headers=api.headers(),
                )
                assert over.status_code == 429
                assert over.json()["errors"][0]["extensions"]["code"] == "LIMIT_EXCEEDED"
                too_large = httpx.post(
                    f"{server.base_url}/graphql", content=b" " * (1024 * 1024 + 1), timeout=10
                )
                assert too_large.status_code == 413
                after = scrape(server.base_url)
            finally:
                api.close()
    finally:
        herald.close()
    assert moved(before, after, "herald_refusals_total", reason="cost") == 1
    assert moved(before, after, "herald_refusals_total", reason="rate") == 1
    assert moved(before, after, "herald_refusals_total", reason="body") == 1
    assert moved(before, after, "herald_http_requests_total", route="/graphql", status="413") == 1
    assert moved(before, after, "herald_http_requests_total", route="/graphql", status="429") == 1


def eventually(check: Callable[[], bool], what: str, timeout: float = 15) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, f"never happened: {what}"
        time.sleep(0.02)


def test_open_subscriptions_are_counted_while_they_are_open(server: LiveServer) -> None:
    key = server.key("acme")
    gauge = "herald_subscriptions_open"
    before = value(scrape(server.base_url), gauge)
    with connect(
        f"ws://127.0.0.1:{server.port}/graphql", subprotocols=[Subprotocol("graphql-transport-ws")]
    ) as ws:
        init(ws, key)
        for i in ("1", "2"):
            query = "subscription { messageEvents { type } }"
            ws.send(json.dumps({"id": i, "type": "subscribe", "payload": {"query": query}}))
        eventually(lambda: value(scrape(server.base_url), gauge) == before + 2, "two open")
        ws.send(json.dumps({"id": "1", "type": "complete"}))
        eventually(lambda: value(scrape(server.base_url), gauge) == before + 1, "one closed")
    eventually(lambda: value(scrape(server.base_url), gauge) == before, "all closed")


def test_the_metrics_token_is_asked_for_when_set(sqlite_settings: Settings) -> None:
    herald = Herald(replace(sqlite_settings, metrics_token="s3cret-token"))
    try:
        with LiveServer(herald) as server:
            refused = httpx.get(f"{server.base_url}/metrics", timeout=10)
            assert refused.status_code == 401
            assert refused.headers["www-authenticate"] == "Bearer"
            wrong = httpx.get(
                f"{server.base_url}/metrics", headers={"Authorization": "Bearer nope"}, timeout=10
            )
            assert wrong.status_code == 401
            assert value(scrape(server.base_url, "s3cret-token"), "herald_events_position") == 0
    finally:
        herald.close()


def test_several_workers_count_into_one_set_of_metrics_emptied_at_start(
    sqlite_settings: Settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    url = sqlite_settings.database_url
    folder = tmp_path / "metrics"
    folder.mkdir()
    (folder / "counter_999999.db").write_bytes(b"left over from an earlier run")
    monkeypatch.setenv("PROMETHEUS_MULTIPROC_DIR", str(folder))
    key = create_key(url, "acme")
    server = ServerProcess(url, tmp_path / "server.log", "--workers", "2")
    try:
        server.wait_ready()
        assert not (folder / "counter_999999.db").exists()
        requests = 12
        for _ in range(requests):  # a new connection each, so both workers take some
            answer = httpx.post(
                f"{server.url}/graphql",
                json={"query": MESSAGE, "variables": {"id": "x"}},
                headers={"Authorization": f"Bearer {key}"},
                timeout=10,
            )
            assert answer.status_code == 200, answer.text
        pids = {p.stem.rsplit("_", 1)[1] for p in folder.glob("counter_*.db")}
        assert len(pids) >= 2, pids
        name = "herald_graphql_operations_total"
        for _ in range(4):  # whichever worker answers the scrape, it counts them all
            counted = value(scrape(server.url), name, type="query", operation="message", code="OK")
            assert counted == requests
    finally:
        server.stop()
