"""The per-request context: who is calling, the Herald they are calling, and what their
operations may spend."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar

from starlette.requests import HTTPConnection
from strawberry.types import Info

from app.errors import Forbidden, HeraldError, Unauthenticated
from app.ratelimit import RateLimiter
from app.runtime import Herald
from app.settings import Settings
from app.shares import Shares
from app.workspaces import Principal, parse_authorization

from .per_herald import per_herald

T = TypeVar("T")
# In an HTTP request's scope: what to do once its answer is sent (see Context.share).
AFTER_ANSWER = "herald.after_answer"


@dataclass
class Guards:
    """One process's limits beyond the keys' own rate (`Herald.rate_limiter`): a rate for what
    no key pays for (requests without a valid key, and refused ones), per client address; and
    each workspace's fair share of the operations running at once."""

    addresses: RateLimiter
    shares: Shares

    @classmethod
    def of(cls, settings: Settings) -> Guards:
        return cls(
            RateLimiter(
                settings.address_rate_limit, settings.address_rate_burst, "this client address"
            ),
            Shares(settings.workspace_share),
        )


def _guards(herald: Herald) -> Guards:
    return Guards.of(herald.settings)


guards_of = per_herald(_guards)


@dataclass(frozen=True)
class Bill:
    """Who pays for an operation: a rate limiter's bucket, and whose share it runs in."""

    limiter: RateLimiter
    key: str
    owner: str

    def settle(self, taken: int, used: int) -> float:
        """Give back what the operation did not use, or take what it used beyond its price
        (the bucket may then owe points, and its next operation waits for them); the points
        the payer has left."""
        if used < taken:
            self.limiter.give_back(self.key, taken - used)
        else:
            self.limiter.spend(self.key, used - taken)
        return self.limiter.available(self.key)


@dataclass
class Context:
    herald: Herald
    request: HTTPConnection
    response: Any = None
    connection_params: dict[str, Any] | None = None
    _principal: Principal | None = field(default=None, repr=False)
    _refusal: HeraldError | None = field(default=None, repr=False)
    # A connection's operations are charged one at a time, in the order they came, so that
    # each reaches its resolvers in that order although the charge waits for a thread.
    turn: asyncio.Lock = field(default_factory=asyncio.Lock, repr=False)

    @property
    def guards(self) -> Guards:
        return guards_of(self.herald)

    @property
    def address(self) -> str:
        client = self.request.client
        return client.host if client is not None else "unknown"

    def renew(self) -> None:
        """Authenticate and charge the next operation anew when it comes over a WebSocket: a
        connection lives long, and a key revoked or over its rate must stop at once."""
        if self.request.scope["type"] == "websocket":
            self._principal = self._refusal = None

    def principal(self, *, remembered: bool = False) -> Principal:
        """The caller, authenticated on first use so that introspection needs no key;
        `remembered`: only if its key is in memory (Workspaces.authenticate)."""
        if self._principal is None:
            if self._refusal is not None:
                raise self._refusal
            params = self.connection_params if isinstance(self.connection_params, dict) else {}
            header = params.get("Authorization") or params.get("authorization")
            if not isinstance(header, str):
                header = self.request.headers.get("authorization")
            workspace = params.get("x-workspace-id") or self.request.headers.get("x-workspace-id")
            self._principal = self.herald.workspaces.authenticate(
                parse_authorization(header),
                workspace if isinstance(workspace, str) else None,
                remembered=remembered,
            )
        return self._principal

    def charge(self, points: int, *, remembered: bool = False) -> Bill:
        """Take an operation's price before it runs: from its key's rate, or, for a caller
        without a valid key, from its address's (checked before the key is looked up, so
        guessing keys is limited too). A caller without a valid key may still introspect; its
        refusal waits for the first field that needs the key."""
        addresses = self.guards.addresses
        if self._principal is None and self._refusal is None:
            addresses.check(self.address)
            try:
                self.principal(remembered=remembered)
            except (Unauthenticated, Forbidden) as refusal:
                self._refusal = refusal
        if self._principal is not None:
            bill = Bill(
                self.herald.rate_limiter, self._principal.key_digest, self._principal.workspace
            )
        else:
            bill = Bill(addresses, self.address, f"address:{self.address}")
        bill.limiter.take(bill.key, points)
        return bill

    def refused(self, points: int = 1) -> None:
        """A request refused before it was charged (a bad document, a bad key) costs its
        address: a point, or what reading its document cost."""
        self.guards.addresses.spend(self.address, points)

    async def share(self, bill: Bill, points: int) -> Callable[[], None]:
        """The payer's workspace's fair share of this process, held until the returned function
        is called: over HTTP once the answer is sent (HeraldGraphQL), since writing a large one
        is part of the work; otherwise when the operation ends."""
        release = await self.guards.shares.take(bill.owner, points)
        answered = self.request.scope.get(AFTER_ANSWER)
        if isinstance(answered, list):
            answered.append(release)
        return release

    async def read(self, fn: Callable[..., T], *args: Any) -> T:
        """A read of the views that may be long (a page of contents), off the event loop on
        every backend, so that the loop never decodes it."""
        return await blocking(fn, *args)

    async def read_row(self, fn: Callable[..., T], *args: Any) -> T:
        """A read of one row of bounded size. On SQLite on the event loop: in WAL a reader
        never waits for a writer, the pool keeps a connection for every thread (so none waits
        for one), and a row's lookup costs less than the hop to a thread, whose reads under
        load queue for the GIL behind each other (16 concurrent `message(id)` reads: 800 ->
        1 230 requests/s in one process). On PostgreSQL in a thread: a query waits for the
        network."""
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
