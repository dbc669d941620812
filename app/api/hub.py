"""One hub for each Herald: it hears the projection move, reads once whose events the new
positions hold (workspace, conversation, message), and wakes only the subscriptions they
concern. Once a second it checks every key that holds a subscription, in one query, and ends
the subscriptions of revoked keys, so a revocation from another process ends them too."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Iterator

from app.database import Database
from app.runtime import Herald
from app.workspaces import Principal

from .context import blocking
from .keycheck import KeyChecks
from .listener import Listener, Moved, wake
from .per_herald import per_herald

log = logging.getLogger(__name__)
_ROWS = 1_000  # moved events read at a time
_KEY_CHECK = 1.0  # seconds between checks of the keys holding subscriptions


def moved(db: Database, after: int, upto: int) -> list[tuple[int, str, str, str]]:
    """(position, workspace, conversation, message) of the events in (after, upto]."""
    with db.transaction(commit=False) as c:
        c.execute(
            db.sql(
                "SELECT notification_id, workspace, conversation_id, message_id FROM view_events "
                "WHERE notification_id > ? AND notification_id <= ? "
                "ORDER BY notification_id LIMIT ?"
            ),
            (after, upto, _ROWS),
        )
        return [(int(r[0]), str(r[1]), str(r[2]), str(r[3])) for r in c.fetchall()]


class Hub:
    def __init__(self, herald: Herald) -> None:
        self.db = herald.store.db
        self.keys = KeyChecks(self.db)
        self.loop: asyncio.AbstractEventLoop | None = None
        self.by_workspace: dict[str, set[Listener]] = {}
        self._moved = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        herald.projection.listen(self._heard)
        # Heard from here on; anything before is read by each subscriber from its own position.
        self.read_to = self.target = herald.projection.position

    @contextlib.contextmanager
    def listening(
        self, principal: Principal, conversation_id: str | None, message_id: str | None
    ) -> Iterator[Listener]:
        self._bind()
        listener = Listener(self.keys, principal, conversation_id, message_id)
        self.by_workspace.setdefault(principal.workspace, set()).add(listener)
        if self._task is None or self._task.done():
            self._task = asyncio.get_running_loop().create_task(self._run())
        try:
            yield listener
        finally:
            listeners = self.by_workspace[principal.workspace]
            listeners.discard(listener)
            if not listeners:
                del self.by_workspace[principal.workspace]
            if not self.by_workspace:
                self._moved.set()  # the hub's task ends now rather than at its next check

    def _bind(self) -> None:
        loop = asyncio.get_running_loop()
        if self.loop is not loop:
            assert not self.by_workspace, "one Herald's subscriptions share one event loop"
            self.loop, self._moved, self._task = loop, asyncio.Event(), None

    def _heard(self, position: int) -> None:
        """From the thread that moved the projection."""
        loop = self.loop
        if loop is not None and not loop.is_closed():
            with contextlib.suppress(RuntimeError):  # closed meanwhile: nobody to wake
                loop.call_soon_threadsafe(self._advance, position)

    def _advance(self, position: int) -> None:
        self.target = max(self.target, position)
        if self.by_workspace:
            self._moved.set()
        else:
            self.read_to = self.target  # nobody listens: nothing to read

    async def _run(self) -> None:
        loop = asyncio.get_running_loop()
        check_at = loop.time() + _KEY_CHECK
        while self.by_workspace:
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(max(0.0, check_at - loop.time())):
                    await self._moved.wait()
            try:
                if self._moved.is_set():
                    self._moved.clear()
                    await self._wake_moved()
                if loop.time() >= check_at:
                    await self._check_keys()
                    check_at = loop.time() + _KEY_CHECK
            except Exception:
                log.exception("the subscription hub failed; waking every subscription")
                self.read_to = self.target
                for listeners in self.by_workspace.values():
                    for listener in listeners:
                        listener.wake(None)

    async def _wake_moved(self) -> None:
        target = self.target
        while self.read_to < target:
            rows = await blocking(moved, self.db, self.read_to, target)
            touched: dict[str, Moved] = {}
            for position, workspace, conversation, message in rows:
                if workspace in self.by_workspace:
                    touched.setdefault(workspace, Moved()).add(position, conversation, message)
            for workspace, moved_here in touched.items():
                wake(self.by_workspace.get(workspace, set()), moved_here)
            self.read_to = rows[-1][0] if len(rows) == _ROWS else target

    async def _check_keys(self) -> None:
        listeners = [each for group in self.by_workspace.values() for each in group]
        active = await self.keys.active({each.principal.key_digest for each in listeners})
        for listener in listeners:
            if listener.principal.key_digest not in active:
                listener.revoked = True
                listener.wake(None)


hub_of = per_herald(Hub)
