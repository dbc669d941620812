"""Data for the benchmark, made with Herald's own store and aggregate, and timing helpers."""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable
from typing import Any

from app.domain import Message
from app.lifecycle import Status
from app.persistence import KEYS
from app.secrecy import new_key
from app.store import MessageStore
from app.workspaces import Principal

ACTOR = "bench"
RECIPIENTS = [{"identifierKey": "phonenumber", "identifierValue": "+15550100", "type": "TO"}]
# The generated messages' life: drafted, edited once, sent, reported sent, then delivered.
EVENTS_PER_MESSAGE = 5
_SAVE_EVERY = 1_000  # pending events per save when growing one long history


def body(text: str) -> dict[str, Any]:
    return {"type": "text", "text": {"text": text}}


def draft_fields(conversation_id: str, text: str) -> dict[str, Any]:
    """The keyword arguments of MessageStore.draft after its idempotency key."""
    return {
        "conversation_id": conversation_id,
        "channel": "CHAT",
        "content": body(text),
        "recipients": RECIPIENTS,
        "sender": None,
        "reply_to": None,
        "reference": None,
        "requires_approval": False,
        "actor": ACTOR,
    }


def lived_message(workspace: str, i: int) -> Message:
    """A message with EVENTS_PER_MESSAGE pending events, two of them carrying content."""
    msg = Message(workspace=workspace, **draft_fields(f"conv-{i % 1000}", f"Hello number {i}"))
    msg.edit(ACTOR, content=body(f"Hello number {i}, edited"))
    msg.send(ACTOR)
    msg.record_status(ACTOR, Status.SENT, None)
    msg.record_status(ACTOR, Status.DELIVERED, None)
    return msg


def stored_events(store: MessageStore) -> int:
    return store.recorder.max_notification_id() or 0


def grow(
    store: MessageStore,
    workspace: str,
    target: int,
    batch: int = 200,
    progress: Callable[[int], None] | None = None,
) -> int:
    """Save whole messages, `batch` per transaction, until the store holds at least `target`
    events; the views are left behind (catch them up, or rebuild them). Returns the count."""
    have = stored_events(store)
    i = have
    while have < target:
        count = min(batch, -(-(target - have) // EVENTS_PER_MESSAGE))
        messages = [lived_message(workspace, i + k) for k in range(count)]
        i += count
        # Their content keys go in the same transaction as their events, as a draft's do.
        keys = {msg.id: new_key() for msg in messages}
        store.save(*messages, **{KEYS: keys})
        have = stored_events(store)
        if progress is not None:
            progress(have)
    return have


def long_history(store: MessageStore, p: Principal, events: int, label: str) -> Message:
    """A chat message drafted then edited until it has exactly `events` events, saved through
    the store (so it snapshots as it would in service) in chunks of _SAVE_EVERY."""
    msg = store.draft(p, None, **draft_fields(f"long-{label}", f"{label} 1"))
    keys = {msg.id: store.keys.read(msg.id)}
    while msg.version < events:
        msg.edit(ACTOR, content=body(f"{label} {msg.version + 1}"))
        if msg.version % _SAVE_EVERY == 0:
            store.save(msg, **{KEYS: keys})
    store.save(msg, **{KEYS: keys})
    assert msg.version == events
    return msg


def latencies(fn: Callable[[], object], samples: int, warmup: int = 5) -> list[float]:
    """Seconds per call, one sample per call, after `warmup` calls not counted."""
    for _ in range(warmup):
        fn()
    out: list[float] = []
    for _ in range(samples):
        started = time.perf_counter()
        fn()
        out.append(time.perf_counter() - started)
    return out


def median_us(samples: list[float]) -> float:
    return statistics.median(samples) * 1e6


def rate(fn: Callable[[int], object], count: int) -> float:
    """Calls per second of fn(0), fn(1), ... fn(count - 1), run back to back."""
    started = time.perf_counter()
    for i in range(count):
        fn(i)
    return count / (time.perf_counter() - started)
