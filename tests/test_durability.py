"""What is recorded stays recorded: across restarts, a kill -9 mid-write, and rebuilt views."""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

import httpx
import pytest

from app.runtime import Herald
from app.settings import Settings
from tests.conftest import MESSAGE_FIELDS, Api, LiveServer, draft
from tests.figures import backend_of, record
from tests.processes import create_key, free_port, herald_cli, herald_env, kill_group

# They compare every field of every view, read in large pages: see conftest.reads_everything.
pytestmark = pytest.mark.reads_everything


ROOT = Path(__file__).parents[1]

DRAFT_RAW = "mutation($input: DraftMessageInput!) { draftMessage(input: $input) { id version } }"
EDIT = "mutation($input: EditMessageInput!) { editMessage(input: $input) { id version text } }"
SEND = "mutation($input: SendMessageInput!) { sendMessage(input: $input) { version status } }"
APPROVE = "mutation($input: ApproveMessageInput!) { approveMessage(input: $input) { status } }"
REJECT = "mutation($input: RejectMessageInput!) { rejectMessage(input: $input) { status } }"
REDACT = "mutation($input: RedactMessageInput!) { redactMessage(input: $input) { redacted } }"
SEND_VERSION = "mutation($input: SendMessageInput!) { sendMessage(input: $input) { version } }"
REPORT_VERSION = """
mutation($input: RecordDeliveryStatusInput!) { recordDeliveryStatus(input: $input) { version } }
"""
REDACT_VERSION = (
    "mutation($input: RedactMessageInput!) { redactMessage(input: $input) { version } }"
)
# SIGKILLs in the crash loop; more for a long run: HERALD_CRASHES=50 pytest tests/test_durability.py
CRASHES = int(os.environ.get("HERALD_CRASHES", "0") or "0") or 3
REPORT = """
mutation($input: RecordDeliveryStatusInput!) { recordDeliveryStatus(input: $input) { status } }
"""
EVENT_FIELDS = """
  __typename messageId conversationId version type occurredAt actor
  ... on MessageDrafted {
    channel text body requiresApproval recipients { identifierKey identifierValue type }
  }
  ... on MessageEdited { text body afterSend }
  ... on MessageRejected { reason }
  ... on MessageStatusChanged { status reason }
  ... on MessageRedacted { reason }
"""
HISTORY = f"history(first: 100) {{ edges {{ cursor node {{ {EVENT_FIELDS} }} }} }}"
MESSAGES = f"""
query($first: Int!, $after: String) {{
  messages(first: $first, after: $after) {{
    edges {{ cursor node {{ {MESSAGE_FIELDS} {HISTORY} }} }}
    pageInfo {{ hasNextPage hasPreviousPage startCursor endCursor }}
  }}
}}
"""
MESSAGE = f"query($id: ID!) {{ message(id: $id) {{ {MESSAGE_FIELDS} {HISTORY} }} }}"
MESSAGE_AT = (
    f"query($id: ID!, $v: Int!) {{ messageAt(id: $id, version: $v) {{ {MESSAGE_FIELDS} }} }}"
)
EVENTS = f"""
query($first: Int!, $after: String, $conversationId: ID) {{
  events(first: $first, after: $after, conversationId: $conversationId) {{
    edges {{ cursor node {{ {EVENT_FIELDS} }} }}
    pageInfo {{ hasNextPage hasPreviousPage startCursor endCursor }}
  }}
}}
"""


# Reading every view, page by page.


def pages(api: Api, query: str, field: str, **variables: Any) -> list[dict[str, Any]]:
    """Every page of a connection, each exactly as the API answered it."""
    answered: list[dict[str, Any]] = []
    after: str | None = None
    while True:
        page: dict[str, Any] = api.ok(query, {**variables, "after": after})[field]
        answered.append(page)
        if not page["pageInfo"]["hasNextPage"]:
            return answered
        after = page["pageInfo"]["endCursor"]


def message_ids(message_pages: list[dict[str, Any]]) -> list[str]:
    return [edge["node"]["id"] for page in message_pages for edge in page["edges"]]


