"""The clients of the model-based proofs: the setup of a round's messages, then every client
sending its scheduled command of each step at the same moment (one barrier per step), keeping
what it was told. When the server is killed, each client stops, the outcome of the command it
had in flight unknown (LOST)."""

from __future__ import annotations

import threading
from collections import Counter
from dataclasses import dataclass
from typing import Any

import httpx

from tests.model_plan import Plan, Planned, Slot
from tests.readings import Client

ANSWER = "id version status text redacted"
MUTATIONS = (
    "draftMessage",
    "editMessage",
    "updateMessage",
    "sendMessage",
    "approveMessage",
    "rejectMessage",
    "recordDeliveryStatus",
    "redactMessage",
)
DOCUMENTS = {
    m: f"mutation($input: {m[0].upper()}{m[1:]}Input!) {{ {m}(input: $input) {{ {ANSWER} }} }}"
    for m in MUTATIONS
}
ACTION = """
mutation($c: ID!, $m: ID!, $meta: MessageActionMetadataInput!) {
  handleMessageAction(conversationId: $c, messageId: $m, metadata: $meta) {
    status message { _id message sent status }
  }
}
"""
MUTATION_OF = {
    "draft": "draftMessage",
    "edit_text": "editMessage",
    "edit_body": "editMessage",
    "update": "updateMessage",
    "send": "sendMessage",
    "approve": "approveMessage",
    "reject": "rejectMessage",
    "report": "recordDeliveryStatus",
    "redact": "redactMessage",
}
RECIPIENTS = [{"identifierKey": "phonenumber", "identifierValue": "+15550100"}]


@dataclass
class Told:
    """One scheduled command and what its client was told."""

    planned: Planned
    actor: str  # the actor of the events it records
    message: str | None  # the message it named (a draft: the one it was answered)
    expected: int | None  # the expectedVersion it gave
    code: str | None  # None: acknowledged; an error's code; LOST: no answer; UNSENT: no message
    version: int | None = None  # answered, or the currentVersion of a CONFLICT
    status: str | None = None  # answered, or the currentStatus of a CONFLICT
    answer: dict[str, Any] | None = None


def body_of(text: str) -> dict[str, Any]:
    return {"type": "text", "text": {"text": text}}


def request(
    p: Planned, slot: Slot, message: str | None, actor: str, expected: int | None
) -> tuple[str, dict[str, Any]]:
    if p.kind.startswith("action_"):
        meta: dict[str, Any] = {"action": p.kind.removeprefix("action_").upper()}
        if p.text is not None:
            meta["editedMessage"] = p.text
        return ACTION, {"c": slot.name, "m": message, "meta": meta}
    given: dict[str, Any] = {"actor": actor}
    if p.kind == "draft":
        given |= {
            "conversationId": slot.name,
            "channel": slot.channel,
            "requiresApproval": slot.needs_approval,
            "recipients": RECIPIENTS,
        }
        given |= {"body": body_of(slot.text)} if slot.by_body else {"text": slot.text}
    else:
        given["id"] = message
    if p.key is not None:
        given["idempotencyKey"] = p.key
    if expected is not None:
        given["expectedVersion"] = expected
    if p.kind == "edit_text":
        given["text"] = p.text
    if p.kind == "edit_body" or "body" in p.update:
        given["body"] = body_of(str(p.text))
    if p.kind == "update":
        given["conversationId"] = slot.name
        if "recipients" in p.update:  # others than any before, so that it changes something
            number = f"+1555{p.step:03d}{p.client:03d}"
            given["recipients"] = [{"identifierKey": "phonenumber", "identifierValue": number}]
        given |= {"draft": False} if "draft" in p.update else {}
        given |= {"status": "ACCEPTED"} if "status" in p.update else {}
    if p.kind == "report":
        given["status"] = p.report
    if p.kind in ("reject", "redact"):
        given["reason"] = f"{p.kind} by {actor}"
    return DOCUMENTS[MUTATION_OF[p.kind]], {"input": given}


def setup_round(client: Client, plan: Plan) -> tuple[dict[str, str], dict[str, int]]:
    """The round's setup messages, one request at a time: (slot -> id, slot -> version)."""
    ids: dict[str, str] = {}
    versions: dict[str, int] = {}
    for slot in (s for s in plan.slots.values() if s.setup):
        draft = Planned(-1, -1, "draft", slot.name)
        answer = answered(client.post(*request(draft, slot, None, "setup", None)))
        ids[slot.name] = answer["id"]
        for then in slot.then:
            given = {"id": answer["id"], "actor": "setup"}
            kind = "send" if then == "send" else "report"
            given |= {} if then == "send" else {"status": then}
            answer = answered(client.post(DOCUMENTS[MUTATION_OF[kind]], {"input": given}))
        versions[slot.name] = answer["version"]
    return ids, versions


