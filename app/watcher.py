"""Hears what other processes do on the same database: PostgreSQL LISTEN/NOTIFY when there is
one, else a short poll of the SQLite file; then projects, or tells local subscribers."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable

import psycopg

from app.projection import PROJECTED_CHANNEL

log = logging.getLogger(__name__)
_POLL_SECONDS = 0.25
_LISTEN_TIMEOUT = 1.0


class Watcher:
    def __init__(
        self, env: dict[str, str], events_channel: str | None, tick: Callable[[], None]
    ) -> None:
        self.env = env
        self.events_channel = events_channel
        self.tick = tick
        self._stopping = threading.Event()
        self._thread = threading.Thread(target=self._run, name="herald-watcher", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stopping.set()
        self._thread.join(timeout=10)

    def _run(self) -> None:
        while not self._stopping.is_set():
            try:
                if self.events_channel is None:
                    self._poll()
                else:
                    self._listen(self.events_channel)
            except Exception:
                log.exception("watching the database failed; retrying")
                self._stopping.wait(_LISTEN_TIMEOUT)

    def _poll(self) -> None:
        while not self._stopping.wait(_POLL_SECONDS):
            self.tick()

    def _listen(self, channel: str) -> None:
        with connect(self.env) as conn:
            conn.execute(f'LISTEN "{channel}"')
            conn.execute(f'LISTEN "{PROJECTED_CHANNEL}"')
            self.tick()  # whatever happened before we listened
            while not self._stopping.is_set():
                # Bursts of notifications collapse into one tick: it reads everything new.
                for _ in conn.notifies(timeout=_LISTEN_TIMEOUT, stop_after=1):
                    pass
                self.tick()


def connect(env: dict[str, str]) -> psycopg.Connection[tuple[object, ...]]:
    """A connection of its own, outside eventsourcing's pool, in autocommit mode."""
    return psycopg.connect(
        host=env["POSTGRES_HOST"],
        port=env["POSTGRES_PORT"],
        dbname=env["POSTGRES_DBNAME"],
        user=env["POSTGRES_USER"],
        password=env["POSTGRES_PASSWORD"],
        autocommit=True,
    )