def views_of(api: Api, page_size: int) -> dict[str, Any]:
    """Everything the API tells about the workspace: messages, each message now and at each of
    its versions, and the events, whole and by conversation."""
    message_pages = pages(api, MESSAGES, "messages", first=page_size)
    ids = message_ids(message_pages)
    now = {mid: api.ok(MESSAGE, {"id": mid})["message"] for mid in ids}
    at = {
        mid: [
            api.ok(MESSAGE_AT, {"id": mid, "v": v})["messageAt"]
            for v in range(1, now[mid]["version"] + 1)
        ]
        for mid in ids
    }
    event_pages = pages(api, EVENTS, "events", first=page_size)
    conversations = sorted({m["conversationId"] for m in now.values()})
    by_conversation = {
        conv: pages(api, EVENTS, "events", first=page_size, conversationId=conv)
        for conv in conversations
    }
    return {
        "messages": message_pages,
        "message": now,
        "messageAt": at,
        "events": event_pages,
        "eventsByConversation": by_conversation,
    }


def events_in(event_pages: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [edge["node"] for page in event_pages for edge in page["edges"]]


def record_a_variety(api: Api) -> int:
    """Messages in every kind of state; returns how many events that recorded."""
    first = draft(api, "A plain draft")
    edited = draft(
        api,
        "To be edited",
        channel="SMS",
        recipients=[{"identifierKey": "phonenumber", "identifierValue": "+15550100"}],
        sender={"name": "Shop", "email": "shop@example.com"},
        reference="ref-7",
    )
    for text in ("Edited once", "Edited twice"):
        api.ok(EDIT, {"input": {"id": edited["id"], "text": text, "actor": "ada"}})
    approved = draft(api, "Needs a yes", requiresApproval=True)
    api.ok(APPROVE, {"input": {"id": approved["id"], "actor": "boss"}})
    rejected = draft(api, "Needs a no", requiresApproval=True)
    api.ok(REJECT, {"input": {"id": rejected["id"], "reason": "tone"}})
    chat = draft(api, "Sent then fixed")
    api.ok(SEND, {"input": {"id": chat["id"]}})
    for status in ("PROCESSING", "SENT"):
        api.ok(REPORT, {"input": {"id": chat["id"], "status": status}})
    api.ok(EDIT, {"input": {"id": chat["id"], "text": "Sent and fixed"}})
    failed = draft(api, "Will bounce", channel="EMAIL")
    api.ok(SEND, {"input": {"id": failed["id"]}})
    api.ok(REPORT, {"input": {"id": failed["id"], "status": "SENDING_FAILED", "reason": "bounced"}})
    erased = draft(api, "Will be erased")
    api.ok(SEND, {"input": {"id": erased["id"]}})
    api.ok(REPORT, {"input": {"id": erased["id"], "status": "DELIVERED"}})
    api.ok(REDACT, {"input": {"id": erased["id"], "reason": "asked to"}})
    draft(api, "A reply", conversationId="conv-2", replyToMessageId=first["id"])
    return 1 + 3 + 3 + 2 + 5 + 3 + 4 + 1


def a_variety_served(settings: Settings, page_size: int) -> tuple[str, int, dict[str, Any]]:
    """Record a variety of messages through a server that is then shut down: the API key used,
    how many events were recorded, and the views the server gave before shutting down."""
    herald = Herald(settings)
    try:
        with LiveServer(herald) as server:
            key = server.key("acme", "acme-bot")
            api = Api(server.base_url, key)
            try:
                return key, record_a_variety(api), views_of(api, page_size=page_size)
            finally:
                api.close()
    finally:
        herald.close()


def test_a_restart_keeps_every_message_version_history_and_event(settings: Settings) -> None:
    key, recorded, before = a_variety_served(settings, page_size=3)

    assert len(before["message"]) == 8
    assert len(events_in(before["events"])) == recorded
    assert len(before["events"]) > 1  # several pages, so their cursors are compared too
    texts = {m["text"] for m in before["message"].values()}
    assert {"Edited twice", "Sent and fixed", None} <= texts

    reopened = Herald(settings)
    try:
        with LiveServer(reopened) as server:
            api = Api(server.base_url, key)
            try:
                after = views_of(api, page_size=3)
            finally:
                api.close()
    finally:
        reopened.close()

    assert after == before
    record("durability", backend_of(settings.database_url), restarts=1, events_checked=recorded)


# A real server process, killed with SIGKILL while clients write.


class ServerProcess:
    """`python -m app.cli serve` on a free port, as an operator would run it."""

    def __init__(self, database_url: str, log: IO[bytes]) -> None:
        self.port = free_port()
        self.base_url = f"http://127.0.0.1:{self.port}"
        self.process = subprocess.Popen(
            [sys.executable, "-m", "app.cli", "serve", "--port", str(self.port)],
            env=herald_env(database_url),
            cwd=ROOT,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # its workers and dispatcher die with it
        )
        try:
            self._wait_until_healthy(deadline=time.monotonic() + 20)
        except BaseException:
            self.kill()
            raise

    def _wait_until_healthy(self, deadline: float) -> None:
        while time.monotonic() < deadline:
            assert self.process.poll() is None, "the server exited while starting"
            try:
                if httpx.get(f"{self.base_url}/healthz", timeout=1).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            threading.Event().wait(0.05)
        raise AssertionError("the server did not answer /healthz in time")

    def stop(self) -> None:
        self.process.terminate()
        # uvicorn shuts down gracefully, then dies of the signal it caught (since 0.29).
        code = self.process.wait(timeout=20)
        assert code in (0, -signal.SIGTERM), f"the server did not shut down cleanly: {code}"

    def kill(self) -> None:
        kill_group(self.process)


@pytest.fixture
def server_log(tmp_path: Path) -> Iterator[IO[bytes]]:
    with (tmp_path / "server.log").open("wb") as log:
        yield log


@dataclass(frozen=True)
class Ack:
    message_id: str
    version: int
    type: str
    text: str  # the message's text at this version (until it is redacted)


# Each message a writer makes: drafted, edited three times; every other one then sent, reported
# SENT and redacted, so a kill can also fall between a redaction's event and its key's deletion.
LIFECYCLE = ("Drafted", "Edited", "Edited", "Edited", "Sent", "StatusChanged", "Redacted")
TEXTS = 4  # the versions whose events carry text: the draft and its edits


class Writers:
    """Client threads writing messages through their lifecycle, keeping every write the server
    acknowledged."""

    def __init__(self, base_url: str, key: str, threads: int) -> None:
        self.base_url = base_url
        self.key = key
        self.acks: list[Ack] = []
        self.unexpected: list[str] = []
        self.killing = threading.Event()
        self.changed = threading.Condition()
        self.threads = [
            threading.Thread(target=self._write, args=(n,), name=f"writer-{n}")
            for n in range(threads)
        ]

    def start(self) -> None:
        for thread in self.threads:
            thread.start()

    def wait_for_acks(self, count: int, timeout: float) -> None:
        with self.changed:
            reached = self.changed.wait_for(
                lambda: len(self.acks) >= count or bool(self.unexpected), timeout=timeout
            )
        assert reached, f"only {len(self.acks)} writes acknowledged in {timeout}s"
        assert self.unexpected == []

    def join(self) -> None:
        for thread in self.threads:
            thread.join(timeout=30)
            assert not thread.is_alive()

    def _write(self, n: int) -> None:
        client = httpx.Client(
            base_url=self.base_url,
            headers={"Authorization": f"Bearer {self.key}"},
            timeout=20,
        )
        try:
            for i in range(10_000):
                if not self._message(client, f"writer {n} message {i}", whole=i % 2 == 0):
                    return
        finally:
            client.close()

    def _message(self, client: httpx.Client, prefix: str, whole: bool) -> bool:
        """Write one message's events; False once the server is gone."""
        text = f"{prefix} v1"
        made = self._call(client, DRAFT_RAW, {"conversationId": prefix[:8], "text": text})
        if made is None:
            return False
        mid = made["draftMessage"]["id"]
        self._ack(Ack(mid, made["draftMessage"]["version"], "Drafted", text))
        for version in range(2, TEXTS + 1):
            text = f"{prefix} v{version}"
            done = self._call(client, EDIT, {"id": mid, "text": text})
            if done is None:
                return False
            self._ack(Ack(mid, done["editMessage"]["version"], "Edited", text))
        if not whole:
            return True
        for document, given, kind in (
            (SEND_VERSION, {"id": mid}, "Sent"),
            (REPORT_VERSION, {"id": mid, "status": "SENT"}, "StatusChanged"),
            (REDACT_VERSION, {"id": mid}, "Redacted"),
        ):
            done = self._call(client, document, given)
            if done is None:
                return False
            self._ack(Ack(mid, next(iter(done.values()))["version"], kind, text))
        return True

    def _call(
        self, client: httpx.Client, query: str, given: dict[str, Any]
    ) -> dict[str, Any] | None:
        """The answer's data when the server acknowledged the write, else None (stop writing)."""
        try:
            response = client.post("/graphql", json={"query": query, "variables": {"input": given}})
        except httpx.TransportError as error:
            if not self.killing.is_set():
                self._fail(f"transport error before the kill: {error!r}")
            return None
        body = response.json() if response.status_code == 200 else None
        if body is None or body.get("errors") or not body.get("data"):
            self._fail(f"not acknowledged: {response.status_code} {response.text}")
            return None
        data: dict[str, Any] = body["data"]
        return data

    def _ack(self, ack: Ack) -> None:
        with self.changed:
            self.acks.append(ack)
            self.changed.notify_all()

    def _fail(self, why: str) -> None:
        with self.changed:
            self.unexpected.append(why)
            self.changed.notify_all()


@dataclass
class Checked:
    """What a look at the views after a crash found."""

    writes_checked: int  # acknowledged writes looked for
    lost: list[Ack]  # acknowledged writes missing, or not as acknowledged
    unacknowledged_whole: int  # events whose answer the kill cut off, found whole
    events: int  # events checked in all
    redacted: int  # messages redacted, checked to show their content nowhere


def check_after_crash(api: Api, view: dict[str, Any], acks: list[Ack]) -> Checked:
    """Every acknowledged write is there as it was acknowledged; every message is whole (one
    event per version, in lifecycle order, each with its content until a redaction, and none
    at all, at any version, after one); the views agree with the events."""
    messages = view["message"]
    assert messages
    events = events_in(view["events"])
    redacted = 0
    for mid, message in messages.items():
        history = [edge["node"] for edge in message["history"]["edges"]]
        assert [e["version"] for e in history] == list(range(1, message["version"] + 1)), mid
        assert [e["type"] for e in history] == list(LIFECYCLE[: len(history)]), mid
        assert [e for e in events if e["messageId"] == mid] == history, mid
        shown = {k: v for k, v in message.items() if k != "history"}
        assert shown == view["messageAt"][mid][-1], mid
        if history[-1]["type"] == "Redacted":
            redacted += 1
            assert message["text"] is None, message
            assert all(e.get("text") is None for e in history), history
            assert all(then["text"] is None for then in view["messageAt"][mid]), mid
            continue
        prefix = history[0]["text"].removesuffix(" v1")
        texts = [e["text"] for e in history[:TEXTS]]
        assert texts == [f"{prefix} v{v}" for v in range(1, len(texts) + 1)], history
        assert message["text"] == texts[-1], message
    assert len(events) == sum(m["version"] for m in messages.values())

    lost = []
    for ack in acks:
        message = messages.get(ack.message_id)
        then = view["messageAt"].get(ack.message_id, [])
        if message is None or message["version"] < ack.version:
            lost.append(ack)
            continue
        event = message["history"]["edges"][ack.version - 1]["node"]
        text = None if message["redacted"] else ack.text
        if event["type"] != ack.type or then[ack.version - 1]["text"] != text:
            lost.append(ack)
    acknowledged = {(a.message_id, a.version) for a in acks}
    whole = sum((e["messageId"], e["version"]) not in acknowledged for e in events)
    return Checked(len(acks), lost, whole, len(events), redacted)


def kill_during_writes(server: ServerProcess, writers: Writers, acks: int, timeout: float) -> None:
    """SIGKILL the server once the writers have `acks` acknowledged writes, then stop them."""
    try:
        writers.start()
        writers.wait_for_acks(acks, timeout=timeout)
        writers.killing.set()
        server.kill()
    finally:
        writers.killing.set()
        if server.process.poll() is None:
            server.kill()
        writers.join()


def crash_database(settings: Settings, tmp_path: Path) -> str:
    """The backend's database; on SQLite a file in a folder the server has to make."""
    if backend_of(settings.database_url) == "sqlite":
        return f"sqlite:///{tmp_path / 'db' / 'herald.db'}"
    return settings.database_url


def test_a_kill_9_during_writes_loses_no_acknowledged_write_and_leaves_consistent_views(
    settings: Settings, tmp_path: Path, server_log: IO[bytes]
) -> None:
    database_url = crash_database(settings, tmp_path)
    key = create_key(database_url, "acme")
    server = ServerProcess(database_url, server_log)
    writers = Writers(server.base_url, key, threads=4)
    kill_during_writes(server, writers, acks=60, timeout=30)
    assert server.process.returncode == -signal.SIGKILL
    assert writers.unexpected == []
    acks = list(writers.acks)
    assert len(acks) >= 60

    server = ServerProcess(database_url, server_log)
    try:
        api = Api(server.base_url, key)
        try:
            restarted = views_of(api, page_size=100)
            checked = check_after_crash(api, restarted, acks)
        finally:
            api.close()
    finally:
        server.stop()
    record(
        "crash safety",
        backend_of(database_url),
        kills=1,
        restarts=1,
        writes_acknowledged=checked.writes_checked,
        writes_checked=checked.writes_checked,
        writes_lost=len(checked.lost),
        unacknowledged_found_whole=checked.unacknowledged_whole,
        events_checked=checked.events,
        redactions_checked=checked.redacted,
    )
    assert checked.lost == []

    rebuilt_run = herald_cli(database_url, "projections", "rebuild")
    assert rebuilt_run.returncode == 0, rebuilt_run.stderr

    server = ServerProcess(database_url, server_log)
    try:
        api = Api(server.base_url, key)
        try:
            rebuilt = views_of(api, page_size=100)
        finally:
            api.close()
    finally:
        server.stop()

    assert rebuilt == restarted
    record("exactly-once projections", backend_of(database_url), rebuilds_compared=1)


def test_repeated_kill_9_at_random_moments_loses_nothing_and_projections_verify(
    settings: Settings, tmp_path: Path, server_log: IO[bytes]
) -> None:
    seed = random.randrange(1 << 30)
    chance = random.Random(seed)
    database_url = crash_database(settings, tmp_path)
    key = create_key(database_url, "acme")
    acknowledged: list[Ack] = []
    for _ in range(CRASHES):
        server = ServerProcess(database_url, server_log)
        writers = Writers(server.base_url, key, threads=3)
        kill_during_writes(server, writers, acks=chance.randint(10, 50), timeout=60)
        assert server.process.returncode == -signal.SIGKILL
        assert writers.unexpected == [], f"seed {seed}"
        acknowledged += writers.acks
    # The last kill may leave events not yet projected: the restart catches up on them.
    server = ServerProcess(database_url, server_log)
    try:
        api = Api(server.base_url, key)
        try:
            checked = check_after_crash(api, views_of(api, page_size=100), acknowledged)
        finally:
            api.close()
    finally:
        server.stop()
    verified = herald_cli(database_url, "projections", "verify")
    backend = backend_of(database_url)
    record(
        "crash safety",
        backend,
        kills=CRASHES,
        restarts=CRASHES,
        writes_acknowledged=len(acknowledged),
        writes_checked=checked.writes_checked,
        writes_lost=len(checked.lost),
        unacknowledged_found_whole=checked.unacknowledged_whole,
        events_checked=checked.events,
        redactions_checked=checked.redacted,
        projections_verified=int(verified.returncode == 0),
    )
    assert checked.lost == [], f"seed {seed}"
    assert verified.returncode == 0, f"seed {seed}: {verified.stdout}{verified.stderr}"
    print(f"crash loop: {CRASHES} kills, {len(acknowledged)} acknowledged writes, seed {seed}")


def test_projections_rebuild_gives_back_the_same_views(settings: Settings) -> None:
    key, recorded, before = a_variety_served(settings, page_size=4)
    assert len(events_in(before["events"])) == recorded

    # Lose the views entirely, so only a replay of the events can give them back.
    # (Views.clear empties them but keeps the projection's position, as a lost view table would.)
    wiping = Herald(settings)
    try:
        with wiping.views.db.transaction(commit=True) as c:
            wiping.views.clear(c)
    finally:
        wiping.close()

    done = herald_cli(settings.database_url, "projections", "rebuild")
    assert done.returncode == 0, done.stderr

    reopened = Herald(settings)
    try:
        with LiveServer(reopened) as server:
            api = Api(server.base_url, key)
            try:
                after = views_of(api, page_size=4)
            finally:
                api.close()
    finally:
        reopened.close()

    assert after == before
    record("exactly-once projections", backend_of(settings.database_url), rebuilds_compared=1)
