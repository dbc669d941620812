"""A kill -9 amid edits and redactions, then a restart: the checks of the model-based proof.

Each time, a round of the seeded schedule of tests/model_plan.py, weighted to edits and
redactions, races on a real `herald serve` process; the server is killed with SIGKILL during a
step where a client redacts (mostly a sent CHAT message, while the other clients edit it), as
soon as that step is released or its first answer is in. A new server then starts on the same
database, and tests/model_audit.py checks every message: readable through every path, every
acknowledged write there at its version (a command the kill cut off recorded whole or not at
all), every refusal justified, no INTERNAL_SERVER_ERROR, a redacted message erased (no key row,
none of its text in the database's bytes), `herald projections verify` clean. Once the last
server has stopped, what is durable is scanned for every text and old key of every redacted
message. More kills:

    HERALD_KILLS=10 HERALD_MODEL_SEED=1234 .venv/bin/pytest -q tests/test_kill_redactions.py
"""

from __future__ import annotations

import os
import random
import signal
import threading
from pathlib import Path

from app.settings import Settings
from tests.model_plan import WEIGHTS, Plan, plan_round, seed_of_this_run
from tests.model_proof import Proof
from tests.model_racers import Racers, Told, setup_round
from tests.processes import ServerProcess, create_keys, database_alone
from tests.readings import Client, events_pages

KILLS = int(os.environ.get("HERALD_KILLS") or 0) or 2
CLIENTS = 6
STEPS = 8
WEIGHTS_AMID_REDACTIONS = {**WEIGHTS, "edit_text": 6, "edit_body": 3, "action_edit": 3, "redact": 5}


def race_until_killed(
    racers: Racers,
    server: ServerProcess,
    plan: Plan,
    setup: tuple[dict[str, str], dict[str, int]],
    at: tuple[int, int],
) -> list[Told]:
    """Race the plan; SIGKILL the server once step at[0] is released and at[1] of its commands
    are answered. The clients then stop, each with its command in flight LOST."""
    result: dict[str, list[Told] | BaseException] = {}

    def run() -> None:
        try:
            result["told"] = racers.run(plan, *setup)
        except BaseException as e:  # reported in the test's own thread
            result["failed"] = e

    thread = threading.Thread(target=run)
    thread.start()
    try:
        racers.wait_for(*at, timeout=120)
    finally:
        racers.killing.set()
        server.kill()
        thread.join(timeout=300)
    assert not thread.is_alive(), "the racers did not stop"
    assert server.process.returncode == -signal.SIGKILL
    told = result.get("told", result.get("failed"))
    assert isinstance(told, list), told
    return told


def found_ids(reader: Client, plan: Plan, ids: dict[str, str]) -> None:
    """A draft the kill cut off may have been recorded: its conversation (one per message)
    names it."""
    for slot in plan.slots:
        if slot not in ids:
            events, errors = events_pages(reader, slot)
            assert not errors, errors
            if events:
                ids[slot] = events[0][1]["messageId"]


def test_a_kill_9_amid_edits_and_redactions_then_a_restart_leaves_every_message_whole(
    settings: Settings, tmp_path: Path
) -> None:
    database_url = database_alone(settings.database_url, tmp_path)
    proof = Proof("kill amid redactions", database_url, seed_of_this_run())
    print(f"kill amid redactions: HERALD_MODEL_SEED={proof.seed}, {KILLS} kills")
    names = ["setup", *(f"client-{c}" for c in range(CLIENTS))]
    keys = create_keys(database_url, "acme", names)
    server = ServerProcess(database_url, tmp_path / "server-0.log")
    try:
        server.wait_ready()
        for kill in range(KILLS):
            plan = plan_round(proof.seed, kill, CLIENTS, STEPS, WEIGHTS_AMID_REDACTIONS)
            reader = Client(server.url, keys["setup"], patient=True)
            ids, versions = setup_round(reader, plan)
            reader.close()
            proof.keys_before_racing(ids)
            chance = random.Random(f"{proof.seed}/kill {kill}")
            redacting = [
                n for n, step in enumerate(plan.steps) if any(p.kind == "redact" for p in step)
            ]
            at = (chance.choice(redacting[1:-1] or redacting), chance.randrange(2))
            racers = Racers(server.url, {name: keys[name] for name in names[1:]})
            told = race_until_killed(racers, server, plan, (ids, versions), at)
            racers.close()

            server = ServerProcess(database_url, tmp_path / f"server-{kill + 1}.log")
            server.wait_ready()
            reader = Client(server.url, keys["setup"], patient=True)
            found_ids(reader, plan, ids)
            cut_off = sum(t.code == "LOST" for t in told)
            label = f"kill {kill} at step {at[0]}, {cut_off} commands cut off"
            proof.audit(
                label, plan, told, ids, reader, kills=1, restarts=1, commands_cut_off=cut_off
            )
            reader.close()
    finally:
        server.stop()
    proof.scan_durable()
    assert not proof.problems, proof.verdict()
