"""Herald assembled: the store, its views and projection, and the workspaces, on one database."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager

from app.persistence import SQLiteRecorder
from app.projection import Projection
from app.ratelimit import RateLimiter
from app.settings import Settings
from app.store import MessageStore
from app.views import Views
from app.watcher import Watcher, connect
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
    waits for them after each write, so read-your-writes holds all the same."""

    def __init__(self, settings: Settings | None = None, *, project: bool = True) -> None:
        self.settings = settings or Settings.from_env()
        self.project = project
        with schema_lock(self.settings):
            self.store = MessageStore(self.settings)
            self.views = Views(self.store)
            self.projection = Projection(self.store, self.views)
            self.workspaces = Workspaces(self.store.db)
        self.store.after_save = self._after_save
        if project and isinstance(self.store.recorder, SQLiteRecorder):
            self.store.recorder.within_insert = self.projection.within
        self.rate_limiter = RateLimiter(self.settings.rate_limit, self.settings.rate_burst)
        channel = getattr(self.store.recorder, "channel_name", None)
        self.watcher = Watcher(self.settings.eventsourcing_env(), channel, self.tick)
        self._started = False

    def _after_save(self, position: int) -> None:
        if self.projection.projected_within(position):
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
        if self.project:
            self.projection.catch_up()
        self.watcher.start()
        self._started = True

    def tick(self) -> None:
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
        self.workspaces.cache.close()
        self.store.close()
