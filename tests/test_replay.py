"""`herald projections rebuild --jobs N`: several processes replay their shares of the messages
into the same views, which end exactly as a replay by one process leaves them."""

from __future__ import annotations

from typing import Any

from app.lifecycle import Status
from app.replay import rebuild
from app.runtime import Herald
from app.verify import verify
from app.workspaces import Principal
from bench.workload import grow
from tests.test_store import draft, sent, view_rows


def test_a_rebuild_by_several_processes_gives_the_views_one_process_gives(
    herald: Herald, principal: Principal
) -> None:
    store = herald.store
    events = grow(store, principal.workspace, 400, batch=40)
    for i in range(5):  # with contacts, redactions and a rejection among them
        mid = str(draft(store, principal, f"message {i}").id)
        store.edit(principal, mid, None, "eve", text=f"edited {i}")
    store.reject(principal, mid, None, "rob", "no")
    store.redact(principal, sent(store, principal, "to erase"), None, "ray", "pii")
    herald.projection.catch_up()
    sequential = view_rows(herald)
    assert len(sequential[1]) > events

    told: list[int] = []
    position = rebuild(herald, 3, told.append, parallel_from=0)
    assert view_rows(herald) == sequential
    assert position == herald.projection.position == store.recorder.max_notification_id()
    assert sum(told) == position
    assert verify(herald) == []
    store.record_status(
        principal, sent(store, principal, "after"), "carrier", Status.DELIVERED, None
    )
    assert verify(herald) == []


def test_a_small_store_is_rebuilt_by_one_process(herald: Herald, principal: Principal) -> None:
    draft(herald.store, principal, "alone")
    told: list[Any] = []
    assert rebuild(herald, 4, told.append) == 1
    assert told == [1]
