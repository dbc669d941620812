"""The history inspector (/inspect): served under a strict policy with pinned assets, and used by
a person in real headless Chromium that can reach nothing but this machine's loopback."""

from __future__ import annotations

import base64
import hashlib
import json
import re
import shutil
import tempfile
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest

from app import inspector
from tests.browser import Browser
from tests.conftest import Api, LiveServer, draft

ARTIFACTS = Path(__file__).resolve().parents[1] / "test-artifacts"
DRAFTED = "Hello Sampson, your parcel left our depot."
FIRST_EDIT = "Hello Sampson, your parcel has left our Leeds depot."
SECOND_EDIT = "Hello Sampson, your parcel has left our Leeds depot and arrives Thursday!"
ERASED_WORDS = ("Sampson", "parcel", "depot", "Leeds", "Thursday")

EDIT = "mutation($i: EditMessageInput!) { editMessage(input: $i) { version } }"
APPROVE = "mutation($i: ApproveMessageInput!) { approveMessage(input: $i) { version } }"
REPORT = "mutation($i: RecordDeliveryStatusInput!) { recordDeliveryStatus(input: $i) { version } }"
REDACT = "mutation($i: RedactMessageInput!) { redactMessage(input: $i) { version } }"
REVISIONS = """
query($id: ID!) { message(id: $id) {
  revisions { edges { node { version diff { op text } } } }
  approval { edits change { wordsAdded wordsRemoved } }
} }
"""


def reviewed(api: Api) -> str:
    """A bot's draft, edited twice by a person, approved by another, then delivered."""
    message_id: str = draft(api, DRAFTED, requiresApproval=True)["id"]
    api.ok(EDIT, {"i": {"id": message_id, "text": FIRST_EDIT, "actor": "ada"}})
    api.ok(EDIT, {"i": {"id": message_id, "text": SECOND_EDIT, "actor": "ada"}})
    api.ok(APPROVE, {"i": {"id": message_id, "actor": "grace"}})
    for status in ("PROCESSING", "SENT", "DELIVERED"):
        api.ok(REPORT, {"i": {"id": message_id, "status": status, "actor": "sms-gateway"}})
    return message_id


def test_the_page_is_served_under_a_strict_policy_with_every_asset_pinned(
    sqlite_server: LiveServer,
) -> None:
    base = sqlite_server.base_url
    for path in ("/inspect", f"/inspect/messages/{uuid.uuid4()}"):
        page = httpx.get(base + path)
        assert page.status_code == 200
        policy = page.headers["content-security-policy"]
        assert "default-src 'none'" in policy
        assert "script-src 'self';" in policy
        assert f"connect-src 'self' ws://127.0.0.1:{sqlite_server.port};" in policy
        assert "unsafe" not in policy
        assert page.headers["referrer-policy"] == "no-referrer"
    assert not re.search(r"<script(?![^>]*\bsrc=)", page.text), "no inline script"
    assert "http" not in page.text  # nothing from anywhere else
    pinned = re.findall(r'(?:src|href)="(/inspect/assets/[^"]+)" integrity="([^"]+)"', page.text)
    assert {url.rsplit("/", 1)[1] for url, _ in pinned} >= {*inspector.MODULES, "inspector.css"}
    for url, integrity in pinned:
        served = httpx.get(base + url)
        assert served.status_code == 200
        assert served.headers["x-content-type-options"] == "nosniff"
        digest = base64.b64encode(hashlib.sha384(served.content).digest()).decode()
        assert integrity == f"sha384-{digest}", url
    for name in ("..%2Fexplorer.py", "package.json", "node_modules"):
        assert httpx.get(f"{base}/inspect/assets/{name}").status_code == 404


def chromium() -> str:
    binary = shutil.which("chromium") or shutil.which("chromium-browser")
    if binary is None:
        pytest.skip("Chromium is not installed: apt-get install chromium")
    if not inspector.GRAPHQL_WS[0].is_file():
        pytest.skip("graphql-ws's browser build is not installed: run npm ci --prefix app/static")
    return binary


