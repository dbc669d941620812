"""Cursors given to messageEvents: another workspace's cursor is only a position, and yields
the caller's own events after it and nothing else; anything that is not a cursor is refused."""

from __future__ import annotations

import asyncio

import pytest

from app.runtime import Herald
from tests.live import Subscription, draft, principal_of


@pytest.fixture
def herald(sqlite_herald: Herald) -> Herald:
    """SQLite only: a cursor is read by the same query on both backends (test_resume.py)."""
    return sqlite_herald


async def test_another_workspaces_cursor_yields_only_the_callers_own_later_events(
    herald: Herald,
) -> None:
    acme_key = herald.workspaces.create_key("acme", "acme-bot")
    globex_key = herald.workspaces.create_key("globex", "globex-bot")
    acme, globex = principal_of(herald, acme_key), principal_of(herald, globex_key)
    await draft(herald, acme, "acme, before")
    await draft(herald, globex, "globex's, whose cursor acme is given")
    theirs = herald.views.events(globex.workspace, None, None, 10, 0).items[-1][0]
    mine = [await draft(herald, acme, "acme, after")]
    await draft(herald, globex, "globex's, later")
    mine.append(await draft(herald, acme, "acme, last"))

    subscription = Subscription(herald, acme_key, after=str(theirs))
    try:
        got = [await subscription.next() for _ in mine]
        assert [e["messageId"] for e in got] == mine
        assert subscription.results.empty()
    finally:
        await subscription.close()


@pytest.mark.parametrize("cursor", ["abc", "-1", "1.5", "9" * 19, "١٢"])
async def test_anything_but_a_cursor_is_refused_before_any_event(
    herald: Herald, cursor: str
) -> None:
    key = herald.workspaces.create_key("acme", "acme-bot")
    subscription = Subscription(herald, key, after=cursor)
    try:
        result = await asyncio.wait_for(subscription.results.get(), 10)
        assert result["data"] is None
        assert [e["extensions"]["code"] for e in result["errors"]] == ["VALIDATION_FAILED"]
    finally:
        await subscription.close()
