"""Webhooks assembled on a store: the tables, the endpoints, the outbox (a consumer of the
event log) and the dispatcher. Herald makes one and wakes it; the API and the CLI use it.

For readiness and metrics: `dispatcher.alive`, `dispatcher.leader`, `backlog()` and
`dispatcher.results` (attempts made here: delivered, failed, gave_up), also counted in app.metrics,
with the backlog."""

from __future__ import annotations

from collections.abc import Callable

from eventsourcing.persistence import Tracking

from app.catchup import CatchUp
from app.database import Cursor
from app.settings import Settings
from app.store import MessageStore, ViewsStep

from .attempts import Attempts
from .deliveries import Deliveries
from .dispatcher import Dispatcher
from .endpoints import Endpoint, Endpoints
from .jobs import Jobs
from .lease import lease_for
from .outbox import OUTBOX_LOCK, Outbox
from .sender import Sender
from .tables import create_tables


class Webhooks:
    def __init__(self, store: MessageStore, settings: Settings) -> None:
        self.store = store
        self.settings = settings.webhooks
        create_tables(store.db)
        self.endpoints = Endpoints(store.db)
        self.deliveries = Deliveries(store.db)
        self.attempts = Attempts(store.db, self.settings)
        consumer = Outbox(store, self.deliveries)
        self.outbox = CatchUp(store, consumer)
        jobs = Jobs(
            store,
            self.outbox,
            consumer,
            self.endpoints,
            self.deliveries,
            self.settings.concurrency,
            self.move_on,
        )
        self.dispatcher = Dispatcher(
            jobs, self.attempts, lease_for(settings), lambda: Sender(self.settings)
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

    def start_within(self, c: Cursor) -> int:
        """Where an endpoint created or enabled in `c`'s transaction starts: after the last
        event recorded. While no endpoint is enabled the outbox leaves the log alone (it has
        nobody to queue for); it is moved on to here, serialized with its own batches, so it
        does not read through all that came meanwhile."""
        db = self.store.db
        if db.dialect == "postgres":
            c.execute("SELECT pg_advisory_xact_lock(%s)", (OUTBOX_LOCK,))
        position = "rowid" if db.dialect == "sqlite" else "notification_id"
        c.execute(f"SELECT COALESCE(MAX({position}), 0) FROM {self.outbox.events_table}")
        last = int(c.fetchone()[0])
        if not self.endpoints.enabled_within(c) and last > self.outbox.tracked(c):
            self.outbox.tracking._insert_tracking(c, Tracking(self.outbox.consumer.name, last))  # type: ignore[attr-defined]
        return last

    def move_on(self) -> None:
        """While no endpoint is enabled, the outbox past the events recorded meanwhile, so its
        position (and lag, in `herald status` and the metrics) stays true."""
        with self.store.db.transaction(commit=True) as c:
            self.start_within(c)

    def replay(self, workspace: str, raw_id: str, after: int) -> tuple[Endpoint, int]:
        """Send the endpoint's events after `after` again, up to where the outbox queues them
        for it anyway (to the end of the log, while it is disabled); returns the endpoint and
        that position."""
        endpoint = self.endpoints.get(workspace, raw_id)
        if endpoint.disabled_at is None:
            until = max(self.outbox.position, endpoint.since)
        else:
            until = self.store.recorder.max_notification_id() or 0
        return self.endpoints.replay(workspace, raw_id, min(after, until), until), until


class _Both:
    """The views' step and the outbox's; `reached` is the views' (read-your-writes). While no
    endpoint is enabled the outbox's step is left out (see `start_within`)."""

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
