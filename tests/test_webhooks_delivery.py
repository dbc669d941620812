"""Webhooks delivered to a real receiver on loopback, on both backends: each event signed as
Standard Webhooks says (checked with its reference library), retried on failure with the same
webhook-id, in order per message, and built anew for each attempt from the message's key as it
is then."""

from __future__ import annotations

import asyncio
import dataclasses
import itertools
import threading
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest
from standardwebhooks import Webhook, WebhookVerificationError

from app.settings import Settings
from tests.conftest import draft, served
from tests.hooks import (
    ENABLE,
    ENDPOINTS,
    FAST,
    REPLAY,
    ROTATE,
    attempted,
    create,
    deliveries,
    eventually,
    hooked,
    settled,
)
from tests.receiver import Received, Receiver, hold
from tests.test_metrics import moved, scrape

EDIT = "mutation($input: EditMessageInput!) { editMessage(input: $input) { version } }"
SEND = "mutation($input: SendMessageInput!) { sendMessage(input: $input) { version } }"
REDACT = "mutation($input: RedactMessageInput!) { redactMessage(input: $input) { version } }"


def test_each_event_is_posted_signed_and_verifies_with_the_standard_webhooks_library(
    settings: Settings,
) -> None:
    with Receiver() as receiver, served(hooked(settings)) as live:
        api = live.client("acme")
        endpoint, secret = create(api, receiver.url, description="ours")
        assert secret.startswith("whsec_")
        mid = draft(
            api,
            "Your parcel left",
            recipients=[{"identifierKey": "phonenumber", "identifierValue": "+15550100"}],
        )["id"]
        api.ok(EDIT, {"input": {"id": mid, "text": "Your parcel arrives today"}})
        api.ok(SEND, {"input": {"id": mid}})
        receiver.wait(lambda r: len(r.delivered()) == 3)

        got = receiver.delivered()
        for request in got:
            assert Webhook(secret).verify(request.body, request.headers) == request.payload
            with pytest.raises(WebhookVerificationError):
                Webhook("whsec_" + "A" * 32).verify(request.body, request.headers)
        assert [r.payload["type"] for r in got] == [
            "message.drafted",
            "message.edited",
            "message.sent",
        ]
        first, edited, sent = (r.data for r in got)
        assert first["type"] == "Drafted"
        assert first["messageId"] == mid
        assert first["conversationId"] == "conv-1"
        assert first["version"] == 1
        assert first["actor"] == "acme-key"
        assert got[0].payload["timestamp"] == first["occurredAt"]
        assert first["message"]["text"] == "Your parcel left"
        assert first["message"]["recipients"][0]["identifierValue"] == "+15550100"
        assert edited["message"]["text"] == "Your parcel arrives today"
        assert sent["message"]["status"] == "ACCEPTED"
        assert sent["version"] == 3

        listed = settled(api, endpoint, 3)
        assert [d["webhookId"] for d in reversed(listed)] == [r.id for r in got]
        assert {d["status"] for d in listed} == {"DELIVERED"}
        assert [a["httpStatus"] for d in listed for a in d["attempts"]] == [200, 200, 200]
        api.close()


def test_a_failed_attempt_is_retried_on_the_schedule_with_the_same_webhook_id(
    settings: Settings,
) -> None:
    seen: Counter[str] = Counter()
    released = threading.Event()

    async def answer(request: Received) -> int:
        seen[request.id] += 1
        if seen[request.id] == 1:
            return 500
        if seen[request.id] == 2:
            await hold(released)  # past the time limit: the dispatcher gives up on it
            return 200
        return 204

    with Receiver(answer) as receiver, served(hooked(settings, timeout=0.3)) as live:
        before = scrape(live.base_url)
        api = live.client("acme")
        endpoint, secret = create(api, receiver.url)
        draft(api)
        receiver.wait(lambda r: len(r.delivered()) == 1)
        released.set()
        [delivery] = settled(api, endpoint, 1)
        api.close()
        after = scrape(live.base_url)
        ready = httpx.get(f"{live.base_url}/readyz", timeout=10).json()

    counted = "herald_webhook_deliveries_total"
    assert moved(before, after, counted, result="failed") == 2
    assert moved(before, after, counted, result="delivered") == 1
    assert ready["checks"]["webhooks"] == {"ok": True, "leading": True}
    assert len(receiver.requests) == 3
    assert {r.id for r in receiver.requests} == {delivery["webhookId"]}
    assert len({r.body for r in receiver.requests}) == 1  # the same event, signed anew each time
    for r in receiver.requests:
        Webhook(secret).verify(r.body, r.headers)
    assert delivery["status"] == "DELIVERED"
    attempts = delivery["attempts"]
    assert [(a["attempt"], a["httpStatus"]) for a in attempts] == [(1, 500), (2, None), (3, 204)]
    assert attempts[0]["error"] == "HTTP 500"
    assert attempts[1]["error"] == "no answer within 0.3 s"
    assert attempts[2]["error"] is None
    assert attempts[2]["nextRetryAt"] is None
    for before, after in itertools.pairwise(attempts):
        # Never earlier than the schedule said: 0.2 s after the failure, no jitter.
        assert before["nextRetryAt"] is not None
        assert after["at"] >= before["nextRetryAt"]


