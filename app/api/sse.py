"""GraphQL over Server-Sent Events at /graphql/stream, as the graphql-sse protocol has it.

Distinct connections mode: a GET or POST that accepts text/event-stream runs one operation
and streams its results as `next` events, then `complete`; every error, refusals included,
arrives as a `next` event on the accepted stream. Single connection mode (sse_single.py): a
PUT reserves a stream, a GET with its token opens it, POSTs with the token start operations
on it, a DELETE stops one. Each operation is authenticated, rate-limited and capped like one
over WebSocket (a stream counts as a connection of its key), and a revoked key ends its
subscriptions the same way."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import aclosing

from starlette.requests import Request
from starlette.responses import Response
from strawberry.schema import BaseSchema

from app.errors import HeraldError
from app.runtime import Herald

from . import sse_single
from .context import Context, blocking
from .quota import quota_of
from .sse_wire import EVENT_STREAM, Params, allowed, event, event_stream, refusal, refused, results


async def distinct(request: Request, herald: Herald, schema: BaseSchema) -> Response:
    """One operation, one stream: refusals come as `next` events, as the protocol asks."""
    try:
        params = await Params.of(request)
    except HeraldError as error:
        return refused(error)
    context = Context(herald=herald, request=request)

    async def events() -> AsyncIterator[str]:
        try:
            principal = await blocking(context.principal)
            answers = results(schema, context, params, allowed(request))
            with quota_of(herald).connections.take(principal):
                async with aclosing(answers):
                    async for answer in answers:
                        yield event("next", answer)
        except HeraldError as error:
            yield event("next", {"errors": [refusal(error)]})
        yield event("complete")

    return event_stream(herald, events())


def endpoint(schema: BaseSchema) -> Callable[[Request], Awaitable[Response]]:
    """The one route, running operations on the schema the HTTP and WebSocket view runs."""

    async def stream(request: Request) -> Response:
        """Which mode and which step, by the request's method, Accept and token."""
        herald: Herald = request.app.state.herald
        token = request.headers.get(sse_single.TOKEN_HEADER) or request.query_params.get("token")
        accepts_stream = EVENT_STREAM in request.headers.get("accept", "")
        if token is None and accepts_stream and request.method in ("GET", "POST"):
            return await distinct(request, herald, schema)
        try:
            return await sse_single.handle(request, herald, schema, token, accepts_stream)
        except HeraldError as error:
            return refused(error)

    return stream
