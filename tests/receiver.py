"""A webhook receiver for the tests: a small ASGI app on a loopback port, served by uvicorn in a
thread of the test process. It records every request it gets and answers as the test says."""

from __future__ import annotations

import asyncio
import dataclasses
import json
import socket
import threading
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import uvicorn
from starlette.types import Receive, Scope, Send


@dataclass(frozen=True)
class Received:
    path: str
    headers: dict[str, str]
    body: bytes
    started: float  # time.monotonic() when it arrived
    finished: float = 0.0  # ... and when it was answered
    status: int | None = None  # the status answered

    @property
    def id(self) -> str:
        return self.headers["webhook-id"]

    @property
    def payload(self) -> dict[str, Any]:
        parsed: dict[str, Any] = json.loads(self.body)
        return parsed

    @property
    def data(self) -> dict[str, Any]:
        data: dict[str, Any] = self.payload["data"]
        return data


# How to answer a request: a status, after whatever waiting the test wants.
Answer = Callable[[Received], Awaitable[int]]


async def accept(_: Received) -> int:
    return 200


@dataclass
class Receiver:
    answer: Answer = accept
    requests: list[Received] = field(default_factory=list)  # as they arrived
    answered: list[Received] = field(default_factory=list)  # as they were answered

    def __post_init__(self) -> None:
        self._changed = threading.Condition()
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(("127.0.0.1", 0))
        self.port: int = self.sock.getsockname()[1]
        self.url = f"http://127.0.0.1:{self.port}/hook"
        config = uvicorn.Config(
            self.app,
            log_level="warning",
            lifespan="off",
            interface="asgi3",
            timeout_graceful_shutdown=1,
        )
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, kwargs={"sockets": [self.sock]})

    async def app(self, scope: Scope, receive: Receive, send: Send) -> None:
        assert scope["type"] == "http"
        body = b""
        while True:
            message = await receive()
            body += message.get("body", b"")
            if not message.get("more_body"):
                break
        headers = {k.decode().lower(): v.decode() for k, v in scope["headers"]}
        got = Received(scope["path"], headers, body, time.monotonic())
        self._note(self.requests, got)
        status = await self.answer(got)
        # Noted before the answer leaves, so nothing the answer makes happen can precede it.
        self._note(
            self.answered, dataclasses.replace(got, finished=time.monotonic(), status=status)
        )
        extra = [(b"location", b"/elsewhere")] if 300 <= status < 400 else []
        await send({"type": "http.response.start", "status": status, "headers": extra})
        await send({"type": "http.response.body", "body": b"ok"})

    def _note(self, into: list[Received], got: Received) -> None:
        with self._changed:
            into.append(got)
            self._changed.notify_all()

    def wait(self, done: Callable[[Receiver], bool], timeout: float = 30) -> None:
        """Until `done` holds; the deadline only bounds a failure."""
        deadline = time.monotonic() + timeout
        with self._changed:
            while not done(self):
                left = deadline - time.monotonic()
                assert left > 0, f"the receiver never saw that; it got {len(self.requests)}"
                self._changed.wait(left)

    def delivered(self) -> list[Received]:
        """The requests answered with 2xx, in the order they were answered."""
        with self._changed:
            return [r for r in self.answered if r.status is not None and 200 <= r.status < 300]

    def __enter__(self) -> Receiver:
        self.thread.start()
        started = threading.Event()
        while not self.server.started and self.thread.is_alive():
            started.wait(0.01)
        return self

    def __exit__(self, *_: object) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=30)
        self.sock.close()


async def hold(until: threading.Event) -> None:
    """Keep a request waiting until the test lets it go (a minute at most)."""
    await asyncio.to_thread(until.wait, 60)
