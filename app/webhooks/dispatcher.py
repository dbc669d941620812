"""The dispatcher: a thread with an event loop of its own, off the request path. While this
process holds the lease, one task picks what is due (database work, in a thread) and sends each
on a task of its own, within each endpoint's bound; another commits what was answered. So a
commit waiting for SQLite's one writer does not hold up the sending, and picking reads only.
It wakes for a write here, the watcher's tick, an answer, or the next retry coming due.

A delivery stays pending until its outcome is committed, and is not picked again before that,
so a kill -9 at any moment leaves it to be sent again: at least once, with the same webhook-id."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
import time
from collections import Counter
from collections.abc import Callable

import uvloop

from .attempts import Attempts, Outcome, Recorded
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
        self, jobs: Jobs, attempts: Attempts, lease: Lease, sender: Callable[[], Sender]
    ) -> None:
        self.jobs = jobs
        self.attempts = attempts
        self.lease = lease
        self.sender = sender
        self.leader = False  # whether this process dispatches now
        self.heartbeat = 0.0  # time.monotonic() of the last round or try for the lease
        self.results: Counter[str] = Counter()  # attempts here: delivered, failed, gave_up
        self.backlog: int | None = None  # pending deliveries, as the leader last counted them
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._woken: asyncio.Event | None = None  # for the picker
        self._answered: asyncio.Event | None = None  # for the recorder
        self._sending: dict[str, set[int]] = {}  # by endpoint: in flight to it
        self._finished: list[Outcome] = []  # answered, not yet being committed
        self._recording: set[int] = set()  # being committed
        self._tasks: set[asyncio.Task[None]] = set()
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
        with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
            runner.run(self._run())

    async def _run(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._woken, self._answered = asyncio.Event(), asyncio.Event()
        recorder = asyncio.create_task(self._recorder())
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
            recorder.cancel()
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
        flying = {e: frozenset(ids) for e, ids in self._sending.items()}
        # Answered but not committed yet: still pending in the database, not to be picked.
        held = {o.due.id for o in self._finished} | self._recording
        room = _IN_FLIGHT - sum(len(ids) for ids in flying.values())
        plan = await asyncio.to_thread(self.jobs.round, flying, held, room)
        if plan.backlog is not None:
            self._count_backlog(plan.backlog)
        for outcome in plan.broken:
            self._answer(outcome)
        for job in plan.jobs:
            self._sending.setdefault(job.due.endpoint_id, set()).add(job.due.id)
            task = asyncio.create_task(self._send(sender, job))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)
        if plan.busy:
            return
        wait = _IDLE if plan.next_due is None else max(0.0, plan.next_due - time.time())
        await self._sleep(min(_IDLE, wait))

    async def _send(self, sender: Sender, job: Job) -> None:
        outcome = await sender.send(job)
        # The endpoint's slot is free once it has answered.
        sending = self._sending.get(job.due.endpoint_id)
        if sending is not None:
            sending.discard(job.due.id)
            if not sending:
                del self._sending[job.due.endpoint_id]
        self._answer(outcome)
        if self._woken is not None:
            self._woken.set()

    def _answer(self, outcome: Outcome) -> None:
        self._finished.append(outcome)
        if self._answered is not None:
            self._answered.set()

    async def _recorder(self) -> None:
        """Commits what was answered, all that came meanwhile in one transaction; only then
        may those deliveries, or the next events of their messages, be picked again."""
        assert self._answered is not None
        while True:
            await self._answered.wait()
            self._answered.clear()
            try:
                await self._record()
            except Exception:
                log.exception("recording webhook attempts failed; trying again")
                await asyncio.sleep(_IDLE)
                self._answered.set()

    async def _record(self) -> None:
        finished, self._finished = self._finished, []
        if not finished:
            return
        ids = {o.due.id for o in finished}
        self._recording |= ids
        try:
            recorded = await asyncio.to_thread(self.attempts.record, finished, time.time())
        except BaseException:
            self._finished = finished + self._finished  # not committed: still to be recorded
            raise
        finally:
            self._recording -= ids
        self._count(recorded)
        for endpoint_id, why in recorded.disabled:
            log.warning("webhook endpoint %s disabled: %s", endpoint_id, why)
        if self._woken is not None:
            self._woken.set()

    def _count(self, recorded: Recorded) -> None:
        from app import metrics  # here, not at the top: the CLI's commands need no metrics

        self.results.update(recorded.results)
        for result, count in recorded.results.items():
            metrics.WEBHOOK_DELIVERIES.labels(result).inc(count)

    def _count_backlog(self, backlog: int) -> None:
        from app import metrics

        self.backlog = backlog
        metrics.WEBHOOK_BACKLOG.set(backlog)

    async def _let_go(self, grace: float = 0.0) -> None:
        """Stop sending: what is still in flight after `grace` seconds is cut off, and stays
        pending for whoever leads next; what was answered is committed if it can be."""
        if self._tasks and grace > 0:
            await asyncio.wait(list(self._tasks), timeout=grace)
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        with contextlib.suppress(Exception):
            await self._record()
        self._finished.clear()
        self._sending.clear()

    async def _sleep(self, seconds: float) -> None:
        assert self._woken is not None
        if self._stopping.is_set():
            return
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._woken.wait(), seconds)
