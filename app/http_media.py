"""GraphQL over HTTP (the graphql-over-http draft) around strawberry's view: media types,
status codes, and JSON error bodies for every refused request."""

from __future__ import annotations

import json
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

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


def _rate_limited(body: dict[str, Any]) -> bool:
    errors = body.get("errors") or []
    return any(
        "too many requests" in str(e.get("message"))
        and (e.get("extensions") or {}).get("code") == "LIMIT_EXCEEDED"
        for e in errors
    )


class GraphQLOverHTTP:
    def __init__(self, app: ASGIApp, path: str = "/graphql") -> None:
        self.app = app
        self.path = path

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
        if media is None:
            error = {
                "message": f"Accept {JSON} or {GRAPHQL_RESPONSE}",
                "extensions": {"code": "VALIDATION_FAILED"},
            }
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
        await self._answer(send, start, b"".join(chunks), media)

    async def _answer(self, send: Send, start: Message, body: bytes, media: str) -> None:
        status = int(start.get("status", 500))
        content_type = dict(start.get("headers", [])).get(b"content-type", b"")
        extra: list[tuple[bytes, bytes]] = []
        if content_type.startswith(b"text/html"):
            await send(start)  # the explorer, for a browser that accepts anything
            await send({"type": "http.response.body", "body": body})
            return
        if not content_type.startswith(JSON.encode()):
            # strawberry's plain-text refusals become JSON error bodies with the right status.
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
        payload = json.loads(body)
        if isinstance(payload, dict) and is_request_error(payload):
            payload.pop("data", None)
            if media == GRAPHQL_RESPONSE:
                status = 400
        if isinstance(payload, dict) and _rate_limited(payload):
            status = 429
        await _send_json(send, status, payload, media)


async def _send_json(
    send: Send,
    status: int,
    payload: object,
    media: str,
    extra: list[tuple[bytes, bytes]] | None = None,
) -> None:
    body = json.dumps(payload, separators=(",", ":")).encode()
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
