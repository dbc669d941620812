"""The answers each client got in a round of the model-based proofs, held against the
histories the round left: which events each command recorded, whether each acknowledged write
is there as it was told, and whether each refusal is one the lifecycle model justifies."""

from __future__ import annotations

import itertools
from collections import Counter, defaultdict
from collections.abc import Collection
from dataclasses import dataclass, field
from typing import Any

from tests.lifecycle_model import Command, State, allows, records
from tests.model_plan import Plan, Planned
from tests.model_racers import Told
from tests.readings import Reading

Event = dict[str, Any]


def command_of(p: Planned) -> Command:
    if p.kind in ("edit_text", "edit_body", "action_edit"):
        return Command("edit")
    if p.kind == "update":
        changes = "body" in p.update or "recipients" in p.update
        return Command("update", changes, "draft" in p.update or "status" in p.update)
    return Command(p.kind.removeprefix("action_"), report=p.report)


def attributed(
    told: list[Told], readings: dict[str, Reading]
) -> tuple[dict[int, list[Event]], list[Event]]:
    """The events each command recorded (by its index in `told`), and those no command that was
    acknowledged or cut off recorded. A command's events carry its own actor, except a
    handleMessageAction's, whose actor is its client's key name: the events of that name are
    its actions', in the order the client sent them."""
    by_actor: dict[str, list[Event]] = defaultdict(list)
    for r in readings.values():
        for position, event in zip(r.positions, r.events, strict=True):
            by_actor[event["actor"]].append(event | {"position": position})
    for events in by_actor.values():
        events.sort(key=lambda e: int(e["position"]))
    own: dict[int, list[Event]] = {}
    for n, t in enumerate(told):
        if not t.planned.kind.startswith("action_"):
            own[n] = by_actor.pop(t.actor, [])
    stray: list[Event] = []
    for actor in {t.actor for t in told if t.planned.kind.startswith("action_")}:
        queue = by_actor.pop(actor, [])
        for n, t in enumerate(told):
            if t.actor == actor:
                wanted = len(records(command_of(t.planned)))
                take = wanted if t.code is None else len(queue) if t.code == "LOST" else 0
                own[n], queue = queue[:take], queue[take:]
        stray += queue
    stray += [e for actor, events in by_actor.items() if actor != "setup" for e in events]
    return own, stray


@dataclass
class Answers:
    """What the answers the clients got say, held against the histories."""

    misanswered: list[str] = field(default_factory=list)  # an answer the history contradicts
    unexpected: list[str] = field(default_factory=list)  # a refusal other than CONFLICT
    counts: Counter[str] = field(default_factory=Counter)


