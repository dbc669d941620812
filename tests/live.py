"""In-process subscriptions for tests of the live machinery: the real schema and Herald, no
socket, so a test can hold hundreds of subscriptions and count what each event costs."""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from collections.abc import Awaitable, Callable
from typing import Any

import pytest
from starlette.requests import Request

from app.api.context import Context
from app.api.schema import build_schema
from app.body_text import text_body
from app.runtime import Herald
from app.workspaces import Principal

WAIT = 10.0
SUBSCRIBE = """
subscription($c: ID, $m: ID, $after: String) {
  messageEvents(conversationId: $c, messageId: $m, after: $after) { messageId version type }
}
"""


def context_for(herald: Herald, key: str) -> Context:
    scope = {
        "type": "http",
        "method": "POST",
        "path": "/graphql",
        "headers": [(b"authorization", f"Bearer {key}".encode())],
        "query_string": b"",
    }
    return Context(herald=herald, request=Request(scope))


class Subscription:
    """One messageEvents subscription, its results gathered on a queue by a task of its own."""

    def __init__(self, herald: Herald, key: str, **variables: str | None) -> None:
        self.results: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
        self.task = asyncio.create_task(self._run(context_for(herald, key), variables))

    async def _run(self, context: Context, variables: dict[str, str | None]) -> None:
        stream = await build_schema().subscribe(
            SUBSCRIBE, variable_values=variables, context_value=context
        )
        assert not isinstance(stream, Exception)
        async for result in stream:
            formatted: dict[str, Any] = {"data": result.data}
            if result.errors:
                formatted["errors"] = [error.formatted for error in result.errors]
            await self.results.put(formatted)

    async def next(self) -> dict[str, Any]:
        result = await asyncio.wait_for(self.results.get(), WAIT)
        assert "errors" not in result, result
        event: dict[str, Any] = result["data"]["messageEvents"]
        return event

    async def close(self) -> None:
        self.task.cancel()
        await asyncio.gather(self.task, return_exceptions=True)


async def draft(herald: Herald, p: Principal, text: str, conversation: str = "conv-1") -> str:
    msg = await asyncio.to_thread(
        herald.store.draft,
        p,
        None,
        conversation_id=conversation,
        channel="CHAT",
        content=text_body(text),
        recipients=[],
        sender=None,
        reply_to=None,
        reference=None,
        requires_approval=False,
        actor="test",
    )
    return str(msg.id)


def principal_of(herald: Herald, key: str) -> Principal:
    return herald.workspaces.authenticate(key)


async def live(subscription: Subscription, write: Callable[[], Awaitable[str]]) -> None:
    """Return once the subscription streams: write and wait for the event, again while none
    comes (an event written before the subscription started never will)."""
    deadline = time.monotonic() + WAIT
    while True:
        written = await write()
        try:
            while (await asyncio.wait_for(subscription.next(), 1.0))["messageId"] != written:
                pass
            return
        except TimeoutError:
            if time.monotonic() >= deadline:
                raise


class Reads:
    """Counts the events view's reads by workspace and by filter (workspace, conversation,
    message): each one is a subscriber that woke."""

    def __init__(self, herald: Herald, monkeypatch: pytest.MonkeyPatch) -> None:
        self.by_workspace: Counter[str] = Counter()
        self.by_filter: Counter[tuple[str, str | None, str | None]] = Counter()
        read = herald.views.events

        def counted(
            workspace: str, conversation_id: str | None, message_id: str | None, *args: Any
        ) -> Any:
            self.by_workspace[workspace] += 1
            self.by_filter[workspace, conversation_id, message_id] += 1
            return read(workspace, conversation_id, message_id, *args)

        monkeypatch.setattr(herald.views, "events", counted)

    def reset(self) -> None:
        self.by_workspace.clear()
        self.by_filter.clear()