@contextmanager
def browsing(width: int = 1280, height: int = 800) -> Iterator[Browser]:
    with tempfile.TemporaryDirectory(ignore_cleanup_errors=True) as profile:
        browser = Browser(chromium(), Path(profile))
        try:
            for domain in ("Page", "Network", "Runtime", "Log"):
                browser.call(f"{domain}.enable")
            size(browser, width, height)
            yield browser
        finally:
            browser.close()


def size(browser: Browser, width: int, height: int) -> None:
    browser.call(
        "Emulation.setDeviceMetricsOverride",
        width=width,
        height=height,
        deviceScaleFactor=1,
        mobile=width < 600,
    )


def text_of(browser: Browser, selector: str) -> Any:
    return browser.evaluate(f"document.querySelector({json.dumps(selector)})?.textContent ?? null")


def texts_of(browser: Browser, selector: str) -> Any:
    return browser.evaluate(
        f"[...document.querySelectorAll({json.dumps(selector)})].map(e => e.textContent)"
    )


def sign_in(browser: Browser, key: str) -> None:
    browser.wait_for("document.activeElement?.id === 'key'", "the sign-in form, focused")
    browser.evaluate("document.getElementById('key').value = ''")
    browser.type_text(key)
    browser.press("Enter")


def stays_on_the_origin(browser: Browser, server: LiveServer, key: str) -> None:
    """Every request the page made went to Herald, none carried the key in its address, no
    cookie was set, and no policy violation or script error happened."""
    urls = [
        e["params"]["request"]["url"] if "request" in e["params"] else e["params"]["url"]
        for e in browser.events
        if e["method"] in ("Network.requestWillBeSent", "Network.webSocketCreated")
    ]
    # A data: URL goes nowhere (Chromium's date picker draws its icon from one).
    urls = [u for u in urls if not u.startswith("data:")]
    assert any(u.startswith("ws://") for u in urls), "the page subscribed over WebSocket"
    origins = (f"{server.base_url}/", f"ws://127.0.0.1:{server.port}/")
    assert [u for u in urls if not u.startswith(origins)] == []
    assert [u for u in urls if key in u] == []
    assert browser.call("Network.getAllCookies")["cookies"] == []
    problems = [
        e["params"]
        for e in browser.events
        if e["method"] == "Runtime.exceptionThrown"
        or (e["method"] == "Log.entryAdded" and "Content Security Policy" in str(e["params"]))
    ]
    assert problems == [], json.dumps(problems)[:3000]


