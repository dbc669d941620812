"""GraphQL over HTTP (the graphql-over-http draft) around strawberry's view: media types,
status codes, and JSON error bodies for every refused request."""

from __future__ import annotations

import json
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from app import metrics
from app.errors import HeraldError
from app.ratelimit import RateLimiter
from app.workspaces import _digest as key_digest
from app.workspaces import parse_authorization

GRAPHQL_RESPONSE = "application/graphql-response+json"
JSON = "application/json"
_GET_MUTATION = b"mutations are not allowed when using GET"


def chosen_media_type(accept: str) -> str | None:
    """The response type the client accepts, preferring the spec's own; None if neither."""
    if not accept.strip():
        return JSON
    ranges = [part.split(";")[0].strip().lower() for part in accept.split(",")]
    if GRAPHQL_RESPONSE in ranges:
        return GRAPHQL_RESPONSE
    if JSON in ranges or "application/*" in ranges or "*/*" in ranges:
        return JSON
    return None


def is_request_error(body: dict[str, Any]) -> bool:
    """The document failed to parse or validate, or its variables to coerce: nothing ran."""
    errors = body.get("errors") or []
    return bool(errors) and body.get("data") is None and all("path" not in e for e in errors)


def _retry_after(body: dict[str, Any]) -> float | None:
    """When a rate refused the request: the seconds until it may be tried again."""
    for error in body.get("errors") or []:
        extensions = error.get("extensions") if isinstance(error, dict) else None
        if isinstance(extensions, dict) and isinstance(extensions.get("retryAfter"), int | float):
            return float(extensions["retryAfter"])
    return None


class GraphQLOverHTTP:
    def __init__(
        self,
        app: ASGIApp,
        addresses: RateLimiter | None = None,
        keys: RateLimiter | None = None,
        path: str = "/graphql",
    ) -> None:
        self.app = app
        self.path = path
        # Requests refused here, before GraphQL, cost their address a point (app.api.context);
        # a key or an address told to wait is refused here until it has.
        self.addresses = addresses
        self.keys = keys

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"] != self.path:
            await self.app(scope, receive, send)
            return
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope["headers"]}
        accept = headers.get("accept", "")
        if scope["method"] == "GET" and "text/html" in accept and not scope["query_string"]:
            await self.app(scope, receive, send)  # GraphiQL
            return
        media = chosen_media_type(accept)
        address = (scope.get("client") or ("unknown",))[0]
        if self.addresses is not None and self.keys is not None:
            try:
                self.addresses.check(address)
                key = parse_authorization(headers.get("authorization"))
                if key is not None:
                    self.keys.check(key_digest(key))
            except HeraldError as refused:
                metrics.refused("rate")
                error = {"message": str(refused), "extensions": refused.extensions()}
                await self._refuse(send, 429, error, media or JSON)
                return
        if media is None:
            error = {
                "message": f"Accept {JSON} or {GRAPHQL_RESPONSE}",
                "extensions": {"code": "VALIDATION_FAILED"},
            }
            self._refused(address)
            await _send_json(send, 406, {"errors": [error]}, JSON)
            return
        start: Message = {}
        chunks: list[bytes] = []

        async def capture(message: Message) -> None:
            nonlocal start
            if message["type"] == "http.response.start":
                start = message
            else:
                chunks.append(message.get("body", b""))

        await self.app(scope, receive, capture)
        await self._answer(send, start, b"".join(chunks), media, address)

    def _refused(self, address: str) -> None:
        if self.addresses is not None:
            self.addresses.spend(address)

    async def _refuse(self, send: Send, status: int, error: dict[str, Any], media: str) -> None:
        retry = _retry_after({"errors": [error]})
        extra = [] if retry is None else [(b"retry-after", str(max(1, round(retry))).encode())]
        await _send_json(send, status, {"errors": [error]}, media, extra)

    async def _answer(
        self, send: Send, start: Message, body: bytes, media: str, address: str
    ) -> None:
        status = int(start.get("status", 500))
        content_type = dict(start.get("headers", [])).get(b"content-type", b"")
        extra: list[tuple[bytes, bytes]] = []
        if content_type.startswith(b"text/html"):
            await send(start)  # the explorer, for a browser that accepts anything
            await send({"type": "http.response.body", "body": body})
            return
        if not content_type.startswith(JSON.encode()):
            # strawberry's plain-text refusals become JSON error bodies with the right status.
            self._refused(address)
            message = body.decode(errors="replace").strip() or "bad request"
            if body.strip() == _GET_MUTATION:
                status, extra = 405, [(b"allow", b"POST")]
                message = "mutations must be sent with POST"
            elif status == 405:
                extra = [(b"allow", b"GET, POST")]
            elif status == 400 and message == "Unsupported content type":
                status, message = 415, f"send {JSON}"
            error = {"message": message, "extensions": {"code": "VALIDATION_FAILED"}}
            await _send_json(send, status, {"errors": [error]}, media, extra)
            return
        if body.startswith(b'{"data":{'):
            # Something ran and answered: nothing to change but the media type, and a large
            # answer is not worth decoding and encoding again.
            await _send_bytes(send, status, body, media)
            return
        payload = json.loads(body)
        if isinstance(payload, dict) and is_request_error(payload):
            payload.pop("data", None)
            if media == GRAPHQL_RESPONSE:
                status = 400
        retry = _retry_after(payload) if isinstance(payload, dict) else None
        if retry is not None:
            status = 429
            extra = [(b"retry-after", str(max(1, round(retry))).encode())]
        await _send_json(send, status, payload, media, extra)


async def _send_json(
    send: Send,
    status: int,
    payload: object,
    media: str,
    extra: list[tuple[bytes, bytes]] | None = None,
) -> None:
    await _send_bytes(
        send, status, json.dumps(payload, separators=(",", ":")).encode(), media, extra
    )


async def _send_bytes(
    send: Send,
    status: int,
    body: bytes,
    media: str,
    extra: list[tuple[bytes, bytes]] | None = None,
) -> None:
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", f"{media}; charset=utf-8".encode()),
                (b"content-length", str(len(body)).encode()),
                *(extra or []),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})
