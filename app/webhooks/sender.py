"""One attempt: POST the signed payload, with a time limit on the whole of it, following no
redirect and reading at most a little of the answer, of which nothing is kept.

It goes through httpcore, the connection pool under httpx, over connections GuardedBackend
checked: httpx's client adds cookies, auth, redirects and URL merging, none of which a webhook
wants, at about half as much CPU again per request (bench/RESULTS.md)."""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass
from types import TracebackType

import httpcore

from .addresses import GuardedBackend
from .attempts import Outcome
from .config import WebhookSettings
from .deliveries import Due
from .signing import headers, webhook_id

USER_AGENT = "Herald-Webhooks/1"
_ANSWER_READ = 16_384  # read this much of an answer, so its connection can be kept alive
_ERROR = 300
_CONNECTIONS = 256
_FAILURES = (
    httpcore.TimeoutException,
    httpcore.NetworkError,
    httpcore.ProtocolError,
    httpcore.UnsupportedProtocol,
)


@dataclass(frozen=True)
class Job:
    due: Due
    url: str
    secrets: list[str]
    body: bytes


def _pool(*, public: bool, private: bool) -> httpcore.AsyncConnectionPool:
    return httpcore.AsyncConnectionPool(
        max_connections=_CONNECTIONS,
        max_keepalive_connections=_CONNECTIONS,
        keepalive_expiry=5.0,
        network_backend=GuardedBackend(public=public, private=private),
    )


class Sender:
    def __init__(self, settings: WebhookSettings) -> None:
        self.timeout = settings.timeout
        self.limits = {name: settings.timeout for name in ("connect", "read", "write", "pool")}
        self.https = _pool(public=True, private=settings.allow_private)
        # http only ever to loopback and private addresses, and only when they are allowed.
        self.http = _pool(public=False, private=True) if settings.allow_private else None

    async def send(self, job: Job) -> Outcome:
        at, started = time.time(), time.monotonic()
        status: int | None = None
        error: str | None = None
        pool = self.https if job.url.lower().startswith("https:") else self.http
        try:
            if pool is None:
                raise httpcore.UnsupportedProtocol("http is not allowed here; use https")
            msg_id = webhook_id(job.due.message_id, job.due.version)
            signed = headers(job.secrets, msg_id, int(at), job.body)
            sent = [*signed.items(), ("user-agent", USER_AGENT)]
            async with asyncio.timeout(self.timeout):
                async with pool.stream(
                    "POST",
                    job.url,
                    headers=sent,
                    content=job.body,
                    extensions={"timeout": self.limits},
                ) as answer:
                    status = answer.status
                    read = 0
                    async for chunk in answer.aiter_stream():
                        read += len(chunk)
                        if read >= _ANSWER_READ:
                            break
        except TimeoutError:
            error = f"no answer within {self.timeout:g} s"
        except _FAILURES as e:
            error = f"{type(e).__name__}: {e}"[:_ERROR]
        if status is not None and 200 <= status < 300:
            error = None  # answered; what happened while reading the rest does not matter
        elif status is not None:
            redirect = " (redirects are not followed)" if 300 <= status < 400 else ""
            error = f"HTTP {status}{redirect}"
        duration = (time.monotonic() - started) * 1000
        return Outcome(job.due, at, status, duration, error)

    async def __aenter__(self) -> Sender:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.https.aclose()
        if self.http is not None:
            await self.http.aclose()
