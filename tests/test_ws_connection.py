"""WebSocket connections: which browser origins may open them, and keep-alive messages."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import replace

import pytest
from websockets.exceptions import InvalidStatus
from websockets.sync.client import connect
from websockets.typing import Subprotocol

from app.runtime import Herald
from app.settings import Settings
from tests.conftest import LiveServer

TRANSPORT = [Subprotocol("graphql-transport-ws")]


@pytest.fixture
def configured(sqlite_settings: Settings) -> Iterator[LiveServer]:
    settings = replace(
        sqlite_settings, allowed_origins=("https://app.example",), keep_alive_seconds=0.2
    )
    herald = Herald(settings)
    with LiveServer(herald) as live:
        yield live
    herald.close()


def handshake(server: LiveServer, origin: str | None) -> int:
    """The handshake's HTTP status: 101 when the WebSocket opened."""
    headers = {} if origin is None else {"Origin": origin}
    try:
        with connect(
            f"ws://127.0.0.1:{server.port}/graphql",
            subprotocols=TRANSPORT,
            additional_headers=headers,
            open_timeout=10,
        ):
            return 101
    except InvalidStatus as refused:
        return refused.response.status_code


def test_a_page_of_another_origin_cannot_open_a_websocket_unless_allowed(
    configured: LiveServer,
) -> None:
    assert handshake(configured, None) == 101, "non-browser clients send no Origin"
    assert handshake(configured, f"http://127.0.0.1:{configured.port}") == 101, "same origin"
    assert handshake(configured, "https://app.example") == 101
    assert handshake(configured, "https://evil.example") == 403


def test_by_default_only_the_same_origin_may_open_a_websocket(server: LiveServer) -> None:
    assert handshake(server, f"http://127.0.0.1:{server.port}") == 101
    assert handshake(server, "https://app.example") == 403


def test_the_legacy_protocol_sends_keep_alive_messages(configured: LiveServer) -> None:
    key = configured.key("acme")
    with connect(
        f"ws://127.0.0.1:{configured.port}/graphql",
        subprotocols=[Subprotocol("graphql-ws")],
        open_timeout=10,
    ) as ws:
        ws.send(
            json.dumps({"type": "connection_init", "payload": {"Authorization": f"Bearer {key}"}})
        )
        assert json.loads(ws.recv(timeout=10))["type"] == "connection_ack"
        kinds = [json.loads(ws.recv(timeout=10))["type"] for _ in range(3)]
    assert kinds == ["ka", "ka", "ka"]
