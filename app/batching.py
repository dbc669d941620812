"""Group commit: writes that arrive together are saved in one transaction, and so share one
flush to disk instead of queueing for one each behind the database's single writer."""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Generic, TypeVar

from eventsourcing.persistence import RecordConflictError

T = TypeVar("T")

# Enough to fill a transaction; a group rarely reaches it, being as large as the writers waiting.
_GROUP_LIMIT = 64


@dataclass(eq=False)
class _Write(Generic[T]):
    item: T
    done: bool = False
    error: BaseException | None = None


class GroupCommit(Generic[T]):
    """`save(item)` returns once the item is durably saved, or raises why it was not. Whoever
    holds the leader's lock commits the waiting items (up to a group) at once; the others wait
    for the lock and, once they get it, usually find their item saved. A conflict in a group
    sends each of its items alone, so only the item that clashes fails."""

    def __init__(self, commit: Callable[[Sequence[T]], None]) -> None:
        self._commit = commit
        self._queue: list[_Write[T]] = []
        self._queue_lock = threading.Lock()
        self._leader = threading.Lock()

    def save(self, item: T) -> None:
        write = _Write(item)
        with self._queue_lock:
            self._queue.append(write)
        with self._leader:
            # A leader takes at most a group from the head of the queue, which need not hold
            # this write when more are waiting: lead again until it is done.
            while not write.done:
                self._lead()
        if write.error is not None:
            raise write.error

    def _lead(self) -> None:
        with self._queue_lock:
            group, self._queue = self._queue[:_GROUP_LIMIT], self._queue[_GROUP_LIMIT:]
        try:
            self._commit([w.item for w in group])
        except RecordConflictError as e:
            if len(group) == 1:
                group[0].error = e
            else:
                for write in group:
                    try:
                        self._commit([write.item])
                    except Exception as alone:
                        write.error = alone
        except Exception as e:
            # Each writer raises its own failure: the leader's own write may not be in the group.
            for write in group:
                write.error = e
        finally:
            for write in group:
                write.done = True