def test_a_reviewer_follows_a_bots_draft_from_its_edits_to_its_redaction(
    sqlite_server: LiveServer,
) -> None:
    api = sqlite_server.client("acme", "writer-bot")
    message_id = reviewed(api)
    facts = api.ok(REVISIONS, {"id": message_id})["message"]
    assert api.key is not None
    with browsing() as browser:
        browser.call("Page.navigate", url=f"{sqlite_server.base_url}/inspect")
        sign_in(browser, "hk_not_a_key_at_all")
        shown = browser.wait_for(
            "document.querySelector('.signin .error')?.textContent", "the refusal of a bad key"
        )
        assert "did not accept this API key" in shown
        sign_in(browser, api.key)
        browser.wait_for(f"!!document.querySelector('li[data-id=\"{message_id}\"]')", "the list")
        assert browser.evaluate("sessionStorage.getItem('herald.inspector.key')") == api.key

        # A message drafted now appears at the top of the list, live.
        browser.wait_for("document.querySelector('.live-state')?.textContent === 'live'", "live")
        fresh = draft(api, "Just drafted")["id"]
        browser.wait_for(
            f"document.querySelector('.messages li')?.dataset.id === {json.dumps(fresh)}",
            "the new message at the top of the list",
        )
        browser.screenshot(ARTIFACTS / "inspector-list.png")

        # Found by its status, through the filters' form.
        browser.evaluate("document.getElementById('f-status').value = 'DELIVERED'")
        browser.evaluate("document.querySelector('.filters button[type=submit]').click()")
        browser.wait_for(
            f"[...document.querySelectorAll('.messages li')].map(li => li.dataset.id).join()"
            f" === {json.dumps(message_id)}",
            "only the delivered message",
        )
        assert browser.evaluate("location.search") == "?status=DELIVERED"

        # By keyboard alone: Tab to the message's link, Enter to open it.
        link = f"/inspect/messages/{message_id}"
        for _ in range(60):
            if browser.evaluate("document.activeElement?.getAttribute('href')") == link:
                break
            browser.press("Tab")
        browser.press("Enter")
        browser.wait_for("document.querySelectorAll('.revisions li').length === 3", "revisions")
        assert browser.evaluate("location.pathname") == link

        timeline = browser.evaluate(
            "[...document.querySelectorAll('.timeline li')].map(li => [li.dataset.type,"
            " li.querySelector('.actor').textContent, li.querySelector('.after').textContent])"
        )
        assert timeline == [
            ["Drafted", "by writer-bot", "→ DRAFT"],
            ["Edited", "by ada", "→ DRAFT"],
            ["Edited", "by ada", "→ DRAFT"],
            ["Approved", "by grace", "→ DRAFT"],
            ["Sent", "by grace", "→ ACCEPTED"],
            ["StatusChanged", "by sms-gateway", "→ PROCESSING"],
            ["StatusChanged", "by sms-gateway", "→ SENT"],
            ["StatusChanged", "by sms-gateway", "→ DELIVERED"],
        ]
        # The marks are Herald's diff, as the API answers it, not one of the page's own.
        for node in (e["node"] for e in facts["revisions"]["edges"][1:]):
            version = node["version"]
            for op, tag in (("INSERT", "ins"), ("DELETE", "del")):
                marked = texts_of(browser, f'.revisions li[data-version="{version}"] {tag}')
                assert marked == [s["text"] for s in node["diff"] if s["op"] == op]
        assert texts_of(browser, '.revisions li[data-version="2"] ins') == ["has ", "Leeds "]
        assert texts_of(browser, '.revisions li[data-version="3"] del') == ["."]
        for left_out, reads in (("del", SECOND_EDIT), ("ins", FIRST_EDIT)):
            assert (
                browser.evaluate(
                    "(() => { const p = document.querySelector("
                    "'.revisions li[data-version=\"3\"] .diff').cloneNode(true);"
                    f" p.querySelectorAll('{left_out}').forEach(e => e.remove());"
                    " return p.textContent; })()"
                )
                == reads
            )
        change = facts["approval"]["change"]
        assert text_of(browser, ".badge.approval") == (
            f"Approved after 2 edits · +{change['wordsAdded']} \u2212{change['wordsRemoved']} words"
            " · by grace"
        )
        assert texts_of(browser, ".lane li.reached .step") == [
            "DRAFT",
            "ACCEPTED",
            "PROCESSING",
            "SENT",
            "DELIVERED",
        ]
        assert text_of(browser, ".lane li[aria-current='step'] .step") == "DELIVERED"
        assert browser.evaluate("document.documentElement.scrollWidth <= innerWidth")
        browser.screenshot(ARTIFACTS / "inspector-message.png")

        # Time travel by keyboard: Home goes back to the draft, End comes back to now.
        browser.evaluate("document.getElementById('travel').focus()")
        browser.press("Home")
        browser.wait_for(
            "document.querySelector('.travel-shown .text')?.dataset.version === '1'", "version 1"
        )
        assert text_of(browser, ".travel-shown .text") == DRAFTED
        assert text_of(browser, ".travel-shown .status") == "DRAFT"
        assert len(texts_of(browser, ".timeline li.future")) == 7
        browser.screenshot(ARTIFACTS / "inspector-time-travel.png")
        browser.press("End")
        browser.wait_for(
            "document.querySelector('.travel-shown .text')?.dataset.version === '8'", "now"
        )
        assert text_of(browser, ".travel-shown .status") == "DELIVERED"

        # The redaction arrives live: a marker, and the erased content nowhere in the page.
        api.ok(REDACT, {"i": {"id": message_id, "actor": "dpo"}})
        browser.wait_for("!!document.querySelector('[data-redacted]')", "the redaction marker")
        browser.wait_for("!!document.querySelector('.travel-shown .erased')", "the erased version")
        assert "by dpo" in text_of(browser, "[data-redacted]")
        assert text_of(browser, "#announce") == "New event: Redacted, version 9, by dpo."
        assert texts_of(browser, ".revisions .erased") == ["Content erased"] * 3
        browser.evaluate("document.getElementById('travel').focus()")
        browser.press("Home")
        browser.wait_for(
            "!!document.querySelector('.timeline li.future') && "
            "document.querySelector('.travel-shown')?.textContent.includes('version 1 of 9')",
            "the erased draft",
        )
        page = browser.evaluate("document.documentElement.outerHTML")
        assert [word for word in ERASED_WORDS if word in page] == []

        # At a phone's width the page still fits, in one column.
        size(browser, 390, 844)
        browser.wait_for("innerWidth === 390", "the phone's width")
        assert browser.evaluate("document.documentElement.scrollWidth <= innerWidth")
        browser.evaluate("scrollTo(0, 0)")
        browser.screenshot(ARTIFACTS / "inspector-phone.png")
        stays_on_the_origin(browser, sqlite_server, api.key)
    api.close()


