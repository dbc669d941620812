"""The dispatcher: a thread with an event loop of its own, off the request path. While this
process holds the lease it runs rounds: record what finished, prepare what is due (in a thread:
all of it is database work), and send each on its own task; then wait to be woken (a write
here, the watcher's tick), for a send to finish, or for the next retry to come due.

A delivery stays pending until its outcome is committed, and is not picked again while in
flight here, so a kill -9 at any moment leaves it to be sent again: at least once, and with
the same webhook-id."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
import time
from collections import Counter
from collections.abc import Callable

from .deliveries import Deliveries, Outcome
from .jobs import Jobs
from .lease import Lease
from .sender import Job, Sender

log = logging.getLogger(__name__)
_TAKEOVER = 0.25  # how often a standby tries the lease
_CHECK = 1.0  # how often the leader makes sure it still holds it
_IDLE = 1.0  # the longest wait between rounds
_IN_FLIGHT = 256  # deliveries in flight at once, over every endpoint
_STALL = 30.0  # a loop silent this long is not alive
_GRACE = 5.0  # how long a stopping dispatcher lets what is in flight finish


class Dispatcher:
    def __init__(
        self,
        jobs: Jobs,
        deliveries: Deliveries,
        lease: Lease,
        sender: Callable[[], Sender],
    ) -> None:
        self.jobs = jobs
        self.deliveries = deliveries
        self.lease = lease
        self.sender = sender
        self.leader = False  # whether this process dispatches now
        self.heartbeat = 0.0  # time.monotonic() of the last round or try for the lease
        self.results: Counter[str] = Counter()  # attempts here: delivered, retrying, failed
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._woken: asyncio.Event | None = None
        self._in_flight: dict[str, set[int]] = {}
        self._tasks: set[asyncio.Task[None]] = set()
        self._finished: list[Outcome] = []
        self._checked = 0.0

    @property
    def alive(self) -> bool:
        """Running, leading or standing by, and not stuck."""
        running = self._thread is not None and self._thread.is_alive()
        return running and time.monotonic() - self.heartbeat < _STALL

    def start(self) -> None:
        self._thread = threading.Thread(target=self._main, name="herald-webhooks", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stopping.set()
        self.wake()
        if self._thread is not None:
            self._thread.join(timeout=30)

    def wake(self) -> None:
        """From any thread: something may be due."""
        loop, woken = self._loop, self._woken
        if loop is not None and woken is not None:
            with contextlib.suppress(RuntimeError):  # the loop has just closed
                loop.call_soon_threadsafe(woken.set)

    def _main(self) -> None:
        asyncio.run(self._run())

    async def _run(self) -> None:
        self._loop, self._woken = asyncio.get_running_loop(), asyncio.Event()
        try:
            async with self.sender() as sender:
                while not self._stopping.is_set():
                    self.heartbeat = time.monotonic()
                    try:
                        if await self._lead():
                            await self._round(sender)
                        else:
                            await self._sleep(_TAKEOVER)
                    except Exception:
                        log.exception("a webhook dispatch round failed; trying again")
                        await self._sleep(_IDLE)
                await self._let_go(grace=_GRACE)
        finally:
            self._loop = None
            await asyncio.to_thread(self.lease.release)

    async def _lead(self) -> bool:
        if not self.leader:
            self.leader = await asyncio.to_thread(self.lease.acquire)
            self._checked = time.monotonic()
            if self.leader:
                log.info("this process now dispatches webhooks")
        elif time.monotonic() - self._checked >= _CHECK:
            self._checked = time.monotonic()
            if not await asyncio.to_thread(self.lease.holds):
                self.leader = False
                await self._let_go()  # another process may be sending them already
        return self.leader

    async def _round(self, sender: Sender) -> None:
        assert self._woken is not None
        self._woken.clear()
        await self._record()
        flying = {e: frozenset(ids) for e, ids in self._in_flight.items()}
        room = _IN_FLIGHT - sum(len(ids) for ids in flying.values())
        plan = await asyncio.to_thread(self.jobs.prepare, flying, room)
        self._finished += plan.broken
        for job in plan.jobs:
            self._in_flight.setdefault(job.due.endpoint_id, set()).add(job.due.id)
            task = asyncio.create_task(self._send(sender, job))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)
        if plan.busy or plan.broken:
            return
        wait = _IDLE if plan.next_due is None else max(0.0, plan.next_due - time.time())
        await self._sleep(min(_IDLE, wait))

    async def _send(self, sender: Sender, job: Job) -> None:
        outcome = await sender.send(job)
        self._finished.append(outcome)  # the list as it is now: _record swaps it for a new one
        if self._woken is not None:
            self._woken.set()

    async def _record(self) -> None:
        """Commit what finished; only then may those deliveries, or the next events of their
        messages, be picked again."""
        finished, self._finished = self._finished, []
        if not finished:
            return
        recorded = await asyncio.to_thread(self.deliveries.record, finished, time.time())
        self.results.update(recorded.results)
        for endpoint_id, why in recorded.disabled:
            log.warning("webhook endpoint %s disabled: %s", endpoint_id, why)
        for outcome in finished:
            flying = self._in_flight.get(outcome.due.endpoint_id)
            if flying is not None:
                flying.discard(outcome.due.id)
                if not flying:
                    del self._in_flight[outcome.due.endpoint_id]

    async def _let_go(self, grace: float = 0.0) -> None:
        """Stop sending: what is still in flight after `grace` seconds is cut off, and stays
        pending for whoever leads next."""
        if self._tasks and grace > 0:
            await asyncio.wait(list(self._tasks), timeout=grace)
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        with contextlib.suppress(Exception):
            await self._record()
        self._finished.clear()
        self._in_flight.clear()

    async def _sleep(self, seconds: float) -> None:
        assert self._woken is not None
        if self._stopping.is_set():
            return
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._woken.wait(), seconds)
