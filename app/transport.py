"""Limits where bytes arrive, before GraphQL sees them: how large a request body or a
WebSocket message may be (one limit for both), and how long a client may take to send a
request's headers and its body. A client that trickles bytes must not hold a connection, a
buffer or a task for ever."""

from __future__ import annotations

import asyncio
import json
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from app import metrics
from app.settings import Settings


def uvicorn_options(settings: Settings) -> dict[str, Any]:
    """What `uvicorn.run` / `uvicorn.Config` must be given for these limits to hold at the
    socket too: uvicorn has no deadline for headers of its own, and lets WebSocket messages
    grow to 16 MiB."""
    protocol = type("HeaderDeadline", (HeaderDeadline,), {"timeout": settings.header_timeout})
    return {"http": protocol, "ws_max_size": settings.max_request_bytes}


class HeaderDeadline(HttpToolsProtocol):
    """uvicorn's HTTP protocol, closing a connection whose request headers do not all arrive
    within `timeout` seconds of its first byte (or of the connection, for a silent one).
    uvicorn's keep-alive timer stops at a request's first byte and starts again only after its
    response, so without this a client sending headers slowly holds the connection for ever."""

    timeout = 10.0
    _deadline: asyncio.TimerHandle | None = None

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._arm()

    def on_message_begin(self) -> None:
        super().on_message_begin()
        self._arm()

    def on_headers_complete(self) -> None:
        self._disarm()
        super().on_headers_complete()

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm()
        super().connection_lost(exc)

    def _arm(self) -> None:
        self._disarm()
        self._deadline = self.loop.call_later(self.timeout, self._expire)

    def _disarm(self) -> None:
        if self._deadline is not None:
            self._deadline.cancel()
            self._deadline = None

    def _expire(self) -> None:
        self._deadline = None
        idle = self.cycle is None or self.cycle.response_complete
        if idle and not self.transport.is_closing():
            body = b"request headers not received in time"
            self.transport.write(
                b"HTTP/1.1 408 Request Timeout\r\ncontent-type: text/plain\r\n"
                b"connection: close\r\ncontent-length: %d\r\n\r\n%s" % (len(body), body)
            )
            self.transport.close()


class ServedHeaderDeadline(HeaderDeadline):
    """The same, for `herald serve`'s workers, which uvicorn starts from an import string: the
    deadline comes from the environment (HERALD_HEADER_TIMEOUT), read once a process."""

    timeout = Settings.from_env().header_timeout


def served_options() -> dict[str, Any]:
    """`uvicorn_options` for `herald serve` (app.serving), whose workers are other processes."""
    return {
        "http": "app.transport:ServedHeaderDeadline",
        "ws_max_size": Settings.from_env().max_request_bytes,
    }


class TransportLimits:
    """Request bodies over `max_bytes` get 413, bodies not received within `body_timeout`
    seconds of their start get 408, WebSocket messages over `max_bytes` close the connection
    with 1009 (message too big): each says LIMIT_EXCEEDED."""

    def __init__(self, app: ASGIApp, settings: Settings) -> None:
        self.app = app
        self.max_bytes = settings.max_request_bytes
        self.body_timeout = settings.body_timeout

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "websocket":
            await self.app(scope, self._messages(receive, send), send)
        elif scope["type"] == "http":
            await self._http(scope, receive, send)
        else:
            await self.app(scope, receive, send)

    async def _http(self, scope: Scope, receive: Receive, send: Send) -> None:
        declared = dict(scope["headers"]).get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > self.max_bytes:
            await self._refuse(send, 413, f"request body is larger than {self.max_bytes} bytes")
            return
        seen = 0
        done = False
        deadline = asyncio.get_running_loop().time() + self.body_timeout

        async def counted() -> Message:
            nonlocal seen, done
            if done:  # the body is in; now the app only listens for a disconnect
                return await receive()
            try:
                async with asyncio.timeout_at(deadline):
                    message = await receive()
            except TimeoutError:
                raise _Refused(408, "request body not received in time") from None
            seen += len(message.get("body", b""))
            if seen > self.max_bytes:
                raise _Refused(413, f"request body is larger than {self.max_bytes} bytes")
            done = not message.get("more_body", False)
            return message

        try:
            await self.app(scope, counted, send)
        except _Refused as refused:
            await self._refuse(send, refused.status, refused.message)

    def _messages(self, receive: Receive, send: Send) -> Receive:
        async def bounded() -> Message:
            message = await receive()
            if message["type"] == "websocket.receive" and self._too_large(message):
                metrics.refused("body")
                reason = f"LIMIT_EXCEEDED: messages are at most {self.max_bytes} bytes"
                await send({"type": "websocket.close", "code": 1009, "reason": reason})
                return {"type": "websocket.disconnect", "code": 1009}
            return message

        return bounded

    def _too_large(self, message: Message) -> bool:
        data = message.get("bytes")
        if data is not None:
            return len(data) > self.max_bytes
        text: str = message.get("text") or ""
        if len(text) <= self.max_bytes // 4:
            return False
        return len(text.encode("utf-8", "surrogatepass")) > self.max_bytes

    async def _refuse(self, send: Send, status: int, message: str) -> None:
        metrics.refused("body")
        error = {"message": message, "extensions": {"code": "LIMIT_EXCEEDED"}}
        body = json.dumps({"errors": [error]}).encode()
        await send(
            {
                "type": "http.response.start",
                "status": status,
                "headers": [
                    (b"content-type", b"application/json"),
                    (b"content-length", str(len(body)).encode()),
                    (b"connection", b"close"),
                ],
            }
        )
        await send({"type": "http.response.body", "body": body})


class _Refused(Exception):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
