"""Per-key rate limiting: LIMIT_EXCEEDED, and HTTP 429 over HTTP; other keys are unaffected."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace

import pytest

from app.runtime import Herald
from app.settings import Settings
from tests.conftest import LiveServer

QUERY = {"query": "{ messages(first: 1) { edges { cursor } } }"}


@pytest.fixture
def limited(sqlite_settings: Settings) -> Iterator[LiveServer]:
    # One request a second, five at once: twelve back to back must run into it.
    herald = Herald(replace(sqlite_settings, rate_limit=1.0, rate_burst=5))
    with LiveServer(herald) as live:
        yield live
    herald.close()


def test_a_key_over_its_rate_gets_429_and_limit_exceeded_while_another_key_goes_on(
    limited: LiveServer,
) -> None:
    busy = limited.client("acme", "busy")
    calm = limited.client("acme", "calm")
    try:
        answers = [busy.http.post(busy.url, json=QUERY, headers=busy.headers()) for _ in range(12)]
        statuses = [a.status_code for a in answers]
        assert statuses[:5] == [200] * 5, "the burst is allowed"
        refused = [a for a in answers if a.status_code == 429]
        assert len(refused) >= 5
        for answer in refused:
            [error] = answer.json()["errors"]
            assert error["extensions"]["code"] == "LIMIT_EXCEEDED"
            assert "retry in" in error["message"]
        ok = calm.http.post(calm.url, json=QUERY, headers=calm.headers())
        assert ok.status_code == 200
        assert "errors" not in ok.json()
    finally:
        busy.close()
        calm.close()
