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
from tests.erasure import is_sqlite, key_rows, stored_bytes
from tests.figures import backend_of, record
from tests.lifecycle_model import replay
from tests.model_answers import refusal_problems
from tests.model_audit import KEYS_SEEN, audit, stored_problems
from tests.model_plan import Planned, plan_round, seed_of_this_run
from tests.model_racers import Racers, Told, setup_round
from tests.processes import ServerProcess, create_keys, database_alone
from tests.readings import Client

ROUNDS = int(os.environ.get("HERALD_MODEL_ROUNDS") or 0) or 3
CLIENTS = 6
STEPS = 8


def test_every_command_racing_on_the_same_messages_leaves_every_message_whole_and_erased(
    settings: Settings, tmp_path: Path
) -> None:
    seed = seed_of_this_run()
    print(f"model race: HERALD_MODEL_SEED={seed}, {ROUNDS} rounds")
    database_url = database_alone(settings.database_url, tmp_path)
    backend = backend_of(database_url)
    names = ["setup", *(f"client-{c}" for c in range(CLIENTS))]
    keys = create_keys(database_url, "acme", names)
    server = ServerProcess(database_url, tmp_path / "server.log")
    keys_seen: KEYS_SEEN = {}
    redacted: dict[str, list[str]] = {}
    problems: list[str] = []
    try:
        server.wait_ready()
        reader = Client(server.url, keys["setup"])
        for round_ in range(ROUNDS):
            plan = plan_round(seed, round_, CLIENTS, STEPS)
            ids, versions = setup_round(reader, plan)
            for mid, key in key_rows(database_url, ids.values()).items():
                keys_seen.setdefault(mid, set()).add(key)
            racers = Racers(server.url, {name: keys[name] for name in names[1:]})
            told = racers.run(plan, ids, versions)
            racers.close()
            # On SQLite the old keys are looked for once the server has stopped (below): until
            # it checkpoints, its write-ahead log may keep pages from before a deletion.
            found = audit(
                plan,
                told,
                ids,
                reader,
                database_url,
                keys_seen,
                scan_keys=not is_sqlite(database_url),
            )
            redacted |= found.redacted
            record(
                "model race",
                backend,
                rounds=1,
                internal_errors=found.internal,
                lifecycle_broken=len(found.lifecycle),
                views_disagreeing=len(found.views),
                misanswered=len(found.misanswered),
                unexpected_refusals=len(found.unexpected),
                erasure_failures=len(found.erasure),
                projections_verified=int(found.verify is None),
                **found.counts,
            )
            print(f"round {round_}: {dict(found.counts)}, internal errors {found.internal}")
            problems += [f"round {round_}: {problem}" for problem in found.problems()]
            if found.internal:
                problems.append(f"round {round_}: {found.internal} INTERNAL_SERVER_ERROR answers")
        reader.close()
    finally:
        server.stop()

    if is_sqlite(database_url):  # what is durable, the server gone: every file of the database
        stored = stored_bytes(database_url)
        for mid, texts in redacted.items():
            problems += stored_problems(stored, mid, texts, keys_seen.get(mid, set()))
    assert not problems, f"HERALD_MODEL_SEED={seed}: {len(problems)} problems:\n" + "\n".join(
        problems[:40]
    )


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
