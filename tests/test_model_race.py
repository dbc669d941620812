"""The model-based concurrency proof of issue 10, against a real `herald serve` process.

Each round, a seeded random schedule (tests/model_plan.py) of every command (drafts with and
without idempotency keys, racing retries of one key among them; edits by text and by body;
Bird's PATCH, draft: false included; sends; approvals; rejections; the Handle Message Action
API's APPROVE, EDIT and REJECT; delivery reports; redactions) is sent by CLIENTS clients at
once, a step at a time, to the same messages, with edits of sent CHAT messages racing their
redaction in every round. After each round, tests/model_audit.py reads every message back
through every path and holds every answer against its history and the lifecycle model
(tests/lifecycle_model.py); a redacted message must show and store nothing of its text and keep
no key; `herald projections verify` must be clean. Once the server has stopped, what is
durable is scanned again for every text and old key of every redacted message.

The seed is printed and named in every failure; to repeat a run, or make it longer:

    HERALD_MODEL_SEED=1234 HERALD_MODEL_ROUNDS=30 .venv/bin/pytest -q tests/test_model_race.py
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from app.settings import Settings
from tests.lifecycle_model import replay
from tests.model_answers import refusal_problems
from tests.model_audit import stored_problems
from tests.model_plan import Planned, plan_round, seed_of_this_run
from tests.model_proof import Proof
from tests.model_racers import Racers, Told, setup_round
from tests.processes import ServerProcess, create_keys, database_alone
from tests.readings import Client

ROUNDS = int(os.environ.get("HERALD_MODEL_ROUNDS") or 0) or 3
CLIENTS = 6
STEPS = 10


def test_every_command_racing_on_the_same_messages_leaves_every_message_whole_and_erased(
    settings: Settings, tmp_path: Path
) -> None:
    proof = Proof("model race", database_alone(settings.database_url, tmp_path), seed_of_this_run())
    print(f"model race: HERALD_MODEL_SEED={proof.seed}, {ROUNDS} rounds")
    names = ["setup", *(f"client-{c}" for c in range(CLIENTS))]
    keys = create_keys(proof.database_url, "acme", names)
    server = ServerProcess(proof.database_url, tmp_path / "server.log")
    try:
        server.wait_ready()
        reader = Client(server.url, keys["setup"], patient=True)
        for round_ in range(ROUNDS):
            plan = plan_round(proof.seed, round_, CLIENTS, STEPS)
            ids, versions = setup_round(reader, plan)
            proof.keys_before_racing(ids)
            racers = Racers(server.url, {name: keys[name] for name in names[1:]})
            told = racers.run(plan, ids, versions)
            racers.close()
            proof.audit(f"round {round_}", plan, told, ids, reader, rounds=1)
        reader.close()
    finally:
        server.stop()
    proof.scan_durable()
    assert not proof.problems, proof.verdict()


def test_the_model_finds_broken_histories_unjustified_refusals_and_stored_content() -> None:
    """The audit is only worth something if it catches what it looks for."""

    def history(*steps: tuple[str, str | None], channel: str = "CHAT") -> list[dict[str, Any]]:
        return [
            {
                "messageId": "m",
                "version": n,
                "type": kind,
                "actor": "a",
                "channel": channel,
                "requiresApproval": kind == "Drafted" and status == "approval",
                "text": "hi" if kind in ("Drafted", "Edited") else None,
                "status": status,
            }
            for n, (kind, status) in enumerate(steps, start=1)
        ]

    sent: list[tuple[str, str | None]] = [
        ("Drafted", None),
        ("Sent", None),
        ("StatusChanged", "SENT"),
    ]
    fine = [*sent, ("Edited", None), ("Redacted", None), ("StatusChanged", "DELIVERED")]
    assert replay(history(*fine))[1] == []
    for broken in (
        [*sent, ("Redacted", None), ("Edited", None)],
        [*sent, ("Redacted", None), ("Redacted", None)],
        [("Drafted", None), ("Sent", None), ("Redacted", None)],  # ACCEPTED: in progress
        [("Drafted", None), ("Sent", None), ("StatusChanged", "PROCESSING"), ("Redacted", None)],
        [("Drafted", "approval"), ("Sent", None)],  # sent without its approval
        [("Drafted", None), ("Approved", None)],  # approved, never sent
        [("Drafted", None), ("Rejected", None), ("Edited", None)],
        [*sent, ("StatusChanged", "PROCESSING")],  # backwards
    ):
        assert replay(history(*broken))[1], broken
    assert replay(history(*sent, ("Edited", None), channel="SMS"))[1]

    states = replay(history(*sent))[0]
    refused = Planned(0, 0, "edit_text", "slot", "new text")
    told = Told(refused, "a", "m", None, "CONFLICT", 3, "SENT")
    assert refusal_problems("edit", told, states)  # a sent CHAT message can be edited
    told = Told(Planned(0, 0, "redact", "slot"), "a", "m", None, "CONFLICT", 2, "ACCEPTED")
    assert refusal_problems("redact", told, states) == []
    assert refusal_problems(
        "redact", Told(told.planned, "a", "m", None, "CONFLICT", 2, "SENT"), states
    )

    key = bytes(range(32))
    stored = {"herald.db-wal": b"..." + "secret".encode("utf-16-le"), "dump": key.hex().encode()}
    assert len(stored_problems(stored, "m", ["secret"], {key})) == 2
    assert stored_problems(stored, "m", ["other"], {bytes(32)}) == []
