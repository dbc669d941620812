"""The webhook API's rules over real HTTP: bad input is VALIDATION_FAILED by JSON path and
changes nothing; another workspace's endpoints do not exist; secrets are shown once and never
stored in clear, and neither they nor any content land in the delivery logs."""

from __future__ import annotations

import base64
from typing import Any

from app.settings import Settings
from app.webhooks.endpoints import MAX_ENDPOINTS
from tests.conftest import Api, LiveServer, draft, served
from tests.erasure import holding, key_needles, stored_bytes, text_needles
from tests.hooks import (
    CREATE,
    DELETE,
    DELIVERIES,
    DISABLE,
    ENABLE,
    ENDPOINTS,
    REPLAY,
    ROTATE,
    UPDATE,
    create,
    eventually,
    hooked,
    settled,
)
from tests.receiver import Receiver


def test_bad_endpoint_input_fails_by_json_path_and_creates_nothing(
    sqlite_settings: Settings,
) -> None:
    with served(sqlite_settings) as live:
        refused(live.client("acme"))


def refused(api: Api) -> None:
    bad = {
        "url": "http://127.0.0.1:8080/hook",  # http, and loopback, without the setting
        "eventTypes": ["message.sent", "message.exploded"],
        "description": "d" * 257,
    }
    error = api.error(CREATE, {"input": bad})
    assert error["code"] == "VALIDATION_FAILED"
    assert error["details"] == {
        "input.url": ["must be an https URL"],
        "input.eventTypes[1]": [
            "is not one of message.approved, message.drafted, message.edited, message.redacted, "
            "message.rejected, message.sent, message.status_changed"
        ],
        "input.description": ["must be at most 256 characters"],
    }
    urls = {
        "https://10.1.2.3/hook": "cannot be called: 10.1.2.3 is a private address",
        "https://[::1]/hook": "cannot be called: ::1 is a loopback address",
        "https://169.254.169.254/latest/meta-data": (
            "cannot be called: 169.254.169.254 is not an address webhooks may call"
        ),
        "https://ann:pw@hooks.example.com/": "must not carry credentials: it is stored in clear",
        "https://hooks.example.com/\x00": (
            "must not contain spaces, control or unpaired surrogate characters"
        ),
        "hooks.example.com/path": "must be an https URL",
        "https:///path-only": "must name a host",
        f"https://hooks.example.com/{'a' * 2_048}": "must be at most 2048 characters",
    }
    for url, why in urls.items():
        assert api.error(CREATE, {"input": {"url": url}})["details"] == {"input.url": [why]}
    empty = api.error(CREATE, {"input": {"url": "https://hooks.example.com", "eventTypes": []}})
    assert empty["details"] == {
        "input.eventTypes": ["name at least one type, or leave it out for all"]
    }
    assert api.ok(ENDPOINTS)["webhookEndpoints"] == []
    api.close()


def test_an_endpoint_is_created_listed_changed_disabled_enabled_and_deleted(
    server: LiveServer,
) -> None:
    api = server.client("acme")
    made = api.ok(
        CREATE,
        {"input": {"url": "https://hooks.example.com/a", "eventTypes": ["message.sent"]}},
    )["createWebhookEndpoint"]
    endpoint = made["endpoint"]
    assert made["secret"].startswith("whsec_")
    assert len(made["secret"]) == 6 + 32
    assert endpoint["enabled"] is True
    assert endpoint["eventTypes"] == ["message.sent"]
    assert api.ok(ENDPOINTS)["webhookEndpoints"] == [endpoint]

    changed = api.ok(
        UPDATE,
        {"input": {"id": endpoint["id"], "eventTypes": None, "description": "all of them"}},
    )["updateWebhookEndpoint"]
    assert changed["eventTypes"] is None
    assert changed["description"] == "all of them"
    assert changed["url"] == "https://hooks.example.com/a"  # left out: unchanged
    off = api.ok(DISABLE, {"id": endpoint["id"]})["disableWebhookEndpoint"]
    assert off["enabled"] is False
    assert off["disabledReason"] == "disabled by acme-key"
    on = api.ok(ENABLE, {"id": endpoint["id"]})["enableWebhookEndpoint"]
    assert on["enabled"] is True
    assert on["disabledReason"] is None
    assert api.ok(DELETE, {"id": endpoint["id"]})["deleteWebhookEndpoint"] == endpoint["id"]
    assert api.ok(ENDPOINTS)["webhookEndpoints"] == []
    assert api.error(ROTATE, {"id": endpoint["id"]})["code"] == "NOT_FOUND"
    api.close()
    db = server.herald.store.db
    # Its key is gone with it, so its secrets can never be read again; the row is purged later.
    assert db.read_one(db.sql("SELECT COUNT(*) FROM webhook_keys"), ())[0] == 0

    def purged() -> bool | None:
        return db.read_one(db.sql("SELECT COUNT(*) FROM webhook_endpoints"), ())[0] == 0 or None

    eventually(purged, "the deleted endpoint is purged")


