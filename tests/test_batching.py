"""Group commit on its own: whatever the number of writers, and in whatever order they get the
leader's lock, none returns before its own item is committed, or has failed with its own error.

The lock here hands itself to the writer that came last (LIFO): the fairest lock promises no
order, and this one makes a writer at the back of a long queue lead next, which is the order that
once let such a writer return with its item still queued."""

from __future__ import annotations

import threading
from collections.abc import Sequence

import pytest
from eventsourcing.persistence import RecordConflictError

from app.batching import GroupCommit

WRITERS = 300


class LastComerLock:
    """A lock granted to the thread that asked for it last."""

    def __init__(self) -> None:
        self._changed = threading.Condition()
        self._held = False
        self._waiting: list[object] = []

    def wait_for_waiters(self, count: int) -> None:
        with self._changed:
            assert self._changed.wait_for(lambda: len(self._waiting) >= count, timeout=30)

    def __enter__(self) -> None:
        me = object()
        with self._changed:
            self._waiting.append(me)
            self._changed.notify_all()
            self._changed.wait_for(lambda: not self._held and self._waiting[-1] is me)
            self._waiting.pop()
            self._held = True

    def __exit__(self, *_: object) -> None:
        with self._changed:
            self._held = False
            self._changed.notify_all()


class Recorder:
    """A commit function that holds its first group until every other writer waits for the
    leader's lock, so that far more writers wait than one group takes."""

    def __init__(self, writers: int, refuse: frozenset[int] = frozenset()) -> None:
        self.committed: set[int] = set()
        self.groups: list[list[int]] = []
        self.refuse = refuse
        self.writers = writers
        self.lock = threading.Lock()
        self.leader = LastComerLock()

    def group_commit(self) -> GroupCommit[int]:
        group = GroupCommit[int](self.commit)
        group._leader = self.leader  # type: ignore[assignment]
        return group

    def commit(self, items: Sequence[int]) -> None:
        if not self.groups:
            self.leader.wait_for_waiters(self.writers - 1)
        with self.lock:
            self.groups.append(list(items))
            if self.refuse & set(items):
                raise RecordConflictError("a clash")
            self.committed.update(items)


def run_writers(
    group: GroupCommit[int], recorder: Recorder, count: int
) -> tuple[list[bool], list[BaseException | None]]:
    committed_on_return = [False] * count
    errors: list[BaseException | None] = [None] * count

    def write(i: int) -> None:
        try:
            group.save(i)
        except BaseException as e:
            errors[i] = e
        with recorder.lock:
            committed_on_return[i] = i in recorder.committed

    threads = [threading.Thread(target=write, args=(i,)) for i in range(count)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    return committed_on_return, errors


def test_no_writer_returns_before_its_own_item_is_committed_however_many_wait() -> None:
    recorder = Recorder(WRITERS)
    committed_on_return, errors = run_writers(recorder.group_commit(), recorder, WRITERS)
    assert errors == [None] * WRITERS
    assert all(committed_on_return), [i for i, ok in enumerate(committed_on_return) if not ok]
    assert recorder.committed == set(range(WRITERS))
    assert max(len(g) for g in recorder.groups) > 1, "writers did share groups"


def test_a_clash_fails_only_the_writer_whose_item_clashed() -> None:
    recorder = Recorder(WRITERS, refuse=frozenset({7, 200}))
    committed_on_return, errors = run_writers(recorder.group_commit(), recorder, WRITERS)
    failed = {i for i, e in enumerate(errors) if e is not None}
    assert failed == {7, 200}
    assert all(isinstance(errors[i], RecordConflictError) for i in failed)
    assert all(ok for i, ok in enumerate(committed_on_return) if i not in failed)
    assert recorder.committed == set(range(WRITERS)) - failed


def test_an_unexpected_failure_is_raised_by_each_writer_of_the_group_and_no_other() -> None:
    calls: list[Sequence[int]] = []

    def commit(items: Sequence[int]) -> None:
        calls.append(items)
        raise OSError("disk full")

    group = GroupCommit[int](commit)
    with pytest.raises(OSError, match="disk full"):
        group.save(1)
    assert calls == [[1]]
