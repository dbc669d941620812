"""Webhooks assembled on a store: the tables, the endpoints, the outbox (a consumer of the
event log) and the dispatcher. Herald makes one and wakes it; the API and the CLI use it.

For readiness and metrics: `dispatcher.alive`, `dispatcher.leader`, `backlog()` and
`dispatcher.results` (attempts made here: delivered, retrying, failed)."""

from __future__ import annotations

from app.catchup import CatchUp
from app.settings import Settings
from app.store import MessageStore

from .deliveries import Deliveries
from .dispatcher import Dispatcher
from .endpoints import Endpoint, Endpoints
from .jobs import Jobs
from .lease import lease_for
from .outbox import Outbox
from .sender import Sender
from .tables import create_tables


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
