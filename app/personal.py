"""What identifies or quotes a person: the fields of events and messages that are sealed with the
message's key on disk, and erased from the message by its redaction.

This is the one list. Sealing (app/secrecy.py), redaction (app/domain.py) and the API's erased
answers all follow it; a field that is not named here is stored in clear, and the README lists
those. Recipients are sealed address by address, so that their kind and type stay in clear."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

# Whole values: the body, the sender, the caller's reference and every free-text reason, under
# the names events (`reason`) and messages (`rejection_reason`, `failure_reason`) give them.
WHOLE = frozenset(
    {"content", "sender", "reference", "reason", "rejection_reason", "failure_reason"}
)
RECIPIENTS = "recipients"
ADDRESS = "identifierValue"


def personal_names(state: dict[str, Any]) -> list[str]:
    return [name for name in state if name in WHOLE or name == RECIPIENTS]


def transform(state: dict[str, Any], change: Callable[[Any], Any]) -> dict[str, Any]:
    """A copy of `state` whose personal values are replaced by `change(value)`; None stays None.
    Only the top level is copied: untouched values are shared with `state`."""
    result = dict(state)
    for name in personal_names(state):
        value = state[name]
        if value is None:
            continue
        if name == RECIPIENTS:
            result[name] = [
                {**r, ADDRESS: None if r.get(ADDRESS) is None else change(r[ADDRESS])}
                for r in value
            ]
        else:
            result[name] = change(value)
    return result


def erase(state: dict[str, Any]) -> None:
    """Forget, in place, every personal value of a message's state (its redaction)."""
    state.update(transform(state, lambda _: None))
