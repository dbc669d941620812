"""A seeded random schedule of every command, for clients racing on the same messages. The same
seed gives the same schedule (which command each client sends at each step, to which message,
with which text); only the interleaving is the server's. In every round, each sent CHAT message
has one step where one client redacts it while all the others edit it."""

from __future__ import annotations

import os
import random
from collections.abc import Callable
from dataclasses import dataclass, field

from tests.lifecycle_model import REPORTABLE

# Messages made before a round races: (name, channel, needs approval, what happens after the
# draft: "send", then each status reported).
SETUP = (
    ("chat-sent-0", "CHAT", False, ("send", "SENT")),
    ("chat-sent-1", "CHAT", False, ("send", "SENT")),
    ("chat-sent-2", "CHAT", False, ("send", "DELIVERED")),
    ("chat-sent-3", "CHAT", False, ("send", "SENT")),
    ("chat-sent-4", "CHAT", False, ("send", "SENT", "DELIVERY_FAILED")),
    ("sms-delivered", "SMS", False, ("send", "DELIVERED")),
    ("chat-accepted", "CHAT", False, ("send",)),
    ("chat-processing", "CHAT", False, ("send", "PROCESSING")),
    ("chat-draft", "CHAT", False, ()),
    ("chat-draft-approval", "CHAT", True, ()),
    ("sms-draft", "SMS", False, ()),
    ("email-draft-approval", "EMAIL", True, ()),
)
# Edited while redacted, every round: the race of issue 10, given several chances a round.
RACED = ("chat-sent-0", "chat-sent-1", "chat-sent-2", "chat-sent-3", "chat-sent-4")
CHANNELS = ("CHAT", "CHAT", "SMS", "EMAIL", "WHATSAPP")
WEIGHTS = {
    "draft": 2,
    "edit_text": 4,
    "edit_body": 2,
    "update": 2,
    "send": 2,
    "approve": 2,
    "reject": 1,
    "action_approve": 1,
    "action_edit": 2,
    "action_reject": 1,
    "report": 3,
    "redact": 2,
}
# What an updateMessage (Bird's PATCH) gives: a body, recipients, draft: false, status: ACCEPTED.
UPDATES = (
    ("body",),
    ("body", "draft"),
    ("draft",),
    ("status",),
    ("recipients",),
    ("recipients", "draft"),
)
EDITS_OF_A_RACED_MESSAGE = ("edit_text", "edit_body", "action_edit")


def seed_of_this_run() -> int:
    """HERALD_MODEL_SEED repeats a run's schedule; without it, each run draws a seed."""
    given = os.environ.get("HERALD_MODEL_SEED")
    return int(given) if given else random.randrange(1 << 31)


@dataclass(frozen=True)
class Slot:
    """A message of the round: made by the setup, or by a draft of the schedule (one slot for
    all the retries of one idempotency key)."""

    name: str  # also its conversation id: one conversation per message
    channel: str
    needs_approval: bool
    text: str  # its first text
    by_body: bool = False  # drafted with a body rather than a text
    key: str | None = None  # the idempotency key of its draft
    then: tuple[str, ...] = ()  # a setup slot's commands after the draft
    setup: bool = False  # made before the round races


@dataclass(frozen=True)
class Planned:
    client: int
    step: int
    kind: str  # a key of WEIGHTS
    slot: str
    text: str | None = None  # the text it sends (a draft's, an edit's, an update body's)
    key: str | None = None  # idempotency key (draft, send, approve)
    expect: bool = False  # give the version this client last saw as expectedVersion
    update: tuple[str, ...] = ()
    report: str | None = None


@dataclass
class Plan:
    seed: int
    round: int
    slots: dict[str, Slot] = field(default_factory=dict)
    steps: list[list[Planned]] = field(default_factory=list)

    def texts_of(self, slot: str) -> list[str]:
        """Every text the schedule ever sends for this message, each a unique marker."""
        sent = [p.text for step in self.steps for p in step if p.slot == slot and p.text]
        return [self.slots[slot].text, *sent]