def check_answers(
    plan: Plan,
    told: list[Told],
    readings: dict[str, Reading],
    states: dict[str, list[State]],
    unreadable: Collection[str],
) -> Answers:
    """Each acknowledged command recorded whole, at the version it was answered, once (a
    retry answered by its key's one recording); each CONFLICT justified by the state it names;
    nothing recorded that was refused, or by no command; each client's writes in its order.
    Commands on an unreadable message are left out: that message fails the proof already."""
    found = Answers()
    own, stray = attributed(told, readings)
    # A client's actions are told apart only by their order: one on an unreadable message
    # (whose events could not be read) leaves that client's other actions unattributable.
    unsure = {
        t.actor
        for t in told
        if t.planned.kind.startswith("action_")
        and (t.message in unreadable or t.message not in states)
    }
    stray = [e for e in stray if e["actor"] not in unsure]
    if stray:
        found.misanswered.append(f"recorded by no acknowledged command: {stray}")
    retried: dict[tuple[str, str, str], list[Event]] = defaultdict(list)
    for n, t in enumerate(told):
        if t.planned.key is not None:
            retried[(t.planned.slot, t.planned.kind, t.planned.key)] += own[n]
    for n, t in enumerate(told):
        p = t.planned
        where = f"{t.actor} {p.kind} on {p.slot}"
        found.counts["commands"] += 1
        if t.code is not None and t.code not in ("CONFLICT", "LOST"):
            found.unexpected.append(f"{where}: answered {t.code}")
            continue
        if t.message not in states or t.message in unreadable or t.actor in unsure:
            found.counts["unaudited"] += t.code is None
            continue
        history = states[t.message]
        mine = own[n]
        if t.code == "LOST":
            found.counts["lost_in_the_kill"] += 1
            if mine and [e["type"] for e in mine] != records(command_of(p)):
                found.misanswered.append(f"{where}: cut off by the kill, recorded {mine}")
            continue
        if t.code == "CONFLICT":
            found.counts["refused"] += 1
            found.misanswered += refusal_problems(where, t, history) + (
                [f"{where}: refused, yet recorded {mine}"] if mine else []
            )
            continue
        found.counts["acknowledged"] += 1
        group = retried.get((p.slot, p.kind, p.key or ""), [])
        if not mine and p.key is not None:  # a retry, answered by its key's one recording
            found.counts["idempotent_retries"] += 1
            wanted = ["Drafted"] if p.kind == "draft" else records(command_of(p))
            if p.kind == "draft" and (t.answer or {}).get("id") != t.message:
                found.misanswered.append(f"{where}: a retry answered another message {t.answer}")
            if [e["type"] for e in group] != wanted or (t.version or 0) < group[-1]["version"]:
                found.misanswered.append(f"{where}: a retry answered v{t.version}, key {group}")
            continue
        first_text = plan.slots[p.slot].text
        found.misanswered += acknowledged_problems(where, t, mine, history, first_text)
    for client in sorted({t.planned.client for t in told}):
        mine_in_order = [
            own[n][-1]["position"]
            for n, t in enumerate(told)
            if t.planned.client == client
            and t.code is None
            and own.get(n)
            and t.actor not in unsure
        ]
        if any(a >= b for a, b in itertools.pairwise(mine_in_order)):
            found.misanswered.append(f"client {client}: its writes recorded out of its order")
    return found


def refusal_problems(where: str, t: Told, history: list[State]) -> list[str]:
    """A CONFLICT names the version and status it refused at: the history must have that
    status there, and the model must forbid the command there (or the expectedVersion given
    must be another)."""
    v = t.version
    if v is None or not 1 <= v <= len(history) or history[v - 1].status != t.status:
        return [f"{where}: a CONFLICT at v{v} {t.status}, the history says {history}"]
    if t.expected is not None and t.expected != v:
        return []
    if allows(command_of(t.planned), history[v - 1]):
        return [f"{where}: refused at v{v}, where the model allows it: {history[v - 1]}"]
    return []


def acknowledged_problems(
    where: str, t: Told, mine: list[Event], history: list[State], first_text: str
) -> list[str]:
    p = t.planned
    answer = t.answer or {}
    wanted = ["Drafted"] if p.kind == "draft" else records(command_of(p))
    if [e["type"] for e in mine] != wanted or any(e["messageId"] != t.message for e in mine):
        return [f"{where}: acknowledged, recorded {mine}"]
    versions = [e["version"] for e in mine]
    problems = []
    if versions != list(range(versions[0], versions[0] + len(versions))):
        problems.append(f"{where}: its events are not consecutive: {versions}")
    action = p.kind.startswith("action_")
    if action and answer.get("status") != "success":
        problems.append(f"{where}: answered {answer}")
    if not action and (t.version != versions[-1] or history[versions[-1] - 1].status != t.status):
        problems.append(f"{where}: answered v{t.version} {t.status}, recorded {mine}")
    if p.kind == "draft" and answer.get("id") != t.message:
        problems.append(f"{where}: answered the id {answer.get('id')}, its key names {t.message}")
    if t.expected is not None and versions[0] != t.expected + 1:
        problems.append(f"{where}: expected v{t.expected}, recorded at v{versions[0]}")
    sent = first_text if p.kind == "draft" else p.text
    if sent is not None:
        shown = answer["message"]["message"] if action else answer.get("text")
        if shown != sent:  # the answer is the message right after this command
            problems.append(f"{where}: sent {sent!r}, answered {shown!r}")
        if mine[0]["text"] not in (sent, None):
            problems.append(f"{where}: sent {sent!r}, recorded {mine[0]['text']!r}")
        if mine[0]["text"] is None and not history[-1].redacted:
            problems.append(f"{where}: its text is gone, yet the message is not redacted")
    if p.kind == "report" and mine[0]["status"] != p.report:
        problems.append(f"{where}: recorded the status {mine[0]['status']}")
    return problems
