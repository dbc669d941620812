"""The operator's commands, run as an operator runs them: `python -m app.cli ...` in a process."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import uuid
from pathlib import Path

from app.runtime import Herald
from app.settings import Settings
from tests.conftest import Api, LiveServer, draft

ROOT = Path(__file__).parents[1]
EVENT_NAMES = ("Drafted", "Edited", "Approved", "Rejected", "Sent", "StatusChanged", "Redacted")

EDIT = "mutation($input: EditMessageInput!) { editMessage(input: $input) { version } }"
SEND = "mutation($input: SendMessageInput!) { sendMessage(input: $input) { version } }"
REPORT = """
mutation($input: RecordDeliveryStatusInput!) { recordDeliveryStatus(input: $input) { version } }
"""
REDACT = "mutation($input: RedactMessageInput!) { redactMessage(input: $input) { version } }"
HISTORY = """
query($id: ID!) { message(id: $id) { history { edges { node { version type actor } } } } }
"""
EVENTS = "query { events(first: 500) { edges { node { type } } pageInfo { hasNextPage } } }"
MESSAGE = "query($id: ID!) { message(id: $id) { id text } }"


def herald_cli(database_url: str, *args: str, cwd: Path = ROOT) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "app.cli", *args],
        env={**os.environ, "HERALD_DATABASE_URL": database_url},
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def create_key(settings: Settings, workspace: str, *extra: str) -> str:
    done = herald_cli(settings.database_url, "keys", "create", "--workspace", workspace, *extra)
    assert done.returncode == 0, done.stderr
    lines = done.stdout.strip().splitlines()
    assert lines, done.stdout
    return lines[-1]


def database_bytes(folder: Path) -> dict[str, bytes]:
    files = {p.name: p.read_bytes() for p in sorted(folder.iterdir()) if p.is_file()}
    assert files, f"no files in {folder}"
    return files


def test_keys_create_prints_the_key_last_and_the_key_works_over_http(
    settings: Settings, server: LiveServer, api: Api
) -> None:
    key = create_key(settings, "cli-team", "--name", "deploy-bot")
    other = create_key(settings, "cli-team", "--name", "deploy-bot")
    assert key != other
    assert key.strip() == key
    assert " " not in key
    assert len(key) >= 32

    team = Api(server.base_url, key)
    try:
        made = draft(team, "Made with a key from the CLI")
        assert made["status"] == "DRAFT"
        history = team.ok(HISTORY, {"id": made["id"]})["message"]["history"]["edges"]
        assert [e["node"]["actor"] for e in history] == ["deploy-bot"]

        # The key belongs to its own workspace: acme's messages do not exist for it.
        theirs = draft(api, "Acme only")
        assert team.ok(MESSAGE, {"id": theirs["id"]})["message"] is None
        assert api.ok(MESSAGE, {"id": made["id"]})["message"] is None
    finally:
        team.close()

    wrong = Api(server.base_url, key[:-2] + ("xx" if not key.endswith("xx") else "yy"))
    try:
        assert wrong.error(MESSAGE, {"id": made["id"]})["code"] == "UNAUTHENTICATED"
    finally:
        wrong.close()


def test_keys_are_stored_only_hashed(sqlite_settings: Settings) -> None:
    settings = sqlite_settings
    workspace = f"ws-{uuid.uuid4().hex}"
    key_name = f"key-{uuid.uuid4().hex}"
    key = create_key(settings, workspace, "--name", key_name)

    files = database_bytes(settings.sqlite_path().parent)
    everything = b"".join(files.values())
    # The files are readable as they are: what was stored in plain is found...
    assert workspace.encode() in everything
    assert key_name.encode() in everything
    # ... but the key is not, nor its random part without a prefix.
    assert key.encode() not in everything
    secret = key.split("_", 1)[-1]
    assert len(secret) >= 20
    assert secret.encode() not in everything

    herald = Herald(settings)
    try:
        assert herald.workspaces.authenticate(key).key_name == key_name
    finally:
        herald.close()


def timeline_types(stdout: str) -> list[str]:
    """The event name on each line of `herald history`, in the order printed."""
    types = []
    for line in stdout.splitlines():
        found = re.search(rf"\b({'|'.join(EVENT_NAMES)})\b", line)
        if found is not None:
            types.append(found.group(1))
    return types


def test_history_prints_the_event_timeline_in_order(
    settings: Settings, server: LiveServer, api: Api
) -> None:
    made = draft(api, "hello timeline")
    api.ok(EDIT, {"input": {"id": made["id"], "text": "hello again", "actor": "ada"}})
    api.ok(SEND, {"input": {"id": made["id"]}})
    for status in ("PROCESSING", "DELIVERED"):
        api.ok(REPORT, {"input": {"id": made["id"], "status": status}})
    api.ok(REDACT, {"input": {"id": made["id"], "reason": "asked to"}})
    history = api.ok(HISTORY, {"id": made["id"]})["message"]["history"]["edges"]
    expected = [edge["node"]["type"] for edge in history]
    assert expected == ["Drafted", "Edited", "Sent", "StatusChanged", "StatusChanged", "Redacted"]

    done = herald_cli(settings.database_url, "history", made["id"])
    assert done.returncode == 0, done.stderr
    assert timeline_types(done.stdout) == expected
    lines = [line for line in done.stdout.splitlines() if line.strip()]
    assert len(lines) == len(expected)
    assert "ada" in lines[1]
    assert "acme-bot" in lines[0]
    # Redacted: the timeline no longer holds the content.
    assert "hello timeline" not in done.stdout
    assert "hello again" not in done.stdout

    kept = draft(api, "still here")
    shown = herald_cli(settings.database_url, "history", kept["id"])
    assert shown.returncode == 0, shown.stderr
    assert timeline_types(shown.stdout) == ["Drafted"]


def test_history_of_an_unknown_or_malformed_message_id_fails(settings: Settings) -> None:
    unknown = herald_cli(settings.database_url, "history", str(uuid.uuid4()))
    assert unknown.returncode != 0
    assert timeline_types(unknown.stdout) == []
    malformed = herald_cli(settings.database_url, "history", "not-a-message-id")
    assert malformed.returncode != 0
    assert timeline_types(malformed.stdout) == []


def test_export_schema_check_passes_on_the_committed_schema(sqlite_settings: Settings) -> None:
    done = herald_cli(sqlite_settings.database_url, "export-schema", "--check", cwd=ROOT)
    assert done.returncode == 0, done.stdout + done.stderr


def test_export_schema_check_fails_on_a_schema_that_differs(
    sqlite_settings: Settings, tmp_path: Path
) -> None:
    settings = sqlite_settings  # the schema needs no database; this keeps the CLI off data/
    committed = (ROOT / "schema.graphql").read_text()
    same = tmp_path / "same.graphql"
    same.write_text(committed)
    assert (
        herald_cli(
            settings.database_url, "export-schema", "--check", "--path", str(same)
        ).returncode
        == 0
    )

    changed = tmp_path / "changed.graphql"
    assert "type Query {" in committed
    changed.write_text(committed.replace("type Query {", "type Query {\n  extra: Int", 1))
    failed = herald_cli(settings.database_url, "export-schema", "--check", "--path", str(changed))
    assert failed.returncode != 0
    assert changed.read_text() != committed  # --check never rewrites the file

    missing = tmp_path / "missing.graphql"
    gone = herald_cli(settings.database_url, "export-schema", "--check", "--path", str(missing))
    assert gone.returncode != 0
    assert not missing.exists()

    written = tmp_path / "written.graphql"
    wrote = herald_cli(settings.database_url, "export-schema", "--path", str(written))
    assert wrote.returncode == 0, wrote.stderr
    assert written.read_text() == committed


def test_projections_rebuild_exits_zero_and_reports_progress_on_stderr(
    settings: Settings,
) -> None:
    herald = Herald(settings)
    try:
        with LiveServer(herald) as server:
            api = server.client("acme", "acme-bot")
            try:
                made = draft(api, "rebuild me")
                api.ok(EDIT, {"input": {"id": made["id"], "text": "rebuilt"}})
                api.ok(SEND, {"input": {"id": made["id"]}})
                draft(api, "and me")
                page = api.ok(EVENTS)["events"]
                assert page["pageInfo"]["hasNextPage"] is False
                recorded = len(page["edges"])
            finally:
                api.close()
    finally:
        herald.close()
    assert recorded == 4

    done = herald_cli(settings.database_url, "projections", "rebuild")
    assert done.returncode == 0, done.stderr
    assert re.search(rf"\b{recorded}/{recorded}\b", done.stderr), done.stderr
    assert f"{recorded}/{recorded}" not in done.stdout

    reopened = Herald(settings)
    try:
        with LiveServer(reopened) as server:
            api = server.client("acme", "acme-reader")
            try:
                assert api.ok(MESSAGE, {"id": made["id"]})["message"]["text"] == "rebuilt"
                assert len(api.ok(EVENTS)["events"]["edges"]) == recorded
            finally:
                api.close()
    finally:
        reopened.close()
