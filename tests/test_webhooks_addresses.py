"""Where webhooks may go: https to public addresses by default; http, and loopback or private
addresses, only when allowed; never link-local (cloud metadata), multicast or unspecified ones.
The address is checked where the connection is made, whatever a name resolved to when the
endpoint was saved; redirects are not followed."""

from __future__ import annotations

import asyncio
import ipaddress

import httpcore
import pytest

from app.settings import Settings
from app.webhooks.addresses import GuardedBackend, refusal, url_problem
from tests.conftest import draft, served
from tests.hooks import attempted, create, hooked, settled
from tests.receiver import Received, Receiver

CASES = {
    # address: (refused with https and nothing private, refused with http when private allowed)
    "8.8.8.8": (None, "8.8.8.8 is a public address, which only https may call"),
    "127.0.0.1": ("127.0.0.1 is a loopback address", None),
    "::1": ("::1 is a loopback address", None),
    "::ffff:127.0.0.1": ("127.0.0.1 is a loopback address", None),
    "10.0.0.7": ("10.0.0.7 is a private address", None),
    "192.168.1.1": ("192.168.1.1 is a private address", None),
    "fd00::1": ("fd00::1 is a private address", None),
    "169.254.169.254": ("169.254.169.254 is not an address webhooks may call",) * 2,
    "fe80::1": ("fe80::1 is not an address webhooks may call",) * 2,
    "0.0.0.0": ("0.0.0.0 is not an address webhooks may call",) * 2,
    "224.0.0.1": ("224.0.0.1 is not an address webhooks may call",) * 2,
    "100.64.0.1": ("100.64.0.1 is not an address webhooks may call",) * 2,
}


@pytest.mark.parametrize("address", CASES)
def test_each_kind_of_address_is_allowed_or_refused(address: str) -> None:
    ip = ipaddress.ip_address(address)
    by_default, http_when_private = CASES[address]
    assert refusal(ip, public=True, private=False) == by_default
    assert refusal(ip, public=False, private=True) == http_when_private


def test_urls_are_checked_before_they_are_saved() -> None:
    assert url_problem("https://hooks.example.com/in", allow_private=False) is None
    assert url_problem("http://hooks.example.com/in", allow_private=False) == (
        "must be an https URL"
    )
    # Allowed, http is still only for private addresses; a name is checked when called.
    assert url_problem("http://10.0.0.7:8080/in", allow_private=True) is None
    assert url_problem("http://8.8.8.8/in", allow_private=True) == (
        "cannot be called: 8.8.8.8 is a public address, which only https may call"
    )
    assert url_problem("https://example.com:0/", allow_private=False) == "must not name port 0"
    assert url_problem("https://example.com:99999/", allow_private=False) == "is not a URL"


def test_a_name_is_resolved_and_its_address_checked_where_the_connection_is_made() -> None:
    async def connect(backend: GuardedBackend) -> str:
        try:
            stream = await backend.connect_tcp("localhost", 9, timeout=1)
        except httpcore.ConnectError as error:
            return str(error)
        await stream.aclose()
        return "connected"

    refused = asyncio.run(connect(GuardedBackend(public=True, private=False)))
    assert refused.startswith("refused to connect: ")
    assert "is a loopback address" in refused
    # Allowed, it goes on to connect (nothing listens on the discard port: refused by the OS).
    allowed = asyncio.run(connect(GuardedBackend(public=True, private=True)))
    assert not allowed.startswith("refused to connect: ")


def test_an_endpoint_named_by_a_loopback_name_is_refused_when_called(
    sqlite_settings: Settings,
) -> None:
    with Receiver() as receiver, served(hooked(sqlite_settings, allow_private=False)) as live:
        api = live.client("acme")
        endpoint, _ = create(api, f"https://localhost:{receiver.port}/hook")
        draft(api)
        [delivery] = settled(api, endpoint, 1, attempted)
        api.close()
    error = str(delivery["attempts"][0]["error"])
    assert error.startswith("ConnectError: refused to connect: ")
    assert "is a loopback address" in error
    assert receiver.requests == []


def test_a_redirect_is_not_followed(sqlite_settings: Settings) -> None:
    async def answer(_: Received) -> int:
        return 302

    with Receiver(answer) as receiver, served(hooked(sqlite_settings)) as live:
        api = live.client("acme")
        endpoint, _ = create(api, receiver.url)
        draft(api)
        [delivery] = settled(api, endpoint, 1, attempted)
        api.close()
    assert delivery["attempts"][0]["error"] == "HTTP 302 (redirects are not followed)"
    assert {r.path for r in receiver.requests} == {"/hook"}
