"""The checks after a round of the model-based proofs, or after a kill -9 and a restart: every
message read back through every path; its history replayed through the lifecycle model; every
answer a client got held against that history (each acknowledged write there at its version,
each refusal justified by the state it names, nothing recorded that was refused); and every
redacted message erased from the API, from the key table and from the database's bytes."""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from tests.erasure import Stored, holding, key_needles, key_rows, stored_bytes, text_needles
from tests.lifecycle_model import State, replay
from tests.model_answers import check_answers
from tests.model_plan import Plan
from tests.model_racers import Told
from tests.readings import (
    Client,
    Reading,
    cli_histories,
    cli_problems,
    events_pages,
    read_message,
    verify_views,
)

KEYS_SEEN = dict[str, set[bytes]]  # message id -> every content key read for it, before redaction


@dataclass
class Findings:
    unreadable: dict[str, list[str]] = field(default_factory=dict)  # message id -> what failed
    lifecycle: list[str] = field(default_factory=list)  # a history that breaks a rule
    views: list[str] = field(default_factory=list)  # a path that disagrees with the history
    pages: list[str] = field(default_factory=list)  # errors of the workspace's events pages
    misanswered: list[str] = field(default_factory=list)  # an answer the history contradicts
    unexpected: list[str] = field(default_factory=list)  # a refusal other than CONFLICT
    erasure: list[str] = field(default_factory=list)  # redacted content shown, stored or keyed
    verify: str | None = None  # what `herald projections verify` said, unless clean
    internal: int = 0  # INTERNAL_SERVER_ERROR answers, to racers and readers
    redacted: dict[str, list[str]] = field(default_factory=dict)  # message id -> its texts
    counts: Counter[str] = field(default_factory=Counter)

    def problems(self) -> list[str]:
        unreadable = [f"{mid} unreadable: {why[:3]}" for mid, why in self.unreadable.items()]
        verified = [] if self.verify is None else [self.verify]
        return [
            *unreadable,
            *self.lifecycle,
            *self.views,
            *self.pages,
            *self.misanswered,
            *self.unexpected,
            *self.erasure,
            *verified,
        ]


def audit(
    plan: Plan,
    told: list[Told],
    ids: dict[str, str],
    reader: Client,
    database_url: str,
    keys_seen: KEYS_SEEN,
    *,
    scan_keys: bool,
) -> Findings:
    found = Findings()
    internal_before = reader.codes["INTERNAL_SERVER_ERROR"]
    readings = {mid: read_message(reader, mid, slot) for slot, mid in ids.items()}
    found.pages = events_pages(reader)[1]
    runs = cli_histories(database_url, list(readings))
    for mid, r in readings.items():
        if r.errors:
            found.unreadable[mid] = list(r.errors)
    for mid, problem in cli_problems(runs).items():
        found.unreadable.setdefault(mid, []).append(problem)
    states: dict[str, list[State]] = {}
    for mid, r in readings.items():
        states[mid], broken = replay(r.history) if r.message else ([], [])
        found.lifecycle += broken
        found.views += view_problems(r, states[mid])
        found.counts["events_verified"] += len(r.history)
    answers = check_answers(plan, told, readings, states, found.unreadable)
    found.misanswered += answers.misanswered
    found.unexpected += answers.unexpected
    for name, count in answers.counts.items():
        found.counts[name] += count
    redactions = {t.message for t in told if t.planned.kind == "redact" and t.code is None}
    for mid, history in states.items():
        if history and history[-1].redacted:
            redactions.add(mid)
    check_erasure(found, plan, ids, readings, redactions, runs, database_url, keys_seen, scan_keys)
    found.verify = verify_views(database_url)
    found.internal = reader.codes["INTERNAL_SERVER_ERROR"] - internal_before
    found.internal += sum(t.code == "INTERNAL_SERVER_ERROR" for t in told)
    found.counts["messages"] += len(ids)
    found.counts["redacted"] += len(found.redacted)
    found.counts["unreadable"] += len(found.unreadable)
    return found


def view_problems(r: Reading, states: list[State]) -> list[str]:
    """`message`, `messageAt` at each version and the `events` pages, against the history."""
    if not states:
        return []
    last = states[-1]
    problems = []
    if r.message is not None:
        shown = (r.message["version"], r.message["status"], r.message["redacted"])
        if shown != (last.version, last.status, last.redacted) or r.message["text"] != last.text:
            problems.append(f"{r.id}: the message reads {r.message}, its history {last}")
    for s, then in zip(states, r.versions, strict=False):
        text = None if last.redacted else s.text  # erased from every version once redacted
        if then is not None and (then["version"], then["status"], then["text"]) != (
            s.version,
            s.status,
            text,
        ):
            problems.append(f"{r.id}: messageAt v{s.version} reads {then}, its history {s}")
    if not r.errors and r.events != r.history:
        problems.append(f"{r.id}: its events pages are not its history")
    return problems


def check_erasure(
    found: Findings,
    plan: Plan,
    ids: dict[str, str],
    readings: dict[str, Reading],
    redactions: set[str | None],
    runs: dict[str, Any],
    database_url: str,
    keys_seen: KEYS_SEEN,
    scan_keys: bool,
) -> None:
    """A redacted message shows no content on any path, has no key row, and none of its texts
    (nor, with `scan_keys`, any key it had) is in any byte of the database."""
    rows = key_rows(database_url, ids.values())
    stored = stored_bytes(database_url)
    found.counts["bytes_scanned"] += sum(len(data) for data in stored.values())
    for slot, mid in ids.items():
        if mid not in redactions:
            if mid in rows:
                keys_seen.setdefault(mid, set()).add(rows[mid])
            elif mid not in found.unreadable:
                found.erasure.append(f"{mid}: not redacted, yet its content key is gone")
            continue
        r = readings[mid]
        shown = [r.message, *r.versions, *r.history, *r.events]
        if any(s and (s.get("text") is not None or s.get("body") is not None) for s in shown):
            found.erasure.append(f"{mid}: redacted, yet some path still shows content")
        texts = found.redacted[mid] = plan.texts_of(slot)
        answered = json.dumps([shown, runs[mid].stdout])
        if any(text in answered for text in texts):
            found.erasure.append(f"{mid}: redacted, yet its text is in an answer")
        if mid in rows:
            found.erasure.append(f"{mid}: redacted, yet its content key row is still there")
        found.counts["needles_searched"] += len(texts) * 3 + len(keys_seen.get(mid, ())) * 2
        old_keys = keys_seen.get(mid, set()) if scan_keys else set()
        found.erasure += stored_problems(stored, mid, texts, old_keys)


def stored_problems(stored: Stored, mid: str, texts: list[str], keys: set[bytes]) -> list[str]:
    """Where a redacted message's texts, or keys it once had, are still stored."""
    problems = []
    files = holding(stored, (n for text in texts for n in text_needles(text)))
    if files:
        problems.append(f"{mid}: redacted, yet its text is stored in {files}")
    files = holding(stored, (n for key in keys for n in key_needles(key)))
    if files:
        problems.append(f"{mid}: redacted, yet a key it had is stored in {files}")
    return problems
