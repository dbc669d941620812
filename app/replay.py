"""Rebuilding the views on every core. Messages are independent: each of several processes
replays the events of its share of the messages (by the last hex digit of their ids) into the
same views, with no position recorded; once all have finished, the position is recorded and the
usual catch-up applies whatever was written meanwhile. A share that fails fails the rebuild,
which can simply run again (it starts by emptying the views)."""

from __future__ import annotations

import multiprocessing
import threading
from collections.abc import Callable, Sequence
from concurrent.futures import ProcessPoolExecutor
from multiprocessing.queues import Queue
from typing import Any

from eventsourcing.persistence import Notification

from app.catchup import CatchUp, notification_of
from app.runtime import Herald
from app.settings import Settings

_DIGITS = "0123456789abcdef"
_BATCH = 5_000
# Below this many events, starting processes costs more than it saves.
PARALLEL_FROM = 20_000

_done: Queue[int] | None = None  # each worker's progress, told to the parent


def rebuild(
    herald: Herald,
    jobs: int,
    progress: Callable[[int], None] | None = None,
    parallel_from: int = PARALLEL_FROM,
) -> int:
    loop = herald.projection
    until = herald.store.recorder.max_notification_id() or 0
    jobs = max(1, min(jobs, len(_DIGITS)))
    if jobs == 1 or until < parallel_from:
        return loop.rebuild(progress)
    loop.reset()
    try:
        _in_parallel(herald.settings, jobs, until, progress)
        loop.track(until)
        return loop.catch_up(progress=progress)
    finally:
        loop.finish_rebuild()


def _in_parallel(
    settings: Settings, jobs: int, until: int, progress: Callable[[int], None] | None
) -> None:
    context = multiprocessing.get_context("spawn")
    done: Queue[int] = context.Queue()
    shares = [_DIGITS[i::jobs] for i in range(jobs)]
    with ProcessPoolExecutor(jobs, mp_context=context, initializer=_tell, initargs=(done,)) as pool:
        futures = [pool.submit(_replay_share, settings, share, until) for share in shares]
        telling = threading.Thread(target=_follow, args=(done, progress, len(futures)))
        telling.start()
        try:
            for future in futures:
                future.result()
        except BaseException:
            for _ in futures:
                done.put(-1)  # a share that died said nothing more: the follower stops anyway
            raise
        finally:
            telling.join()


def _follow(done: Queue[int], progress: Callable[[int], None] | None, workers: int) -> None:
    finished = 0
    while finished < workers:
        count = done.get()
        if count < 0:
            finished += 1
        elif progress is not None:
            progress(count)


def _tell(done: Queue[int]) -> None:
    global _done
    _done = done


def _replay_share(settings: Settings, digits: str, until: int) -> int:
    herald = Herald(settings, project=False, rebuilding=True)
    try:  # each share says it is done after its progress, through the same queue
        loop = herald.projection
        applied, after = 0, 0
        while batch := _share(loop, digits, after, until):
            loop.apply_untracked(batch)
            applied += len(batch)
            after = batch[-1].id
            if _done is not None:
                _done.put(len(batch))
        return applied
    finally:
        herald.close()
        if _done is not None:
            _done.put(-1)


def _share(loop: CatchUp, digits: Sequence[str], after: int, until: int) -> list[Notification]:
    """Notifications in (after, until] of the messages whose id ends with one of `digits`."""
    sqlite = loop.db.dialect == "sqlite"
    position = "rowid" if sqlite else "notification_id"
    last = "substr(originator_id, 32, 1)" if sqlite else "right(originator_id::text, 1)"
    marks = ", ".join("?" * len(digits))
    with loop.db.transaction(commit=False) as c:
        c.execute(
            loop.db.sql(
                f"SELECT {position}, originator_id, originator_version, topic, state "
                f"FROM {loop.events_table} WHERE {position} > ? AND {position} <= ? "
                f"AND {last} IN ({marks}) ORDER BY {position} LIMIT ?"
            ),
            (after, until, *digits, _BATCH),
        )
        rows: list[Any] = c.fetchall()
    return [notification_of(r) for r in rows]
