"""What an event costs the live subscriptions of other workspaces: nothing. Each event is read
once to learn whose it is, and only the subscriptions it concerns wake and read the views."""

from __future__ import annotations

import asyncio

import pytest

from app.runtime import Herald
from tests.live import Reads, Subscription, draft, live, principal_of

IDLE = 60  # subscriptions another workspace holds, idle, while one workspace writes


async def test_an_event_wakes_no_idle_subscription_of_another_workspace(
    herald: Herald, monkeypatch: pytest.MonkeyPatch
) -> None:
    acme_key = herald.workspaces.create_key("acme", "acme-bot")
    globex_key = herald.workspaces.create_key("globex", "globex-bot")
    acme, globex = principal_of(herald, acme_key), principal_of(herald, globex_key)
    reads = Reads(herald, monkeypatch)
    warm_up = await draft(herald, acme, "acme warm-up")
    # From the first event on: each gets the warm-up, however late it starts, then idles.
    idle = [Subscription(herald, acme_key, after="0") for _ in range(IDLE)]
    watcher = Subscription(herald, globex_key)
    try:
        for subscription in idle:
            assert (await subscription.next())["messageId"] == warm_up
        await live(watcher, lambda: draft(herald, globex, "globex warm-up"))
        reads.reset()

        written = [await draft(herald, globex, f"globex {n}") for n in range(3)]
        got = [(await watcher.next())["messageId"] for _ in written]

        assert got == written
        assert reads.by_workspace[acme.workspace] == 0, "acme's idle subscriptions woke"
        assert 1 <= reads.by_workspace[globex.workspace] <= len(written)
        assert all(s.results.empty() for s in idle)
    finally:
        await asyncio.gather(*(s.close() for s in [*idle, watcher]))