def answered(body: dict[str, Any]) -> dict[str, Any]:
    assert not body.get("errors"), body
    answer: dict[str, Any] = next(iter(body["data"].values()))
    return answer


class Racers:
    """One client (and API key) per name; each sends its command of a step at once."""

    def __init__(self, base_url: str, keys: dict[str, str]) -> None:
        self.names = list(keys)
        self.clients = [Client(base_url, key) for key in keys.values()]
        self.killing = threading.Event()  # set just before the test kills the server
        self.finished = threading.Event()
        self.changed = threading.Condition()
        self.released = -1  # the last step released to the clients
        self.answered: Counter[int] = Counter()  # commands answered, by step
        self.lock = threading.Lock()

    def close(self) -> None:
        for client in self.clients:
            client.close()

    def wait_for(self, step: int, answers: int, timeout: float) -> bool:
        """Until `step` is released and `answers` of its commands are answered; False if the
        run finished first."""
        with self.changed:
            self.changed.wait_for(
                lambda: (
                    (self.released >= step and self.answered[step] >= answers)
                    or self.finished.is_set()
                ),
                timeout=timeout,
            )
            return self.released >= step and self.answered[step] >= answers

    def run(self, plan: Plan, ids: dict[str, str], versions: dict[str, int]) -> list[Told]:
        barrier = threading.Barrier(len(self.clients), timeout=120)
        told: list[Told] = []
        failures: list[BaseException] = []

        def race(c: int) -> None:
            seen = dict(versions)  # the version this client last saw of each message
            stopped_early = True
            try:
                for n, step in enumerate(plan.steps):
                    barrier.wait()
                    with self.changed:
                        self.released = max(self.released, n)
                        self.changed.notify_all()
                    done = self._send(c, step[c], plan, ids, seen)
                    with self.lock:
                        told.append(done)
                    if done.code == "LOST":
                        return
                    with self.changed:
                        self.answered[n] += 1
                        self.changed.notify_all()
                stopped_early = False
            except threading.BrokenBarrierError:
                if not self.killing.is_set():
                    failures.append(AssertionError("a racer broke the barrier"))
            except BaseException as e:  # reported in the test's own thread
                failures.append(e)
            finally:
                # Wherever a client stopped early, the others stop there too. One that ran every
                # step must not: the last step's barrier may still be waking the others, and
                # breaking it then fails them (found under load, once answers got faster).
                if stopped_early:
                    barrier.abort()

        threads = [threading.Thread(target=race, args=(c,)) for c in range(len(self.clients))]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=300)
        with self.changed:
            self.finished.set()
            self.changed.notify_all()
        assert not any(thread.is_alive() for thread in threads), "a racer did not finish"
        assert not failures, failures
        return sorted(told, key=lambda t: (t.planned.step, t.planned.client))

    def _send(
        self, c: int, p: Planned, plan: Plan, ids: dict[str, str], seen: dict[str, int]
    ) -> Told:
        name = self.names[c]
        actor = name if p.kind.startswith("action_") else f"{name}/r{plan.round}/s{p.step}"
        message = ids.get(p.slot)
        expected = seen.get(p.slot) if p.expect else None
        if message is None and p.kind != "draft":
            return Told(p, actor, None, expected, "UNSENT")
        try:
            body = self.clients[c].post(*request(p, plan.slots[p.slot], message, actor, expected))
        except httpx.TransportError:
            if not self.killing.is_set():
                raise
            return Told(p, actor, message, expected, "LOST")
        if body.get("errors"):
            extensions = body["errors"][0].get("extensions") or {}
            version, status = extensions.get("currentVersion"), extensions.get("currentStatus")
            saw(seen, p.slot, version)
            return Told(p, actor, message, expected, str(extensions.get("code")), version, status)
        answer = next(iter(body["data"].values()))
        if p.kind == "draft":
            with self.lock:
                message = ids.setdefault(p.slot, answer["id"])
        version = answer.get("version")
        saw(seen, p.slot, version)
        return Told(p, actor, message, expected, None, version, answer.get("status"), answer)


def saw(seen: dict[str, int], slot: str, version: int | None) -> None:
    """A client learns a message's version from each answer that names one."""
    if isinstance(version, int):
        seen[slot] = max(seen.get(slot, version), version)
