"""Herald assembled: the store, its views and projection, and the workspaces, on one database."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager

from app.catchup import CatchUp
from app.contacts import ContactSecrets
from app.migrations import migrate
from app.projection import PROJECTED_CHANNEL, Projection
from app.ratelimit import RateLimiter
from app.settings import Settings
from app.store import MessageStore
from app.views import Views
from app.watcher import Watcher, connect
from app.webhooks.service import Webhooks
from app.workspaces import Workspaces

log = logging.getLogger(__name__)
_PROJECTOR_PATIENCE = 10.0
_SCHEMA_LOCK = 0x48455241


@contextmanager
def schema_lock(settings: Settings) -> Iterator[None]:
    """Processes starting together on one PostgreSQL database create its tables one at a time:
    concurrent CREATE TABLE IF NOT EXISTS can still collide in PostgreSQL's catalog."""
    if not settings.is_postgres:
        yield
        return
    with connect(settings.eventsourcing_env()) as conn:
        conn.execute("SELECT pg_advisory_lock(%s)", (_SCHEMA_LOCK,))
        try:
            yield
        finally:
            conn.execute("SELECT pg_advisory_unlock(%s)", (_SCHEMA_LOCK,))


class Herald:
    """`project=False` leaves the views to another process (`herald project`); this one then
    waits for them after each write, so read-your-writes holds all the same. `dispatch` runs the
    webhook dispatcher once started (HERALD_WEBHOOK_DISPATCH when not given)."""

    def __init__(
        self,
        settings: Settings | None = None,
        *,
        project: bool = True,
        rebuilding: bool = False,
        dispatch: bool | None = None,
    ) -> None:
        # `rebuilding`: one process of a parallel rebuild (app/replay.py), which keeps the
        # views' secondary indexes dropped until the rebuild is over.
        self.settings = settings or Settings.from_env()
        self.project = project
        self.dispatch = self.settings.webhooks.dispatch if dispatch is None else dispatch
        with schema_lock(self.settings):
            self.store = store = MessageStore(self.settings)
            self.workspaces = Workspaces(store.db)
            self.contacts = ContactSecrets(store.db)
            migrate(store)
            events = store.recorder.events_table_name  # type: ignore[attr-defined]
            self.views = Views(store.db, store.sealing, events, indexed=not rebuilding)
            projection = Projection(self.views, store.sealing, store.keys, self.contacts)
            channel = PROJECTED_CHANNEL if self.settings.is_postgres else None
            self.projection = CatchUp(store, projection, notify=channel)
            self.webhooks = Webhooks(store, self.settings)
        if project and not self.settings.is_postgres:
            store.views_step = self.webhooks.with_writes(self.projection.step)
        store.after_save = self.read_your_writes
        self.rate_limiter = RateLimiter(self.settings.rate_limit, self.settings.rate_burst)
        events_channel = getattr(store.recorder, "channel_name", None)
        self.watcher = Watcher(self.settings.eventsourcing_env(), events_channel, self.tick)
        self._started = False

    def read_your_writes(self, position: int, projected: bool) -> None:
        """The one way a command waits for its events in the views before it answers: projected
        in its own transaction (SQLite), projected now by this process, or, when the views are
        another process's work, waited for."""
        self.webhooks.wake()
        if projected:
            self.projection.announce(position)
        elif self.project:
            self.projection.catch_up(until=position)
        elif not self.projection.wait_for(position, timeout=_PROJECTOR_PATIENCE):
            log.warning(
                "no projector caught up with position %s; is `herald project` running?", position
            )

    def start(self) -> None:
        """Catch up what a previous run recorded but did not project, then keep watching for
        what other processes write to the same database."""
        # A kill -9 right after a redaction can leave its destroyed key in the write-ahead log.
        self.store.keys.flush()
        if self.project:
            self.projection.catch_up()
        self.watcher.start()
        if self.dispatch:
            self.webhooks.start()
        self._started = True

    def tick(self) -> None:
        self.webhooks.wake()
        try:
            # Projected here or by another process (each SQLite server projects its own
            # writes): either way, wake this process's subscriptions.
            projection = self.projection
            if self.project:
                position = projection.catch_up(announce_unchanged=False)
            else:
                position = projection.position
            if position != projection.announced:
                projection.announce(position)
        except Exception:
            log.exception("projection catch-up failed; will retry")

    def close(self) -> None:
        if self._started:
            self.watcher.stop()
            self.webhooks.stop()
        self.workspaces.cache.close()
        self.store.db.close()
        self.store.close()
