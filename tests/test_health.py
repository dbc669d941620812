"""The probes: /healthz answers while the process lives; /readyz only while the database
answers and the views keep up with the events. Neither needs a key, nor shows a workspace's
data."""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from typing import Any

import httpx

from app.health import Verdict, readiness
from app.runtime import Herald
from app.settings import Settings
from tests.conftest import LiveServer, draft


def probe(server: LiveServer, path: str) -> httpx.Response:
    response = httpx.get(f"{server.base_url}{path}", timeout=10)
    assert response.headers["content-type"] == "application/json"
    return response


def test_healthz_answers_json_without_a_key(server: LiveServer) -> None:
    response = probe(server, "/healthz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}
    assert len(response.headers["x-request-id"]) == 32


def test_readyz_is_503_while_the_views_trail_the_events_and_200_once_a_projector_catches_up(
    settings: Settings,
) -> None:
    # A server that leaves the views to `herald project`, and no projector running yet.
    served = Herald(replace(settings, ready_max_lag=0), project=False)
    projector: Herald | None = None
    try:
        with LiveServer(served) as server, ThreadPoolExecutor(1) as pool:
            ready = probe(server, "/readyz")
            assert ready.status_code == 200, ready.text
            api = server.client("acme-corp")
            # The draft is recorded, then waits for a projector that is not there yet.
            waiting = pool.submit(draft, api, "a secret note for acme-corp")
            deadline = time.monotonic() + 15
            while (behind := probe(server, "/readyz")).status_code == 200:
                assert time.monotonic() < deadline, "readyz never saw the views behind"
                time.sleep(0.01)
            assert behind.status_code == 503
            body: dict[str, Any] = behind.json()
            assert body["status"] == "not ready"
            assert body["checks"]["database"] == {"ok": True}
            assert body["checks"]["views"] == {
                "ok": False,
                "events": 1,
                "views": 0,
                "lag": 1,
                "max_lag": 0,
            }
            assert "acme" not in behind.text
            assert "secret" not in behind.text

            projector = Herald(settings)  # what `herald project` runs
            projector.start()
            made = waiting.result(timeout=30)
            assert made["text"] == "a secret note for acme-corp"
            deadline = time.monotonic() + 15
            while (caught_up := probe(server, "/readyz")).status_code != 200:
                assert time.monotonic() < deadline, caught_up.text
                time.sleep(0.01)
            assert caught_up.json()["checks"]["views"]["lag"] == 0
            api.close()
    finally:
        if projector is not None:
            projector.close()
        served.close()


def test_a_check_added_later_decides_readiness_too(server: LiveServer) -> None:
    alive = [True]
    readiness(server.herald).add("dispatcher", lambda: Verdict(alive[0], {"backlog": 3}))
    answer = probe(server, "/readyz")
    assert answer.status_code == 200
    assert answer.json()["checks"]["dispatcher"] == {"ok": True, "backlog": 3}
    alive[0] = False
    assert probe(server, "/readyz").status_code == 503

    def broken() -> Verdict:
        raise RuntimeError("postgres://user:password@host is down")

    alive[0] = True
    readiness(server.herald).add("dispatcher", broken)
    failed = probe(server, "/readyz")
    assert failed.status_code == 503
    assert failed.json()["checks"]["dispatcher"] == {"ok": False, "error": "RuntimeError"}
    assert "password" not in failed.text
