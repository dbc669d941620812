"""Request ids and JSON logs: each request gets an id (the client's X-Request-ID when sane),
the response returns it, and with HERALD_LOG_FORMAT=json every line the server writes is one
JSON object, those written for a request carrying its id."""

from __future__ import annotations

import json
import time
from pathlib import Path

import httpx
import pytest

from app.settings import Settings
from tests.conftest import LiveServer
from tests.processes import ServerProcess, create_key


def test_a_sane_request_id_is_kept_and_any_other_is_replaced(server: LiveServer) -> None:
    def answered(given: str | None) -> str:
        headers = {} if given is None else {"X-Request-ID": given}
        return httpx.get(f"{server.base_url}/healthz", headers=headers).headers["x-request-id"]

    assert answered("trace-42:abc.DEF_9") == "trace-42:abc.DEF_9"
    for insane in (None, "a b", "x" * 129, "<script>"):
        generated = answered(insane)
        assert generated != insane
        assert len(generated) == 32
        int(generated, 16)
    assert answered(None) != answered(None)


def test_json_logs_carry_the_request_id(
    sqlite_settings: Settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    url = sqlite_settings.database_url
    key = create_key(url, "acme")
    monkeypatch.setenv("HERALD_LOG_FORMAT", "json")
    server = ServerProcess(url, tmp_path / "server.log")
    try:
        server.wait_ready()
        answer = httpx.post(
            f"{server.url}/graphql",
            json={"query": "{ __typename }"},
            headers={"Authorization": f"Bearer {key}", "X-Request-ID": "req-from-client-1"},
        )
        assert answer.headers["x-request-id"] == "req-from-client-1"
        deadline = time.monotonic() + 15
        while "req-from-client-1" not in server.output():
            assert time.monotonic() < deadline, server.output()
            time.sleep(0.02)
    finally:
        server.stop()
    lines = [json.loads(line) for line in server.output().splitlines() if line.strip()]
    assert lines, "the server wrote nothing"
    assert all({"time", "level", "logger", "message"} <= set(line) for line in lines)
    [access] = [line for line in lines if line.get("request_id") == "req-from-client-1"]
    assert access["logger"] == "uvicorn.access"
    assert "POST /graphql" in access["message"]
    assert any(line["logger"] == "uvicorn.error" for line in lines)
