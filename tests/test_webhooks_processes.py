"""The dispatcher as real processes: a kill -9 mid-delivery loses nothing (what was in flight is
sent again, with the same webhook-id), and several Herald processes on one PostgreSQL database
send each event from one of them only, another taking over when it dies."""

from __future__ import annotations

import threading
from collections import Counter, defaultdict
from collections.abc import Iterator
from pathlib import Path

import pytest

from app.runtime import Herald
from app.settings import Settings
from app.webhooks.lease import lease_for
from app.webhooks.signing import webhook_id
from app.workspaces import Principal
from tests.conftest import Api, draft
from tests.figures import backend_of, record
from tests.hooks import eventually
from tests.postgres import fresh_database
from tests.processes import HeraldProcess, ServerProcess, create_key
from tests.receiver import Received, Receiver, hold

WEBHOOK_ENV = {
    "HERALD_WEBHOOK_ALLOW_PRIVATE": "1",
    "HERALD_WEBHOOK_RETRY_SCHEDULE": "0,0.2,0.2,0.2,0.2,0.2",
    "HERALD_WEBHOOK_JITTER": "0",
    "HERALD_WEBHOOK_TIMEOUT": "30",
}
LEADING = "this process now dispatches webhooks"


@pytest.fixture(autouse=True)
def webhook_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name, value in WEBHOOK_ENV.items():
        monkeypatch.setenv(name, value)


@pytest.fixture
def writer(settings: Settings) -> Iterator[Herald]:
    """This process writes; the dispatching is left to the processes under test."""
    herald = Herald(settings, dispatch=False)
    yield herald
    herald.close()


def write(herald: Herald, messages: int, tag: str) -> dict[str, int]:
    """Messages of three events each (drafted, edited, sent): their ids and versions."""
    p = Principal(herald.workspaces.ensure("acme"), "acme-bot")
    store, made = herald.store, {}
    for i in range(messages):
        msg = store.draft(
            p,
            None,
            conversation_id=tag,
            channel="CHAT",
            content={"type": "text", "text": {"text": f"{tag} {i}"}},
            recipients=[],
            sender=None,
            reply_to=None,
            reference=None,
            requires_approval=False,
            actor="bot",
        )
        store.edit(p, str(msg.id), None, "bot", text=f"{tag} {i} edited")
        made[str(msg.id)] = store.send(p, str(msg.id), None, "bot", None).version
    return made


def expected_ids(made: dict[str, int]) -> set[str]:
    from uuid import UUID

    return {webhook_id(UUID(mid), v) for mid, last in made.items() for v in range(1, last + 1)}


def all_delivered(herald: Herald) -> bool | None:
    """Whether the outbox has queued every event recorded, and every delivery is recorded as
    delivered (None until then)."""
    webhooks = herald.webhooks
    queued = webhooks.outbox.position >= (herald.store.recorder.max_notification_id() or 0)
    return True if queued and webhooks.backlog() == 0 else None


def in_order(requests: list[Received]) -> None:
    firsts: dict[str, list[int]] = defaultdict(list)
    for r in requests:
        versions = firsts[r.data["messageId"]]
        if r.data["version"] not in versions:
            versions.append(r.data["version"])
    for versions in firsts.values():
        assert versions == sorted(versions)


def test_a_kill_9_mid_delivery_loses_nothing_and_what_is_sent_again_has_its_webhook_id(
    settings: Settings, writer: Herald, tmp_path: Path
) -> None:
    released = threading.Event()

    async def answer(_: Received) -> int:
        await hold(released)  # the first ones stay in flight until the dispatcher is dead
        return 200

    with Receiver(answer) as receiver:
        writer.webhooks.endpoints.create(
            writer.workspaces.ensure("acme"), receiver.url, None, "", writer.webhooks.start_within
        )
        made = write(writer, 5, "before")
        first = HeraldProcess(settings.database_url, tmp_path / "first.log", "dispatch")
        try:
            receiver.wait(lambda r: len(r.requests) == 5)  # each message's first event
        finally:
            first.kill()
        in_flight = {r.id for r in receiver.requests}
        released.set()
        made |= write(writer, 5, "while down")
        second = HeraldProcess(settings.database_url, tmp_path / "second.log", "dispatch")
        try:
            eventually(lambda: all_delivered(writer), "every delivery recorded")
        finally:
            second.stop()

    got = Counter(r.id for r in receiver.requests)
    assert set(got) == expected_ids(made)  # none lost, nothing else
    assert {i for i, n in got.items() if n > 1} == in_flight  # only those cut off came twice
    for i in in_flight:
        bodies = [r.data for r in receiver.requests if r.id == i]
        assert bodies[0] == bodies[1]
    in_order(receiver.requests)
    queued = writer.store.db.read_one("SELECT COUNT(*) FROM webhook_deliveries", ())[0]
    assert queued == len(expected_ids(made))  # each event queued once, kill or no kill
    record(
        "webhook crash safety",
        backend_of(settings.database_url),
        kills=1,
        events_checked=len(got),
        resent_after_kill=len(in_flight),
    )


def test_herald_servers_on_one_postgresql_database_send_each_event_from_one_only(
    postgres_server: str, tmp_path: Path
) -> None:
    database = fresh_database(postgres_server)
    writer = Herald(Settings(database_url=database), dispatch=False)
    servers: list[ServerProcess] = []

    async def answer(_: Received) -> int:
        return 200

    try:
        with Receiver(answer) as receiver:
            writer.webhooks.endpoints.create(
                writer.workspaces.ensure("acme"),
                receiver.url,
                None,
                "",
                writer.webhooks.start_within,
            )
            key = create_key(database, "acme")
            servers = [ServerProcess(database, tmp_path / f"server{i}.log") for i in range(2)]
            for server in servers:
                server.wait_ready()
            clients = [Api(server.url, key) for server in servers]
            made: list[str] = []
            for i in range(20):  # through both servers in turn
                made.append(draft(clients[i % 2], f"m{i}", conversationId="both")["id"])
            eventually(lambda: all_delivered(writer), "every delivery recorded")
            once = Counter(r.id for r in receiver.requests)
            [leader] = [s for s in servers if LEADING in s.output()]
            [other] = [s for s in servers if s is not leader]
            leader.kill()
            survivor = clients[servers.index(other)]
            for i in range(10):
                made.append(draft(survivor, f"after {i}", conversationId="both")["id"])
            eventually(lambda: all_delivered(writer), "every delivery recorded after the kill")
            for client in clients:
                client.close()
    finally:
        for server in servers:
            server.stop()
        writer.close()

    assert set(once.values()) == {1}  # no failure, so no retry: each sent by one process once
    assert len(once) == 20
    got = Counter(r.id for r in receiver.requests)
    assert set(got) == expected_ids({mid: 1 for mid in made})
    assert LEADING in other.output()  # it took over
    record("webhook dispatch across processes", "postgres", processes=2, kills=1, events=len(got))


def test_one_process_at_a_time_holds_the_dispatch_lease(settings: Settings) -> None:
    first, second = lease_for(settings), lease_for(settings)
    try:
        assert first.acquire()
        assert first.holds()
        assert not second.acquire()
        first.release()  # as when its process dies: the lock goes with it
        assert second.acquire()
        assert not first.acquire()
    finally:
        first.release()
        second.release()