def test_a_workspace_has_a_bounded_number_of_endpoints(server: LiveServer) -> None:
    api = server.client("acme")
    for i in range(MAX_ENDPOINTS):
        create(api, f"https://hooks.example.com/{i}")
    over = api.error(CREATE, {"input": {"url": "https://hooks.example.com/one-more"}})
    assert over["code"] == "LIMIT_EXCEEDED"
    assert len(api.ok(ENDPOINTS)["webhookEndpoints"]) == MAX_ENDPOINTS
    api.close()


def test_another_workspace_s_endpoints_do_not_exist_for_the_caller(server: LiveServer) -> None:
    ours, theirs = server.client("acme"), server.client("globex")
    endpoint, _ = create(theirs, "https://hooks.example.com/globex")
    attempts: list[tuple[str, dict[str, Any]]] = [
        (DELIVERIES, {"id": endpoint}),
        (UPDATE, {"input": {"id": endpoint, "description": "mine now"}}),
        (ROTATE, {"id": endpoint}),
        (DISABLE, {"id": endpoint}),
        (ENABLE, {"id": endpoint}),
        (REPLAY, {"id": endpoint, "after": "0"}),
        (DELETE, {"id": endpoint}),
    ]
    for document, variables in attempts:
        assert ours.error(document, variables)["code"] == "NOT_FOUND"
    assert ours.error(ROTATE, {"id": "not-an-id"})["code"] == "NOT_FOUND"
    assert ours.ok(ENDPOINTS)["webhookEndpoints"] == []
    [still] = theirs.ok(ENDPOINTS)["webhookEndpoints"]
    assert still["description"] == ""
    assert still["enabled"] is True
    ours.close()
    theirs.close()


def test_secrets_and_content_are_not_stored_in_clear(settings: Settings) -> None:
    with Receiver() as receiver, served(hooked(settings)) as live:
        api = live.client("acme")
        endpoint, first = create(api, receiver.url)
        second = api.ok(ROTATE, {"id": endpoint})["rotateWebhookSecret"]["secret"]
        draft(api, "The vault code is 9731", reference="dossier 5521")
        settled(api, endpoint, 1)
        api.close()
        live.herald.store.keys.flush()  # what SQLite's write-ahead log holds reaches the file
    stored = stored_bytes(settings.database_url)
    for secret in (first, second):
        assert holding(stored, text_needles(secret)) == []
        assert holding(stored, text_needles(secret.removeprefix("whsec_"))) == []
        assert holding(stored, key_needles(base64.b64decode(secret.removeprefix("whsec_")))) == []
    assert holding(stored, text_needles("vault code")) == []
    assert holding(stored, text_needles("dossier 5521")) == []
    assert len(receiver.delivered()) == 1


def test_a_deliveries_page_takes_0_to_100_and_only_a_cursor_it_gave_out(
    sqlite_settings: Settings,
) -> None:
    with served(sqlite_settings) as live:
        api = live.client("acme")
        endpoint, _ = create(api, "https://hooks.example.com/a")
        empty = api.ok(DELIVERIES, {"id": endpoint, "first": 0})["webhookDeliveries"]
        assert empty["edges"] == []
        too_many = api.error(DELIVERIES, {"id": endpoint, "first": 101})
        assert too_many["details"] == {"first": ["must be between 0 and 100"]}
        not_ours = api.error(DELIVERIES, {"id": endpoint, "after": "x"})
        assert not_ours["details"] == {"after": ["is not a cursor this API gave out"]}
        api.close()
