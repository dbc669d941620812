"""The GraphiQL explorer: served with its own assets, and usable in a real headless browser
that can reach nothing but this machine's loopback."""

from __future__ import annotations

import base64
import hashlib
import json
import shutil
import tempfile
import time
from pathlib import Path

import httpx
import pytest

from app import explorer
from tests.browser import Browser
from tests.conftest import LiveServer, draft

ARTIFACTS = Path(__file__).resolve().parents[1] / "test-artifacts"


def need_assets() -> None:
    if not explorer.installed():
        pytest.skip("GraphiQL's assets are not installed: run npm ci --prefix app/static")


def test_the_explorer_page_loads_each_asset_from_herald_with_its_integrity_hash(
    sqlite_server: LiveServer,
) -> None:
    need_assets()
    page = httpx.get(f"{sqlite_server.base_url}/graphql", headers={"accept": "text/html"})
    assert page.status_code == 200
    assert 'data-assets="local"' in page.text
    assert "unpkg.com" not in page.text
    assert "Authorization" in page.text
    assert "draftMessage" in page.text
    for asset in explorer.ASSETS.values():
        assert f'src="/graphiql/assets/{asset.name}"' in page.text or (
            f'href="/graphiql/assets/{asset.name}"' in page.text
        )
        served = httpx.get(f"{sqlite_server.base_url}/graphiql/assets/{asset.name}")
        assert served.status_code == 200
        digest = base64.b64encode(hashlib.sha384(served.content).digest()).decode()
        assert f"sha384-{digest}" == asset.integrity, asset.name
    missing = httpx.get(f"{sqlite_server.base_url}/graphiql/assets/..%2Fpackage.json")
    assert missing.status_code == 404


def test_a_person_runs_a_query_with_their_key_in_graphiql_in_a_headless_browser(
    sqlite_server: LiveServer,
) -> None:
    binary = shutil.which("chromium") or shutil.which("chromium-browser")
    if binary is None:
        pytest.skip("Chromium is not installed: apt-get install chromium")
    need_assets()
    api = sqlite_server.client("acme", "browser-key")
    marker = f"seen in the browser {time.monotonic_ns()}"
    made = draft(api, marker)
    api.close()
    assert api.key is not None
    url = f"{sqlite_server.base_url}/graphql"
    with tempfile.TemporaryDirectory(ignore_cleanup_errors=True) as profile:
        browser = Browser(binary, Path(profile))
        try:
            browser.call("Page.enable")
            browser.call("Page.navigate", url=url)
            browser.wait_for("!!document.querySelector('.graphiql-execute-button')", "GraphiQL")
            assert browser.evaluate("document.body.dataset.assets") == "local"
            browser.wait_for(
                "document.querySelector('.graphiql-editor-tool')?.innerText"
                ".includes('Authorization: Bearer') || document.querySelector("
                "'.graphiql-editor-tool')?.innerText.includes('\"Authorization\"')",
                "the headers editor, open and ready for a key",
            )
            # What a person types: their key in the headers, a query in the editor.
            typed_headers = json.dumps({"Authorization": f"Bearer {api.key}"})
            typed_query = (
                "query SeenInTheBrowser { message(id: "
                + json.dumps(made["id"])
                + ") { id text status } }"
            )
            visible = (
                "document.querySelector("
                "'.graphiql-editor-tool .graphiql-editor:not(.hidden) .CodeMirror').CodeMirror"
            )
            query_editor = "document.querySelector('.graphiql-query-editor .CodeMirror').CodeMirror"
            browser.evaluate(f"{visible}.setValue({json.dumps(typed_headers)})")
            browser.evaluate(f"{query_editor}.setValue({json.dumps(typed_query)})")
            # GraphiQL takes in an edit a moment later, then keeps it in its saved tab state.
            browser.wait_for(
                "(localStorage.getItem('graphiql:tabState') || '').includes('SeenInTheBrowser')"
                " && (localStorage.getItem('graphiql:tabState') || '').includes('Bearer')",
                "the edits taken in",
            )
            browser.evaluate("document.querySelector('.graphiql-execute-button').click()")
            response = "document.querySelector('.graphiql-response')"
            shown = browser.wait_for(
                f"{response}?.innerText.includes({json.dumps(marker)}) && {response}.innerText",
                "the query's result",
            )
            assert '"status": "DRAFT"' in shown
            shot = browser.call("Page.captureScreenshot", format="png")
            ARTIFACTS.mkdir(exist_ok=True)
            (ARTIFACTS / "graphiql.png").write_bytes(base64.b64decode(shot["data"]))
        finally:
            browser.close()
