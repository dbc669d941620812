"""Fixtures that build the real Herald on a real SQLite file, and serve it over real sockets."""

from __future__ import annotations

import os
import socket
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import replace
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn

from app.runtime import Herald
from app.server import create_app
from app.settings import Settings
from app.transport import uvicorn_options
from app.workspaces import Principal
from tests.figures import FIGURES, backend_of
from tests.postgres import Cluster, find_bin_dir, fresh_database

BACKENDS = ("sqlite", "postgres")
_EVERYTHING = 10**9


# The reliability figures (tests/figures.py): a test's counts stand once it has passed.


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_protocol(item: pytest.Item, nextitem: pytest.Item | None) -> Iterator[None]:
    FIGURES.begin(item.nodeid)
    yield
    FIGURES.end(item.nodeid)


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    if report.failed or report.skipped:
        FIGURES.spoil(report.nodeid)


def pytest_sessionfinish(session: pytest.Session) -> None:
    # Under pytest-xdist each worker hands its figures to the process that reports the run.
    workeroutput = getattr(session.config, "workeroutput", None)
    if workeroutput is not None:
        workeroutput["figures"] = FIGURES.dump()


@pytest.hookimpl(optionalhook=True)
def pytest_testnodedown(node: Any, error: object) -> None:
    FIGURES.merge(getattr(node, "workeroutput", {}).get("figures", []))


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    rows = FIGURES.table()
    if not rows:
        return
    path = FIGURES.write()
    terminalreporter.section("reliability figures")
    for row in rows:
        terminalreporter.write_line(row)
    terminalreporter.write_line(f"(written to {path})")


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[str]:
    """A PostgreSQL server for the whole run: HERALD_TEST_POSTGRES_URL's, or a throwaway one."""
    given = os.environ.get("HERALD_TEST_POSTGRES_URL")
    if given:
        yield given
        return
    bin_dir = find_bin_dir()
    if bin_dir is None:
        pytest.skip(
            "PostgreSQL tests skipped: no initdb/pg_ctl found (install Debian's postgresql "
            "package, or set HERALD_TEST_POSTGRES_URL to a server's URL)"
        )
    cluster = Cluster(bin_dir)
    url = cluster.start()
    yield url
    cluster.stop()


@pytest.fixture
def sqlite_settings(tmp_path: Path) -> Settings:
    return Settings(database_url=f"sqlite:///{tmp_path}/herald.db")


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers",
        "reads_everything: the test compares every field of every view, read in large pages, "
        "far over an operation's cost budget and a key's rate, which are not what it tests "
        "(tests/test_cost.py and tests/test_rate_limit.py are): both are lifted for it",
    )


