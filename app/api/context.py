"""The per-request context: who is calling, and the Herald they are calling."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar

from starlette.requests import HTTPConnection
from strawberry.types import Info

from app.runtime import Herald
from app.workspaces import Principal, parse_authorization

T = TypeVar("T")


@dataclass
class Context:
    herald: Herald
    request: HTTPConnection
    response: Any = None
    connection_params: dict[str, Any] | None = None
    _principal: Principal | None = field(default=None, repr=False)

    def renew(self) -> None:
        """Authenticate and count the next operation anew when it comes over a WebSocket: a
        connection lives long, and a key revoked or over its rate must stop at once."""
        if self.request.scope["type"] == "websocket":
            self._principal = None

    def principal(self) -> Principal:
        """The caller, authenticated on first use so that introspection needs no key."""
        if self._principal is None:
            params = self.connection_params if isinstance(self.connection_params, dict) else {}
            header = params.get("Authorization") or params.get("authorization")
            if not isinstance(header, str):
                header = self.request.headers.get("authorization")
            workspace = params.get("x-workspace-id") or self.request.headers.get("x-workspace-id")
            principal = self.herald.workspaces.authenticate(
                parse_authorization(header), workspace if isinstance(workspace, str) else None
            )
            self.herald.rate_limiter.take(principal.key_digest)
            self._principal = principal
        return self._principal

    async def read(self, fn: Callable[..., T], *args: Any) -> T:
        """A bounded read of the views. SQLite answers it from its page cache and, in WAL mode,
        never makes a reader wait for a writer, so a thread hop would cost more than the read;
        PostgreSQL's network round trip goes to a thread."""
        if self.herald.store.db.dialect == "sqlite":
            return fn(*args)
        return await blocking(fn, *args)


def context_of(info: Info) -> Context:
    ctx = info.context
    assert isinstance(ctx, Context)
    return ctx


async def blocking(fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
    """Run a database call off the event loop: SQLite commits wait for the disk."""
    return await asyncio.to_thread(fn, *args, **kwargs)
