"""Each HTTP request and WebSocket seen once, outermost: it gets a request id (the client's
X-Request-ID when it is a sane one, else a new one), which every log line written on its
behalf carries and the response returns; and each HTTP response is counted by route and
status."""

from __future__ import annotations

import re
import uuid

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from app import metrics
from app.logs import REQUEST_ID

HEADER = b"x-request-id"
_SANE = re.compile(rb"[A-Za-z0-9._:+/=-]{1,128}")
# Routes by their first path segment; anything else is "other", so a client cannot add series.
ROUTES = frozenset({"graphql", "graphiql", "inspect", "healthz", "readyz", "metrics"})


def route_of(path: str) -> str:
    first = path.lstrip("/").split("/", 1)[0]
    return f"/{first}" if first in ROUTES else "other"


def request_id(scope: Scope) -> str:
    for name, value in scope.get("headers") or ():
        if name == HEADER and _SANE.fullmatch(value):
            return str(value.decode("ascii"))
    return uuid.uuid4().hex


class Observed:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        rid = request_id(scope)
        token = REQUEST_ID.set(rid)
        header = (HEADER, rid.encode("ascii"))
        route = route_of(scope["path"])

        async def observed(message: Message) -> None:
            kind = message["type"]
            if kind == "http.response.start":
                message["headers"] = [*message.get("headers", ()), header]
                metrics.HTTP_REQUESTS.labels(route, str(message["status"])).inc()
            elif kind == "websocket.accept":
                message["headers"] = [*message.get("headers", ()), header]
            await send(message)

        try:
            await self.app(scope, receive, observed)
        finally:
            REQUEST_ID.reset(token)