@pytest.fixture(params=BACKENDS)
def settings(
    request: pytest.FixtureRequest, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Settings:
    """The same tests run on each backend; only this configuration changes."""
    if request.param == "sqlite":
        chosen = Settings(database_url=f"sqlite:///{tmp_path}/herald.db")
    else:
        server: str = request.getfixturevalue("postgres_server")
        chosen = Settings(database_url=fresh_database(server))
    if request.node.get_closest_marker("reads_everything") is None:
        return chosen
    monkeypatch.setenv("HERALD_MAX_COST", str(_EVERYTHING))  # for `herald serve` processes
    monkeypatch.setenv("HERALD_RATE_LIMIT", "0")
    return replace(chosen, max_cost=_EVERYTHING, rate_limit=0)


@pytest.fixture
def backend(settings: Settings) -> str:
    """Which backend `settings` names, "sqlite" or "postgres", for the figures."""
    return backend_of(settings.database_url)


@pytest.fixture
def herald(settings: Settings) -> Iterator[Herald]:
    h = Herald(settings)
    yield h
    h.close()


@pytest.fixture
def principal(herald: Herald) -> Principal:
    return Principal(workspace=herald.workspaces.ensure("acme"), key_name="acme-bot")


class Api:
    """A GraphQL client for one API key, so end-to-end tests read as a story."""

    def __init__(self, base_url: str, key: str | None) -> None:
        self.base_url = base_url
        self.url = f"{base_url}/graphql"
        self.key = key
        self.http = httpx.Client(timeout=30)

    def headers(self) -> dict[str, str]:
        return {} if self.key is None else {"Authorization": f"Bearer {self.key}"}

    def post(
        self,
        query: str,
        variables: dict[str, Any] | None = None,
        headers: dict[str, str] | None = None,
    ) -> dict[str, Any]:
        response = self.http.post(
            self.url,
            json={"query": query, "variables": variables or {}},
            headers={**self.headers(), **(headers or {})},
        )
        assert response.status_code == 200, response.text
        body: dict[str, Any] = response.json()
        return body

    def ok(self, query: str, variables: dict[str, Any] | None = None) -> dict[str, Any]:
        body = self.post(query, variables)
        assert "errors" not in body, body["errors"]
        data: dict[str, Any] = body["data"]
        return data

    def error(
        self,
        query: str,
        variables: dict[str, Any] | None = None,
        headers: dict[str, str] | None = None,
    ) -> dict[str, Any]:
        """The extensions of the one error the request must fail with."""
        body = self.post(query, variables, headers)
        assert body.get("errors"), body
        assert len(body["errors"]) == 1, body["errors"]
        extensions: dict[str, Any] = body["errors"][0]["extensions"]
        return extensions

    def close(self) -> None:
        self.http.close()


class LiveServer:
    """uvicorn serving the real app on a free loopback port, in a thread of this process."""

    def __init__(self, herald: Herald, **app_options: Any) -> None:
        self.herald = herald
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(("127.0.0.1", 0))
        self.port = self.sock.getsockname()[1]
        self.base_url = f"http://127.0.0.1:{self.port}"
        app = create_app(herald=herald, **app_options)
        config = uvicorn.Config(
            app, log_level="warning", lifespan="on", **uvicorn_options(herald.settings)
        )
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, kwargs={"sockets": [self.sock]})

    def __enter__(self) -> LiveServer:
        self.thread.start()
        started = threading.Event()
        while not self.server.started and self.thread.is_alive():
            started.wait(0.01)
        assert self.server.started, "the server did not start"
        return self

    def __exit__(self, *_: object) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=30)
        self.sock.close()

    def key(self, workspace: str, name: str | None = None) -> str:
        return self.herald.workspaces.create_key(workspace, name or f"{workspace}-key")

    def client(self, workspace: str | None = "acme", name: str | None = None) -> Api:
        return Api(self.base_url, None if workspace is None else self.key(workspace, name))


@pytest.fixture
def server(herald: Herald) -> Iterator[LiveServer]:
    with LiveServer(herald) as live:
        yield live


@contextmanager
def served(settings: Settings) -> Iterator[LiveServer]:
    """A live server on a Herald of its own, for tests that need settings of their own."""
    herald = Herald(settings)
    try:
        with LiveServer(herald) as live:
            yield live
    finally:
        herald.close()


@pytest.fixture
def sqlite_herald(sqlite_settings: Settings) -> Iterator[Herald]:
    """For tests of what does not depend on the backend."""
    h = Herald(sqlite_settings)
    yield h
    h.close()


@pytest.fixture
def sqlite_server(sqlite_settings: Settings) -> Iterator[LiveServer]:
    """A live server on SQLite only, for tests of what does not depend on the backend."""
    with served(sqlite_settings) as live:
        yield live


@pytest.fixture
def api(server: LiveServer) -> Iterator[Api]:
    client = server.client("acme", "acme-bot")
    yield client
    client.close()


DRAFT = """
mutation Draft($input: DraftMessageInput!) {
  draftMessage(input: $input) { id version status text body channel requiresApproval }
}
"""

MESSAGE_FIELDS = """
  id conversationId channel version status draft text body
  recipients { identifierKey identifierValue type } sender { name email }
  replyToMessageId reference requiresApproval approvedBy approvedAt rejectedBy rejectionReason
  failureReason edited redacted redactedAt createdAt updatedAt sentAt
"""


def draft(api: Api, text: str = "Hello there", **fields: Any) -> dict[str, Any]:
    """Draft a message and return it as the API answered."""
    given: dict[str, Any] = {"conversationId": "conv-1", "text": text, **fields}
    if "body" in fields:
        given.pop("text")
    message: dict[str, Any] = api.ok(DRAFT, {"input": given})["draftMessage"]
    return message
