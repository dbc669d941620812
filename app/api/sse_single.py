"""graphql-sse's single connection mode: a client reserves a stream (PUT, answered with a
token), opens it (GET with the token, as a header or `?token=`), and runs operations on it
(POST with the token and `extensions.operationId`; DELETE `?operationId=` stops one). Every
result of every operation goes down the one stream, tagged with its operation's id.

A reservation belongs to the key that made it and counts as one of its connections; a stream
that nobody opens lapses. Reservations live in the process that made them: behind several
processes, a client's requests must reach the same one (the distinct connections mode has no
such need)."""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import AsyncGenerator, AsyncIterator
from contextlib import aclosing
from dataclasses import dataclass, field

from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from strawberry.schema import BaseSchema

from app.errors import Forbidden, HeraldError, LimitExceeded, NotFound, ValidationFailed
from app.runtime import Herald
from app.workspaces import Principal

from .context import Context, blocking
from .per_herald import per_herald
from .quota import Held, quota_of
from .sse_wire import Params, allowed, event, event_stream, results

TOKEN_HEADER = "x-graphql-event-stream-token"
_UNCLAIMED = 30.0  # seconds a reservation waits for its stream before it lapses
_QUEUED = 100  # results waiting for a slow reader before the operations wait for it
_OPERATION_ID = 256  # characters


class Taken(HeraldError):
    code = "CONFLICT"


@dataclass(eq=False)
class Reservation:
    token: str
    digest: str
    held: Held
    queue: asyncio.Queue[str] = field(default_factory=lambda: asyncio.Queue(_QUEUED))
    operations: dict[str, asyncio.Task[None]] = field(default_factory=dict)
    opened: bool = False


class Reservations:
    def __init__(self, herald: Herald) -> None:
        self.herald = herald
        self.by_token: dict[str, Reservation] = {}

    def make(self, principal: Principal) -> Reservation:
        held = quota_of(self.herald).connections.take(principal)
        reservation = Reservation(secrets.token_urlsafe(32), principal.key_digest, held)
        self.by_token[reservation.token] = reservation
        asyncio.get_running_loop().call_later(_UNCLAIMED, self._lapse, reservation)
        return reservation

    def _lapse(self, reservation: Reservation) -> None:
        if not reservation.opened:
            self.end(reservation)

    def end(self, reservation: Reservation) -> None:
        self.by_token.pop(reservation.token, None)
        for task in reservation.operations.values():
            task.cancel()
        reservation.operations.clear()
        reservation.held.release()

    def of(self, token: str | None) -> Reservation:
        reservation = self.by_token.get(token or "")
        if reservation is None:
            raise NotFound("no such stream: reserve one with PUT first")
        return reservation


reservations_of = per_herald(Reservations)


async def handle(
    request: Request, herald: Herald, schema: BaseSchema, token: str | None, accepts_stream: bool
) -> Response:
    reservations = reservations_of(herald)
    if request.method == "PUT":
        principal = await blocking(Context(herald=herald, request=request).principal)
        return PlainTextResponse(reservations.make(principal).token, status_code=201)
    reservation = reservations.of(token)
    if request.method == "GET" and accepts_stream:
        return opened(herald, reservations, reservation)
    if request.method == "POST":
        return await start(request, herald, schema, reservation)
    if request.method == "DELETE":
        task = reservation.operations.pop(request.query_params.get("operationId", ""), None)
        if task is not None:
            task.cancel()
        return Response(status_code=200)
    raise ValidationFailed.at("method", "send GET, POST, PUT or DELETE as graphql-sse does")


def opened(herald: Herald, reservations: Reservations, reservation: Reservation) -> Response:
    """The reserved stream; the token is enough (a browser's EventSource sends no header),
    since every operation on it is authenticated when it is started."""
    if reservation.opened:
        raise Taken("this stream is open already")
    reservation.opened = True

    async def events() -> AsyncIterator[str]:
        try:
            while True:
                yield await reservation.queue.get()
        finally:
            reservations.end(reservation)

    return event_stream(herald, events())


async def start(
    request: Request, herald: Herald, schema: BaseSchema, reservation: Reservation
) -> Response:
    context = Context(herald=herald, request=request)
    principal = await blocking(context.principal)
    if principal.key_digest != reservation.digest:
        raise Forbidden("this stream was reserved with another API key")
    params = await Params.of(request)
    operation_id = (params.extensions or {}).get("operationId")
    if not isinstance(operation_id, str) or not 0 < len(operation_id) <= _OPERATION_ID:
        raise ValidationFailed.at(
            "extensions.operationId", f"must be a string of 1 to {_OPERATION_ID} characters"
        )
    if operation_id in reservation.operations:
        raise Taken(f"operation {operation_id!r} is running already")
    limit = herald.settings.max_subscriptions_per_connection
    if len(reservation.operations) >= limit:
        raise LimitExceeded(f"at most {limit} operations at once on one stream")
    reservation.operations[operation_id] = asyncio.get_running_loop().create_task(
        run(reservation, operation_id, results(schema, context, params, allowed(request)))
    )
    return Response(status_code=202)


async def run(
    reservation: Reservation, operation_id: str, answers: AsyncGenerator[dict[str, object], None]
) -> None:
    try:
        async with aclosing(answers):  # a cancelled operation ends its subscription at once
            async for answer in answers:
                payload = {"id": operation_id, "payload": answer}
                await reservation.queue.put(event("next", payload))
        await reservation.queue.put(event("complete", {"id": operation_id}))
    finally:
        if reservation.operations.get(operation_id) is asyncio.current_task():
            del reservation.operations[operation_id]
