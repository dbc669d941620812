"""Erasure of a contact: every message of a workspace addressed to one identifier is redacted,
found through the contacts index (app/contacts.py) rather than any address kept in clear.

Each message is redacted by its own command, atomically, so a kill -9 part way leaves each one
redacted or untouched, and running the erasure again finishes the job: it is idempotent. Work is
bounded per call; `complete` says whether more remains."""

from __future__ import annotations

from dataclasses import dataclass, field

from app.contacts import digest
from app.errors import Conflict
from app.lifecycle import IN_PROGRESS, REDACTABLE_STATES
from app.runtime import Herald
from app.workspaces import Principal

BATCH = 200  # messages redacted per call at most


@dataclass
class Erasure:
    erased: int = 0
    pending: list[str] = field(default_factory=list)  # in progress: cannot be redacted yet
    complete: bool = True


def erase_contact(
    herald: Herald, p: Principal, identifier: str, actor: str, reason: str | None
) -> Erasure:
    with herald.store.db.transaction(commit=False) as c:
        secret = herald.contacts.of(c, p.workspace, create=False)
    result = Erasure()
    if secret is None:
        return result  # no message of this workspace ever named a recipient
    contact = digest(secret, identifier)
    views = herald.views
    erasable = views.contact_messages(p.workspace, contact, REDACTABLE_STATES, BATCH + 1)
    for mid in erasable[:BATCH]:
        try:
            herald.store.redact(p, mid, None, actor, reason)
            result.erased += 1
        except Conflict as refused:
            if refused.current_status in IN_PROGRESS:
                result.pending.append(mid)  # sent meanwhile
            # else it was redacted meanwhile: nothing left to do for it
    result.pending += views.contact_messages(p.workspace, contact, IN_PROGRESS, BATCH)
    result.complete = len(erasable) <= BATCH
    return result
