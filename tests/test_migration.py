"""A database written by the release before personal fields were sealed keeps working: its
messages read as they did, the personal values it stored in clear are sealed at the first start
(or erased, for messages it had redacted), a key its race left alive after a redaction is
destroyed, and the views are projected again. The old release itself writes the database: its
code is taken from this repository's history."""

from __future__ import annotations

import json
import subprocess
import sys
import tarfile
import textwrap
from io import BytesIO
from pathlib import Path

import pytest

from app.body_text import plain_text
from app.contacts import digest
from app.lifecycle import Status
from app.runtime import Herald
from app.settings import Settings
from app.verify import verify
from app.workspaces import Principal
from tests.erasure import holding, stored_bytes, text_needles

ROOT = Path(__file__).resolve().parents[1]
# The last release that sealed only the content.
OLD_RELEASE = "93f23bb"

WRITE = textwrap.dedent(
    """
    import json, sys
    from app.bodies import text_body
    from app.lifecycle import Status
    from app.runtime import Herald
    from app.workspaces import Principal

    marks = json.loads(sys.argv[1])
    herald = Herald()
    store = herald.store
    p = Principal(workspace=herald.workspaces.ensure("acme"), key_name="old")

    def draft(name):
        return str(store.draft(
            p, None, conversation_id="c", channel="CHAT", content=text_body(marks[name + ".text"]),
            recipients=[{"identifierKey": "phonenumber", "identifierValue": marks[name + ".phone"],
                         "type": "TO"}],
            sender={"name": marks[name + ".sender"], "email": None}, reply_to=None,
            reference=marks[name + ".reference"], requires_approval=False, actor="bot").id)

    kept, rejected = draft("kept"), draft("rejected")
    erased, poisoned = draft("erased"), draft("poisoned")
    store.edit(p, kept, None, "eve", text=marks["kept.edit"])
    store.send(p, kept, None, "sam", None)
    store.record_status(p, kept, "carrier", Status.SENDING_FAILED, marks["kept.failure"])
    store.reject(p, rejected, None, "rob", marks["rejected.reason"])
    for mid in (erased, poisoned):
        store.send(p, mid, None, "sam", None)
        store.record_status(p, mid, "carrier", Status.SENT, None)
        store.redact(p, mid, None, "ray", None)
    # What the race of that release could leave: a key made again after the redaction.
    with store.db.transaction(commit=True) as c:
        c.execute(store.db.sql("INSERT INTO herald_content_keys (message_id, key) VALUES (?, ?)"),
                  (poisoned.replace("-", ""), b"k" * 32))
    herald.close()
    print(json.dumps({"kept": kept, "rejected": rejected, "erased": erased, "poisoned": poisoned}))
    """
)


def old_release(tmp_path: Path) -> Path:
    try:
        archive = subprocess.run(
            ["git", "-C", str(ROOT), "archive", OLD_RELEASE, "app"],
            capture_output=True,
            check=True,
            timeout=60,
        ).stdout
    except (OSError, subprocess.CalledProcessError) as e:
        pytest.skip(f"the old release {OLD_RELEASE} is not in this clone's history: {e}")
    folder = tmp_path / "old-release"
    with tarfile.open(fileobj=BytesIO(archive)) as tar:
        tar.extractall(folder, filter="data")
    return folder


def test_a_database_of_the_previous_release_is_migrated_once_and_reads_as_before(
    settings: Settings, tmp_path: Path
) -> None:
    names = ("kept", "rejected", "erased", "poisoned")
    fields = ("text", "phone", "sender", "reference")
    marks = {f"{n}.{f}": f"{f}-{n}-{tmp_path.name}-mark" for n in names for f in fields}
    marks.update(
        {
            "kept.edit": "kept-edited-mark",
            "kept.failure": "kept-failure-mark",
            "rejected.reason": "rejected-reason-mark",
        }
    )
    old = old_release(tmp_path)
    written = subprocess.run(
        [sys.executable, "-c", WRITE, json.dumps(marks)],
        cwd=old,
        env={
            "PATH": "/usr/bin:/bin",
            "PYTHONPATH": str(old),
            "HERALD_DATABASE_URL": settings.database_url,
        },
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert written.returncode == 0, written.stderr
    ids = json.loads(written.stdout.strip().splitlines()[-1])
    files = stored_bytes(settings.database_url)
    clear_before = [k for k, v in marks.items() if holding(files, text_needles(v))]
    assert "kept.phone" in clear_before, "the old release stored recipients in clear"

    herald = Herald(settings)
    try:
        herald.start()
        p = Principal(workspace=herald.workspaces.ensure("acme"), key_name="new")
        kept = herald.store.load(p, ids["kept"])
        assert plain_text(kept.content or {}) == "kept-edited-mark"
        assert kept.recipients[0]["identifierValue"] == marks["kept.phone"]
        assert (kept.sender, kept.reference) == (
            {"name": marks["kept.sender"], "email": None},
            marks["kept.reference"],
        )
        assert kept.failure_reason == "kept-failure-mark"
        view = herald.views.message(p.workspace, ids["kept"])
        assert view is not None
        assert view.recipients == kept.recipients
        rejected = herald.store.load(p, ids["rejected"])
        assert rejected.rejection_reason == "rejected-reason-mark"
        for gone in ("erased", "poisoned"):
            msg = herald.store.load(p, ids[gone])
            assert (msg.redacted, msg.content, msg.sender, msg.reference) == (
                True,
                None,
                None,
                None,
            )
            assert msg.recipients[0]["identifierValue"] is None
            assert herald.store.keys.read(msg.id) is None
        assert verify(herald) == []
        # The index of contacts covers the old messages too.
        with herald.store.db.transaction(commit=False) as c:
            secret = herald.contacts.of(c, p.workspace, create=False)
        assert secret is not None
        contact = digest(secret, marks["kept.phone"])
        assert herald.views.contact_messages(p.workspace, contact, set(Status), 9) == [ids["kept"]]
    finally:
        herald.close()
    files = stored_bytes(settings.database_url)
    found = {k: holding(files, text_needles(v)) for k, v in marks.items()}
    assert {k: v for k, v in found.items() if v} == {}

    again = Herald(settings)  # a second start migrates nothing more
    try:
        with again.store.db.transaction(commit=False) as c:
            c.execute("SELECT name FROM herald_migrations")
            assert [r[0] for r in c.fetchall()] == ["sealed-personal-fields"]
        assert verify(again) == []
    finally:
        again.close()