def test_a_410_disables_the_endpoint_which_when_enabled_again_sends_what_waited(
    settings: Settings,
) -> None:
    gone = threading.Event()
    gone.set()

    async def answer(_: Received) -> int:
        return 410 if gone.is_set() else 200

    with Receiver(answer) as receiver, served(hooked(settings)) as live:
        api = live.client("acme")
        endpoint, _ = create(api, receiver.url)
        draft(api, "first")
        [waiting] = settled(api, endpoint, 1, attempted)
        [found] = api.ok(ENDPOINTS)["webhookEndpoints"]
        assert found["enabled"] is False
        assert found["disabledReason"] == "the endpoint answered 410 Gone"
        assert waiting["attempts"][0]["httpStatus"] == 410

        draft(api, "while disabled")  # not queued for a disabled endpoint
        assert len(deliveries(api, endpoint)) == 1
        # ... unless replayed: queued now, sent once the endpoint is enabled.
        api.ok(REPLAY, {"id": endpoint, "after": waiting["eventCursor"]})
        settled(api, endpoint, 1, lambda d: d["replayed"])
        gone.clear()
        assert api.ok(ENABLE, {"id": endpoint})["enableWebhookEndpoint"]["enabled"] is True
        draft(api, "after")
        delivered = settled(api, endpoint, 3)
        api.close()
    texts = sorted(r.data["message"]["text"] for r in receiver.delivered())
    assert texts == ["after", "first", "while disabled"]  # three messages: in no set order
    assert {d["status"] for d in delivered} == {"DELIVERED"}


def test_an_endpoint_that_keeps_failing_is_disabled_and_says_since_when(
    sqlite_settings: Settings,
) -> None:
    with Receiver() as receiver, served(hooked(sqlite_settings, disable_after=0.3)) as live:
        api = live.client("acme")
        endpoint, _ = create(api, "http://127.0.0.1:1/nobody-listens")
        neighbour, _ = create(api, receiver.url)
        draft(api)

        def disabled() -> dict[str, str | None] | None:
            found = {e["id"]: e["disabledReason"] for e in api.ok(ENDPOINTS)["webhookEndpoints"]}
            return found if found[endpoint] else None

        reasons = eventually(disabled, "the failing endpoint is disabled")
        [failed] = deliveries(api, endpoint)
        api.close()
    why = str(reasons[endpoint])
    assert why.startswith("every attempt failed since ")
    assert why.endswith("(0.3 seconds)")
    assert "ConnectError" in str(failed["attempts"][0]["error"])
    assert reasons[neighbour] is None  # a neighbour that answers is left alone
    assert len(receiver.delivered()) == 1


def test_a_retry_after_a_redaction_carries_no_erased_field(settings: Settings) -> None:
    redacted = threading.Event()

    async def answer(request: Received) -> int:
        if request.data["type"] == "Drafted" and not redacted.is_set():
            await hold(redacted)
            return 500  # built before the redaction: refused, so it is tried again
        return 200

    with Receiver(answer) as receiver, served(hooked(settings, timeout=30)) as live:
        api = live.client("acme")
        create(api, receiver.url)
        phone = "+15550142"
        mid = draft(
            api,
            "Your code is 4242",
            recipients=[{"identifierKey": "phonenumber", "identifierValue": phone}],
            reference="order 77",
        )["id"]
        receiver.wait(lambda r: len(r.requests) == 1)
        api.ok(REDACT, {"input": {"id": mid, "reason": "asked by the customer"}})
        redacted.set()
        receiver.wait(lambda r: len(r.delivered()) == 2)
        api.close()

    first, retry, redaction = receiver.requests
    assert phone.encode() in first.body
    assert b"4242" in first.body
    assert retry.id == first.id
    assert retry.data["type"] == "Drafted"
    for later in (retry, redaction):
        assert phone.encode() not in later.body
        assert b"4242" not in later.body
        assert b"order 77" not in later.body
        assert b"asked by" not in later.body
    erased = retry.data["message"]
    assert erased["text"] is None
    assert erased["body"] is None
    assert erased["reference"] is None
    assert erased["recipients"][0]["identifierValue"] == ""
    assert redaction.data["type"] == "Redacted"
    assert redaction.data["message"]["redacted"]
    assert [r.data["type"] for r in receiver.delivered()] == ["Drafted", "Redacted"]


