"""What an event costs the live subscriptions of other workspaces: nothing. Each event is read
once to learn whose it is, and only the subscriptions it concerns wake and read the views."""

from __future__ import annotations

import asyncio

import pytest

from app.api import keycheck
from app.api.hub import hub_of
from app.api.listener import Moved
from app.database import Database
from app.runtime import Herald
from tests.live import WAIT, Reads, Subscription, draft, live, principal_of
from tests.processes import herald_cli

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
        assert reads.by_workspace[globex.workspace] >= 1
        assert all(s.results.empty() for s in idle)
    finally:
        await asyncio.gather(*(s.close() for s in [*idle, watcher]))


async def test_one_key_check_serves_every_subscription_and_a_revocation_ends_them_all(
    sqlite_herald: Herald, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Idle, the subscriptions read nothing; once a second one query checks the keys of all of
    them. `herald keys revoke`, from another process, ends every one of them."""
    herald = sqlite_herald
    key = herald.workspaces.create_key("acme", "watcher")
    digest = principal_of(herald, key).key_digest
    rounds: list[list[str]] = []
    two_rounds = asyncio.Event()
    loop = asyncio.get_running_loop()
    check = keycheck.active_digests

    def counted(db: Database, digests: list[str]) -> set[str]:
        rounds.append(digests)
        if len(rounds) >= 2:
            loop.call_soon_threadsafe(two_rounds.set)
        return check(db, digests)

    monkeypatch.setattr(keycheck, "active_digests", counted)
    reads = Reads(herald, monkeypatch)
    warm_up = await draft(herald, principal_of(herald, key), "warm-up")
    subscriptions = [Subscription(herald, key, after="0") for _ in range(IDLE)]
    try:
        for subscription in subscriptions:
            assert (await subscription.next())["messageId"] == warm_up
        reads.reset()
        rounds.clear()
        two_rounds.clear()
        await asyncio.wait_for(two_rounds.wait(), WAIT)
        assert rounds[:2] == [[digest], [digest]]  # one query a round for all of them
        assert sum(reads.by_workspace.values()) == 0  # and idle, none reads the views

        done = await asyncio.to_thread(
            herald_cli,
            herald.settings.database_url,
            *("keys", "revoke", "--workspace", "acme", "--name", "watcher"),
        )
        assert done.returncode == 0, done.stderr

        for subscription in subscriptions:
            ending = await asyncio.wait_for(subscription.results.get(), WAIT)
            assert [e["extensions"]["code"] for e in ending["errors"]] == ["UNAUTHENTICATED"]
        await asyncio.wait_for(asyncio.gather(*(s.task for s in subscriptions)), WAIT)
    finally:
        await asyncio.gather(*(s.close() for s in subscriptions))


async def test_an_event_wakes_only_the_subscriptions_whose_filter_it_passes(
    sqlite_herald: Herald, monkeypatch: pytest.MonkeyPatch
) -> None:
    herald = sqlite_herald
    key = herald.workspaces.create_key("acme", "acme-bot")
    acme = principal_of(herald, key)
    watched = await draft(herald, acme, "watched", conversation="support")
    reads = Reads(herald, monkeypatch)
    by_conversation = [Subscription(herald, key, c="sales", after="0") for _ in range(IDLE // 2)]
    by_message = [Subscription(herald, key, m=watched, after="0") for _ in range(IDLE // 2)]
    everything = Subscription(herald, key, after="0")
    try:
        sale = await draft(herald, acme, "a sale", conversation="sales")
        for subscription in by_conversation:
            assert (await subscription.next())["messageId"] == sale
        for subscription in by_message:
            assert (await subscription.next())["messageId"] == watched
        assert [(await everything.next())["messageId"] for _ in "ab"] == [watched, sale]
        reads.reset()

        elsewhere = await draft(herald, acme, "neither sales nor the watched message")
        assert (await everything.next())["messageId"] == elsewhere

        assert set(reads.by_filter) == {(acme.workspace, None, None)}, "a filtered one woke"
        assert all(s.results.empty() for s in [*by_conversation, *by_message])
    finally:
        await asyncio.gather(*(s.close() for s in [*by_conversation, *by_message, everything]))


async def test_a_wake_for_events_a_subscription_has_already_read_reads_nothing(
    sqlite_herald: Herald, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A subscription that started as an event landed reads it in its first page, and the
    hub's wake for that event comes after: it used to read the views again for nothing (CI
    saw a filtered subscription read after an event it did not pass)."""
    herald = sqlite_herald
    key = herald.workspaces.create_key("acme", "acme-bot")
    confirmed = asyncio.Event()

    async def confirm() -> None:
        confirmed.set()

    with hub_of(herald).listening(principal_of(herald, key), None, None) as listener:
        monkeypatch.setattr(listener, "confirm", confirm)
        listener.wake(5)  # the hub, late, for the event at 5
        waiting = asyncio.get_running_loop().create_task(listener.wait(read_to=5))
        await confirmed.wait()  # the wake was taken; the task has decided by now
        assert not waiting.done(), "woken for an event it had read"
        listener.wake(6)
        await asyncio.wait_for(waiting, WAIT)


async def test_each_subscription_is_woken_for_the_last_event_its_filter_passes(
    sqlite_herald: Herald,
) -> None:
    """Events that land together wake each subscription for the last of those it passes, not
    the last of all: one that read its own event must not read again for another's."""
    herald = sqlite_herald
    acme = principal_of(herald, herald.workspaces.create_key("acme", "acme-bot"))
    moved = Moved()
    moved.add(5, "sales", "a" * 32)
    moved.add(6, "support", "b" * 32)
    hub = hub_of(herald)
    filters = {
        (None, None): 6,
        ("sales", None): 5,
        (None, "b" * 32): 6,
        ("sales", "b" * 32): None,
        ("billing", None): None,
    }
    for (conversation, message), last in filters.items():
        with hub.listening(acme, conversation, message) as listener:
            assert listener.last_concerning(moved) == last, (conversation, message)
