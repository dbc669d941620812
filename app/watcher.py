"""Hears what other processes do on the same database: PostgreSQL LISTEN/NOTIFY when there is
one, else a short poll of the SQLite file; then projects, or tells local subscribers.

A LISTEN connection can die without a word: the server ends its backend, a proxy or firewall
drops an idle connection, the network goes away. The watcher does not trust it to say so: it
asks the connection a question whenever it has been quiet for a while (with TCP keepalives and
a user timeout beneath, so the question cannot hang), and while the connection is down it
polls instead, reconnecting with a growing pause. Nothing written meanwhile is missed: each
tick reads everything after the position it has reached."""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Callable
from typing import Any

import psycopg

from app.projection import PROJECTED_CHANNEL

log = logging.getLogger(__name__)
_POLL_SECONDS = 0.25
_LISTEN_TIMEOUT = 1.0
_PROBE_AFTER = 5.0  # seconds of silence before asking the LISTEN connection if it still works
_RECONNECT_PAUSES = (0.5, 1.0, 2.0, 5.0, 10.0)
APPLICATION_NAME = "herald-watcher"


class Watcher:
    def __init__(
        self, env: dict[str, str], events_channel: str | None, tick: Callable[[], None]
    ) -> None:
        self.env = env
        self.events_channel = events_channel
        self.tick = tick
        self.listening = False  # a LISTEN connection is open and answered lately
        self.reconnects = 0
        self._stopping = threading.Event()
        self._thread = threading.Thread(target=self._run, name="herald-watcher", daemon=True)

    @property
    def alive(self) -> bool:
        return self._thread.is_alive()

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stopping.set()
        self._thread.join(timeout=10)

    def _run(self) -> None:
        if self.events_channel is None:
            self._poll_until(None)
            return
        failures = 0
        while not self._stopping.is_set():
            try:
                self._listen(self.events_channel)
            except Exception as error:
                self.listening = False
                if self._stopping.is_set():
                    return
                pause = _RECONNECT_PAUSES[min(failures, len(_RECONNECT_PAUSES) - 1)]
                failures += 1
                log.warning(
                    "the LISTEN connection failed (%s); polling, reconnecting in %.1fs",
                    error,
                    pause,
                )
                self._count_reconnect()
                self._poll_until(time.monotonic() + pause)
            else:
                failures = 0

    def _poll_until(self, deadline: float | None) -> None:
        """Tick every poll interval until the deadline (None: until stopped)."""
        while not self._stopping.wait(_POLL_SECONDS):
            self._safe_tick()
            if deadline is not None and time.monotonic() >= deadline:
                return

    def _safe_tick(self) -> None:
        try:
            self.tick()
        except Exception:
            log.exception("watching the database failed; retrying")

    def _listen(self, channel: str) -> None:
        with connect(self.env, application_name=APPLICATION_NAME, probing=True) as conn:
            conn.execute(f'LISTEN "{channel}"')
            conn.execute(f'LISTEN "{PROJECTED_CHANNEL}"')
            self.listening = True
            self._safe_tick()  # whatever happened before we listened, or while we could not
            heard = time.monotonic()
            while not self._stopping.is_set():
                # Bursts of notifications collapse into one tick: it reads everything new.
                for _ in conn.notifies(timeout=_LISTEN_TIMEOUT, stop_after=1):
                    heard = time.monotonic()
                if time.monotonic() - heard >= _PROBE_AFTER:
                    conn.execute("SELECT 1")  # raises if the connection is dead
                    heard = time.monotonic()
                self._safe_tick()

    def _count_reconnect(self) -> None:
        from app import metrics  # here, not at the top: the CLI's commands need no metrics

        self.reconnects += 1
        metrics.WATCHER_RECONNECTS.inc()


def connect(
    env: dict[str, str], *, application_name: str = "herald", probing: bool = False
) -> psycopg.Connection[tuple[object, ...]]:
    """A connection of its own, outside eventsourcing's pool, in autocommit mode. A probing
    one gives up on a dead peer within seconds instead of the kernel's many minutes."""
    quick: dict[str, Any] = {}
    if probing:
        quick = {
            "keepalives": 1,
            "keepalives_idle": 5,
            "keepalives_interval": 2,
            "keepalives_count": 2,
            "tcp_user_timeout": 10_000,
            "connect_timeout": 10,
        }
    return psycopg.connect(
        host=env["POSTGRES_HOST"],
        port=env["POSTGRES_PORT"],
        dbname=env["POSTGRES_DBNAME"],
        user=env["POSTGRES_USER"],
        password=env["POSTGRES_PASSWORD"],
        autocommit=True,
        application_name=f"{application_name}-{os.getpid()}",
        **quick,
    )