def test_a_link_may_carry_the_key_in_its_fragment_and_mistakes_are_said_plainly(
    sqlite_server: LiveServer,
) -> None:
    api = sqlite_server.client("acme", "writer-bot")
    message_id = draft(api, "A link to me")["id"]
    assert api.key is not None
    base = sqlite_server.base_url
    with browsing() as browser:
        browser.call("Page.navigate", url=f"{base}/inspect/messages/{message_id}#key={api.key}")
        browser.wait_for("document.querySelectorAll('.revisions li').length === 1", "the message")
        assert browser.evaluate("location.hash") == ""  # the key left the address bar
        assert browser.evaluate("sessionStorage.getItem('herald.inspector.key')") == api.key

        # Found by time: nothing was created before 2000, and it was created since.
        for search, shows in (
            ("until=2000-01-01T00:00", None),
            ("from=2000-01-01T00:00", message_id),
        ):
            browser.call("Page.navigate", url=f"{base}/inspect?{search}")
            browser.wait_for(
                "document.querySelector('.messages + p')?.textContent", "the end of the search"
            )
            shown = browser.evaluate(
                "[...document.querySelectorAll('.messages li')].map(li => li.dataset.id)"
            )
            assert shown == ([] if shows is None else [shows])

        for unknown in (str(uuid.uuid4()), "not-a-message-id"):
            browser.evaluate(f"history.pushState(null, '', '/inspect/messages/{unknown}')")
            browser.evaluate("dispatchEvent(new PopStateEvent('popstate'))")
            shown = browser.wait_for(
                "document.querySelector('[role=alert]')?.textContent", "the unknown message"
            )
            assert shown == f"There is no message with the id “{unknown}” in this workspace."
        browser.screenshot(ARTIFACTS / "inspector-unknown-message.png")

        browser.evaluate("sessionStorage.clear()")
        browser.call("Page.navigate", url=f"{base}/inspect#key=hk_revoked_or_mistyped")
        shown = browser.wait_for(
            "document.querySelector('.signin .error')?.textContent", "the refused link's key"
        )
        assert shown.startswith("Herald did not accept this API key")
        assert browser.evaluate("sessionStorage.getItem('herald.inspector.key')") is None
        stays_on_the_origin(browser, sqlite_server, api.key)
    api.close()
