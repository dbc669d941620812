"""The database side of a dispatcher round, run in a thread: catch the outbox up, queue a batch
of any replay, purge a batch of a deleted endpoint, then pick what is due, endpoint by endpoint
within each one's bound of deliveries in flight (so one slow endpoint does not hold up the
others), each with its URL, signing secrets and payload."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass, field

from app.catchup import CatchUp
from app.store import MessageStore

from .attempts import Outcome
from .deliveries import Deliveries, Due
from .endpoints import Endpoints
from .outbox import Outbox
from .payload import payload
from .sender import Job

log = logging.getLogger(__name__)
_EVERY = 1.0  # seconds between counts of the backlog
_CATCH_UP = 5_000  # events the outbox reads per round at most, so sending goes on meanwhile
_BROKEN = "the payload could not be built (logged by Herald)"


@dataclass
class Round:
    jobs: list[Job] = field(default_factory=list)
    broken: list[Outcome] = field(default_factory=list)  # what could not even be attempted
    next_due: float | None = None  # when a retry yet to come is due
    busy: bool = False  # more to catch up, replay or purge: come back at once
    backlog: int | None = None  # pending deliveries, when counted this round


class Jobs:
    def __init__(
        self,
        store: MessageStore,
        outbox: CatchUp,
        consumer: Outbox,
        endpoints: Endpoints,
        deliveries: Deliveries,
        concurrency: int,
        move_on: Callable[[], None],
    ) -> None:
        self.store = store
        self.outbox = outbox
        self.consumer = consumer
        self.endpoints = endpoints
        self.deliveries = deliveries
        self.concurrency = concurrency
        self.move_on = move_on  # the outbox past what no endpoint wants (Webhooks.move_on)
        self._counted = 0.0

    def round(
        self, in_flight: Mapping[str, Collection[int]], held: Collection[int], room: int
    ) -> Round:
        """Prepare what is due. `in_flight`: the deliveries being sent, by endpoint (each has
        its bound); `held`: others not to pick (answered, not committed yet); `room`: how many
        more may go."""
        done = Round()
        state = self.endpoints.state()
        if time.monotonic() - self._counted >= _EVERY:
            # Once a second at most: the count is as long as the backlog.
            self._counted = time.monotonic()
            done.backlog = self.deliveries.backlog()
            if not state.enabled:
                self.move_on()
        if state.enabled:
            until = self.outbox.position + _CATCH_UP
            done.busy = self.outbox.catch_up(until=until, announce_unchanged=False) >= until
        if state.replaying:
            done.busy = self.consumer.replay() or done.busy
        if state.deleted:
            done.busy = self.deliveries.purge() or done.busy
        if not state.enabled:
            return done  # nothing can be due (a write wakes this for nothing, then)
        now = time.time()
        picked: list[tuple[Due, tuple[str, str, list[str]]]] = []
        # A short read: a long one would keep SQLite from truncating its write-ahead log,
        # which a redaction does to be rid of the key it destroyed.
        with self.store.db.transaction(commit=False) as c:
            for endpoint_id in self.deliveries.due_endpoints(c, now):
                flying = in_flight.get(endpoint_id, ())
                free = min(self.concurrency - len(flying), room - len(picked))
                if free <= 0:
                    continue
                ready = self.deliveries.due(c, endpoint_id, now, len(flying) + len(held) + free)
                fresh = [d for d in ready if d.id not in flying and d.id not in held][:free]
                target = self.endpoints.secrets.signing(c, endpoint_id, now) if fresh else None
                if target is not None:
                    picked += [(d, target) for d in fresh]
            done.next_due = self.deliveries.next_due(c, now)
        for due, (workspace, url, secrets) in picked:
            try:
                body = payload(self.store, workspace, due.message_id, due.version)
            except Exception:
                log.exception("cannot build the payload of webhook delivery %s", due.id)
                done.broken.append(Outcome(due, now, None, 0.0, _BROKEN))
                continue
            done.jobs.append(Job(due, url, secrets, body))
        return done
