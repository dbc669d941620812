"""What one API key may hold open at once in this process: connections (WebSocket connections
and SSE streams) and subscriptions over all of them. Over a cap is LIMIT_EXCEEDED."""

from __future__ import annotations

from collections import Counter
from types import TracebackType

from starlette.types import ASGIApp, Receive, Scope, Send

from app.errors import LimitExceeded
from app.runtime import Herald
from app.workspaces import Principal

from .per_herald import per_herald


class Held:
    """One unit of a cap, held until released (once, however often `release` is called)."""

    def __init__(self, cap: Cap, digest: str) -> None:
        self._cap: Cap | None = cap
        self._digest = digest

    def release(self) -> None:
        if self._cap is not None:
            self._cap.give_back(self._digest)
            self._cap = None

    def __enter__(self) -> Held:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.release()


class Cap:
    def __init__(self, limit: int, what: str, setting: str) -> None:
        self.limit = limit
        self.what = what
        self.setting = setting
        self.held: Counter[str] = Counter()

    def take(self, principal: Principal) -> Held:
        digest = principal.key_digest
        if self.held[digest] >= self.limit:
            raise LimitExceeded(
                f"this API key already holds {self.limit} open {self.what} ({self.setting}); "
                "close one first"
            )
        self.held[digest] += 1
        return Held(self, digest)

    def give_back(self, digest: str) -> None:
        self.held[digest] -= 1
        if self.held[digest] <= 0:
            del self.held[digest]


class Quota:
    def __init__(self, herald: Herald) -> None:
        settings = herald.settings
        self.connections = Cap(
            settings.max_connections_per_key,
            "connections (WebSocket or SSE)",
            "HERALD_MAX_CONNECTIONS_PER_KEY",
        )
        self.subscriptions = Cap(
            settings.max_subscriptions_per_key, "subscriptions", "HERALD_MAX_SUBSCRIPTIONS_PER_KEY"
        )


quota_of = per_herald(Quota)
_CONNECTION = "herald.connection"  # where a WebSocket's scope keeps the connection it holds


def hold_connection(herald: Herald, scope: Scope, principal: Principal) -> None:
    """Count an authenticated WebSocket against its key's connections, once however often it
    says connection_init; `Releasing` gives it back when the socket ends."""
    if _CONNECTION not in scope:
        scope[_CONNECTION] = quota_of(herald).connections.take(principal)


class Releasing:
    """Around the WebSocket endpoint: the connection it held goes back however it ends."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        try:
            await self.app(scope, receive, send)
        finally:
            held = scope.get(_CONNECTION)
            if isinstance(held, Held):
                held.release()
