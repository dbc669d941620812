"""One attempt: POST the signed payload, with a time limit on the whole of it, following no
redirect and reading at most a little of the answer, of which nothing is kept."""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass
from types import TracebackType

import httpcore
import httpx

from .addresses import GuardedBackend
from .config import WebhookSettings
from .deliveries import Due, Outcome
from .signing import headers, webhook_id

USER_AGENT = "Herald-Webhooks/1"
_ANSWER_READ = 16_384  # read this much of an answer, so its connection can be kept alive
_ERROR = 300
_CONNECTIONS = 256


@dataclass(frozen=True)
class Job:
    due: Due
    url: str
    secrets: list[str]
    body: bytes


class GuardedTransport(httpx.AsyncHTTPTransport):
    """httpx's transport over a connection pool whose every connection `GuardedBackend`
    checked. httpx does not take a network backend, so its pool is replaced by one that does."""

    def __init__(self, *, public: bool, private: bool) -> None:
        super().__init__(trust_env=False)
        self._pool = httpcore.AsyncConnectionPool(
            ssl_context=httpx.create_ssl_context(trust_env=False),
            max_connections=_CONNECTIONS,
            max_keepalive_connections=_CONNECTIONS,
            keepalive_expiry=5.0,
            network_backend=GuardedBackend(public=public, private=private),
        )


class Sender:
    def __init__(self, settings: WebhookSettings) -> None:
        self.timeout = settings.timeout

        def client(*, public: bool, private: bool) -> httpx.AsyncClient:
            return httpx.AsyncClient(
                transport=GuardedTransport(public=public, private=private),
                follow_redirects=False,
                trust_env=False,
                timeout=settings.timeout,
                headers={"user-agent": USER_AGENT},
            )

        self.https = client(public=True, private=settings.allow_private)
        # http only ever to loopback and private addresses, and only when they are allowed.
        self.http = client(public=False, private=True) if settings.allow_private else None

    async def send(self, job: Job) -> Outcome:
        at, started = time.time(), time.monotonic()
        status: int | None = None
        error: str | None = None
        client = self.https if job.url.lower().startswith("https:") else self.http
        try:
            if client is None:
                raise httpx.UnsupportedProtocol("http is not allowed here; use https")
            signed = headers(
                job.secrets,
                webhook_id(job.due.message_id, job.due.version),
                int(at),
                job.body,
            )
            async with asyncio.timeout(self.timeout):
                async with client.stream("POST", job.url, content=job.body, headers=signed) as r:
                    status = r.status_code
                    read = 0
                    async for chunk in r.aiter_raw():
                        read += len(chunk)
                        if read >= _ANSWER_READ:
                            break
        except TimeoutError:
            error = f"no answer within {self.timeout:g} s"
        except httpx.HTTPError as e:
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
