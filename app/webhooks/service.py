"""Webhooks assembled on a store: the tables, the endpoints, the outbox (a consumer of the
event log) and the dispatcher. Herald makes one and wakes it; the API and the CLI use it.

For readiness and metrics: `dispatcher.alive`, `dispatcher.leader`, `backlog()` and
`dispatcher.results` (attempts made here: delivered, retrying, failed)."""

from __future__ import annotations

import logging
from collections.abc import Callable

from eventsourcing.persistence import Tracking

from app.catchup import CatchUp
from app.database import Cursor
from app.settings import Settings
from app.store import MessageStore, ViewsStep

from .deliveries import Deliveries
from .dispatcher import Dispatcher
from .endpoints import Endpoint, Endpoints
from .jobs import Jobs
from .lease import lease_for
from .outbox import Outbox
from .sender import Sender
from .tables import create_tables

log = logging.getLogger(__name__)


class Webhooks:
    def __init__(self, store: MessageStore, settings: Settings) -> None:
        self.store = store
        self.settings = settings.webhooks
        create_tables(store.db)
        self.endpoints = Endpoints(store.db)
        self.deliveries = Deliveries(store.db, self.settings)
        consumer = Outbox(store, self.deliveries)
        self.outbox = CatchUp(store, consumer)
        jobs = Jobs(
            store, self.outbox, consumer, self.endpoints, self.deliveries, self.settings.concurrency
        )
        self.dispatcher = Dispatcher(
            jobs, self.deliveries, lease_for(settings), lambda: Sender(self.settings)
        )

    def with_writes(self, views: Callable[[], ViewsStep]) -> Callable[[], ViewsStep]:
        """On SQLite: the views' step, then the outbox's, in each transaction that records
        events, so queueing deliveries takes no write transaction of its own (SQLite lets one
        writer in at a time). Nothing is done while no endpoint is enabled."""

        def steps() -> ViewsStep:
            return _Both(views(), self.outbox, self.endpoints)

        return steps

    def start(self) -> None:
        self.dispatcher.start()

    def wake(self) -> None:
        self.dispatcher.wake()

    def stop(self) -> None:
        self.dispatcher.stop()

    def backlog(self) -> int:
        return self.deliveries.backlog()

    def now(self) -> int:
        """The position of the last event recorded: an endpoint created or enabled now is
        called for the events after it."""
        return self.store.recorder.max_notification_id() or 0

    def replay(self, workspace: str, raw_id: str, after: int) -> tuple[Endpoint, int]:
        """Send the endpoint's events after `after` again, up to where it is called for
        anyway; returns the endpoint and that position."""
        endpoint = self.endpoints.get(workspace, raw_id)
        until = max(self.outbox.position, endpoint.since)
        return self.endpoints.replay(workspace, raw_id, min(after, until), until), until


class _Both:
    """The views' step and the outbox's; `reached` is the views' (read-your-writes). While no
    endpoint is enabled the outbox only moves its position past the new events, without reading
    them: nobody is to be called for them (an endpoint is called for the events after its
    creation, and SQLite lets the two transactions in one at a time)."""

    def __init__(self, views: ViewsStep, outbox: CatchUp, endpoints: Endpoints) -> None:
        self.views = views
        self.outbox = outbox
        self.endpoints = endpoints
        self.reached = -1

    def __call__(self, c: Cursor) -> None:
        self.views(c)
        self.reached = self.views.reached
        if self.endpoints.enabled_within(c):
            self.outbox.step()(c)
            return
        c.execute("SAVEPOINT herald_outbox_past")
        try:
            c.execute(f"SELECT MAX(rowid) FROM {self.outbox.events_table}")
            last = c.fetchone()[0]
            if last is not None and last > self.outbox.tracked(c):
                self.outbox.tracking._insert_tracking(c, Tracking(self.outbox.consumer.name, last))  # type: ignore[attr-defined]
        except Exception:
            log.exception("moving the webhook outbox on failed; a catch-up will do it")
            c.execute("ROLLBACK TO herald_outbox_past")
        c.execute("RELEASE herald_outbox_past")