def test_each_message_s_events_go_out_in_order_while_messages_go_in_parallel(
    settings: Settings,
) -> None:
    messages, edits = 6, 4
    answers = itertools.count()

    async def answer(_: Received) -> int:
        n = next(answers)
        await asyncio.sleep(0.001 * (n % 5))  # answers of uneven speed, so sends overlap
        return 500 if n % 4 == 1 else 200

    with Receiver(answer) as receiver, served(hooked(settings)) as live:
        api = live.client("acme")
        endpoint, _ = create(api, receiver.url)

        def write(i: int) -> None:
            client = live.client("acme")
            mid = draft(client, f"m{i} v1", conversationId=f"c{i}")["id"]
            for v in range(2, edits + 2):
                client.ok(EDIT, {"input": {"id": mid, "text": f"m{i} v{v}"}})
            client.close()

        with ThreadPoolExecutor(messages) as pool:
            list(pool.map(write, range(messages)))
        total = messages * (edits + 1)
        receiver.wait(lambda r: len(r.delivered()) == total)
        settled(api, endpoint, total)
        api.close()

    by_message: dict[str, list[Received]] = {}
    for r in receiver.requests:
        by_message.setdefault(r.data["messageId"], []).append(r)
    assert len(by_message) == messages
    answered = {(r.id, r.started): r for r in receiver.answered}
    for requests in by_message.values():
        versions = [r.data["version"] for r in requests]
        assert sorted(set(versions)) == list(range(1, edits + 2))
        assert versions == sorted(versions)  # retries repeat a version; none goes back
        for r in requests:
            earlier = [
                answered[(e.id, e.started)]
                for e in requests
                if e.data["version"] < r.data["version"]
            ]
            # Every earlier event of the message was answered 2xx before this one left.
            assert any(e.status == 200 for e in earlier) or r.data["version"] == 1
            assert all(e.finished <= r.started for e in earlier)
    spans = [(r.started, r.finished) for r in receiver.answered]
    overlapping = max(sum(1 for s, f in spans if s <= start < f) for start, _ in spans)
    assert overlapping <= FAST.concurrency


def test_a_replay_sends_the_events_after_a_position_again_with_their_webhook_ids(
    settings: Settings,
) -> None:
    with Receiver() as receiver, served(hooked(settings)) as live:
        api = live.client("acme")
        endpoint, _ = create(api, receiver.url)
        for text in ("one", "two", "three"):
            draft(api, text)
        first, second, third = reversed(settled(api, endpoint, 3))
        replay = api.ok(REPLAY, {"id": endpoint, "after": first["eventCursor"]})
        assert replay["replayWebhooks"]["after"] == first["eventCursor"]
        assert int(replay["replayWebhooks"]["until"]) >= int(third["eventCursor"])
        receiver.wait(lambda r: len(r.delivered()) == 5)
        listed = settled(api, endpoint, 5)
        api.close()
    ids = Counter(r.id for r in receiver.delivered())  # three messages: in no set order
    assert ids == Counter({first["webhookId"]: 1, second["webhookId"]: 2, third["webhookId"]: 2})
    assert [d["replayed"] for d in listed] == [True, True, False, False, False]


def test_after_a_rotation_the_new_and_the_previous_secret_both_sign(
    sqlite_settings: Settings,
) -> None:
    with Receiver() as receiver, served(hooked(sqlite_settings)) as live:
        api = live.client("acme")
        endpoint, old = create(api, receiver.url)
        rotated = api.ok(ROTATE, {"id": endpoint})["rotateWebhookSecret"]
        new = rotated["secret"]
        assert new != old
        assert rotated["endpoint"]["previousSecretExpiresAt"] is not None
        draft(api)
        receiver.wait(lambda r: len(r.delivered()) == 1)
        [request] = receiver.delivered()
        for secret in (new, old):
            Webhook(secret).verify(request.body, request.headers)
        assert len(request.headers["webhook-signature"].split(" ")) == 2

        endpoints = live.herald.webhooks.endpoints
        with live.herald.store.db.transaction(commit=False) as c:
            later = endpoints.secrets.signing(c, endpoint, time.time() + FAST.secret_overlap + 1)
        assert later is not None
        assert later[2] == [new]
        api.close()


def test_each_event_of_a_long_history_carries_the_message_as_it_was_then(
    sqlite_settings: Settings,
) -> None:
    # Snapshots every 2 events: the later payloads start from one.
    settings = dataclasses.replace(hooked(sqlite_settings), snapshot_interval=2)
    with Receiver() as receiver, served(settings) as live:
        api = live.client("acme")
        create(api, receiver.url)
        mid = draft(api, "v1")["id"]
        for v in range(2, 7):
            api.ok(EDIT, {"input": {"id": mid, "text": f"v{v}"}})
        receiver.wait(lambda r: len(r.delivered()) == 6)
        api.close()
    got = [(r.data["version"], r.data["message"]["text"]) for r in receiver.delivered()]
    assert got == [(v, f"v{v}") for v in range(1, 7)]
    assert {r.data["message"]["version"] for r in receiver.delivered()} == set(range(1, 7))