def plan_round(
    seed: int, round_: int, clients: int, steps: int, weights: dict[str, int] = WEIGHTS
) -> Plan:
    """Each client's command at each step. At one step of each RACED message, one client
    redacts it while the others edit it; at the first other step, three clients retry one
    idempotent draft and two one idempotent approval, together; every other command is drawn
    at random, by `weights`."""
    rng = random.Random(f"{seed}/{round_}")
    plan = Plan(seed, round_)

    def marker() -> str:
        return f"txt{rng.getrandbits(96):024x}"

    for name, channel, needs_approval, then in SETUP:
        slot = Slot(f"r{round_}-{name}", channel, needs_approval, marker(), then=then, setup=True)
        plan.slots[slot.name] = slot
    raced_at = dict(zip(rng.sample(range(steps), len(RACED)), RACED, strict=False))
    retried_at = min(set(range(steps)) - set(raced_at))
    approval = f"r{round_}-chat-draft-approval"
    for step in range(steps):
        made: list[Planned] = []
        available = list(plan.slots)  # only messages drafted at an earlier step are targets
        for client in range(clients):
            if step in raced_at:
                target = f"r{round_}-{raced_at[step]}"
                if client == step % clients:
                    made.append(Planned(client, step, "redact", target))
                else:
                    kind = rng.choice(EDITS_OF_A_RACED_MESSAGE)
                    made.append(Planned(client, step, kind, target, marker()))
            elif step == retried_at and client < 3:
                made.append(_draft(rng, plan, made, client, step, marker, retry=True))
            elif step == retried_at and client < 5:
                made.append(Planned(client, step, "approve", approval, key=f"approve-{approval}"))
            else:
                made.append(_random(rng, plan, made, available, client, step, marker, weights))
        plan.steps.append(made)
    return plan


def _random(
    rng: random.Random,
    plan: Plan,
    made: list[Planned],
    available: list[str],
    client: int,
    step: int,
    marker: Callable[[], str],
    weights: dict[str, int],
) -> Planned:
    [kind] = rng.choices(list(weights), weights=list(weights.values()))
    if kind == "draft":
        return _draft(rng, plan, made, client, step, marker)
    target = rng.choice(available)
    text = marker() if kind in ("edit_text", "edit_body", "action_edit") else None
    update: tuple[str, ...] = ()
    if kind == "update":
        update = rng.choice(UPDATES)
        text = marker() if "body" in update else None
    key = None
    if kind in ("send", "approve") and rng.random() < 0.4:
        key = f"{kind}-{target}"  # one key per message: every use after the first retries
    report = rng.choice(REPORTABLE) if kind == "report" else None
    expect = kind in ("edit_text", "update", "reject", "redact") and rng.random() < 0.25
    return Planned(client, step, kind, target, text, key, expect, update, report)


def _draft(
    rng: random.Random,
    plan: Plan,
    made: list[Planned],
    client: int,
    step: int,
    marker: Callable[[], str],
    *,
    retry: bool = False,
) -> Planned:
    """A new draft, with an idempotency key half the time; a keyed one often retries a key
    another client sends at this very step, or one sent earlier. With `retry`, it retries
    the key of this step's first draft, or is that draft, keyed."""
    now = [p.slot for p in made if p.kind == "draft" and p.key]
    earlier = [s.name for s in plan.slots.values() if s.key]
    if now and (retry or rng.random() < 0.6):
        slot = plan.slots[rng.choice(now)]
    elif earlier and not retry and rng.random() < 0.2:
        slot = plan.slots[rng.choice(earlier)]
    else:
        keyed = retry or rng.random() < 0.5
        name = f"r{plan.round}-draft-{step}-{client}"
        slot = Slot(
            name,
            rng.choice(CHANNELS),
            rng.random() < 0.4,
            marker(),
            by_body=rng.random() < 0.3,
            key=f"key-{name}" if keyed else None,
        )
        plan.slots[name] = slot
    return Planned(client, step, "draft", slot.name, key=slot.key)
