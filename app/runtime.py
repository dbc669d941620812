"""Herald assembled: the store, its views and projection, and the workspaces, on one database."""

from __future__ import annotations

import logging
import threading

from app.projection import Projection
from app.settings import Settings
from app.store import MessageStore
from app.views import Views
from app.workspaces import Workspaces

log = logging.getLogger(__name__)


class Herald:
    def __init__(self, settings: Settings | None = None) -> None:
        self.settings = settings or Settings.from_env()
        self.store = MessageStore(self.settings)
        self.views = Views(self.store)
        self.projection = Projection(self.store, self.views)
        self.workspaces = Workspaces(self.store.db)
        self.store.after_save = self._project_until
        self._stopping = threading.Event()
        self._poller: threading.Thread | None = None

    def _project_until(self, position: int) -> None:
        self.projection.catch_up(until=position)

    def start(self, poll_seconds: float = 1.0) -> None:
        """Catch up what a previous run recorded but did not project, then keep watching for
        events written by other processes on the same database."""
        self.projection.catch_up()
        self._poller = threading.Thread(
            target=self._poll, args=(poll_seconds,), name="herald-projection", daemon=True
        )
        self._poller.start()

    def _poll(self, seconds: float) -> None:
        while not self._stopping.wait(seconds):
            try:
                if (self.store.recorder.max_notification_id() or 0) > self.projection.position:
                    self.projection.catch_up()
            except Exception:
                log.exception("projection catch-up failed; will retry")

    def close(self) -> None:
        self._stopping.set()
        if self._poller is not None:
            self._poller.join(timeout=10)
        self.store.close()
