"""Whether API keys are still valid, asked for every live subscription at once: one query
answers every key that waits on the same round, however many subscriptions each key holds."""

from __future__ import annotations

import asyncio
from collections.abc import Collection

from app.database import Database

from .context import blocking

_CHUNK = 500  # keys per statement, well under every backend's limit on parameters


def active_digests(db: Database, digests: list[str]) -> set[str]:
    """Those of the given keys (by digest) that exist and are not revoked."""
    active: set[str] = set()
    with db.transaction(commit=False) as c:
        for start in range(0, len(digests), _CHUNK):
            chunk = digests[start : start + _CHUNK]
            c.execute(
                db.sql(
                    "SELECT digest FROM herald_api_keys WHERE revoked = 0 "
                    f"AND digest IN ({', '.join('?' for _ in chunk)})"
                ),
                chunk,
            )
            active.update(str(row[0]) for row in c.fetchall())
    return active


class KeyChecks:
    """Rounds of key checks on one event loop. A caller joins the round about to start, so the
    answer is read after it asked: a key revoked before the call is seen as revoked."""

    def __init__(self, db: Database) -> None:
        self.db = db
        self._asked: set[str] = set()
        self._round: asyncio.Future[set[str]] | None = None
        self._reading: set[asyncio.Task[None]] = set()

    async def active(self, digests: Collection[str]) -> set[str]:
        if self._round is None:
            loop = asyncio.get_running_loop()
            self._round = loop.create_future()
            # Callers woken together run before this, and so share the round.
            loop.call_soon(self._start)
        self._asked.update(digests)
        answer = await asyncio.shield(self._round)
        return answer.intersection(digests)

    async def confirm(self, digest: str) -> bool:
        return bool(await self.active((digest,)))

    def _start(self) -> None:
        answer, asked = self._round, sorted(self._asked)
        assert answer is not None
        self._round, self._asked = None, set()
        task = asyncio.get_running_loop().create_task(self._read(answer, asked))
        self._reading.add(task)
        task.add_done_callback(self._reading.discard)

    async def _read(self, answer: asyncio.Future[set[str]], asked: list[str]) -> None:
        try:
            answer.set_result(await blocking(active_digests, self.db, asked))
        except asyncio.CancelledError:
            answer.cancel()
            raise
        except Exception as error:
            answer.set_exception(error)
            answer.exception()  # each waiter raises it; none left waiting is no warning
