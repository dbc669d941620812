"""Guards around strawberry's protocol handlers and parser cache, for input they do not expect
(a WebSocket message that is JSON but not an object, a subscription that does not parse), and
around a WebSocket's operations, each of which must show a live key within its rate."""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Iterator
from typing import Any, ClassVar

from graphql import GraphQLError
from strawberry.extensions import ParserCache, SchemaExtension
from strawberry.subscriptions.protocols.graphql_transport_ws.handlers import (
    BaseGraphQLTransportWSHandler,
)
from strawberry.subscriptions.protocols.graphql_ws.handlers import BaseGraphQLWSHandler

from .context import Context

_FAILURES = 1_000  # documents that failed to parse, remembered


def _well_formed(message: Any, *, needs_id: bool) -> bool:
    if not isinstance(message, dict) or not isinstance(message.get("type"), str):
        return False
    payload = message.get("payload")
    if message["type"] in ("subscribe", "start") and not isinstance(payload, dict):
        return False
    return not (needs_id and message["type"] in ("start", "stop") and "id" not in message)


class TransportWSHandler(BaseGraphQLTransportWSHandler[Context, None]):
    async def handle_message(self, message: Any) -> None:
        if not _well_formed(message, needs_id=False):
            await self.handle_invalid_message("Failed to parse message")
            return
        await super().handle_message(message)


class LegacyWSHandler(BaseGraphQLWSHandler[Context, None]):
    async def handle_message(self, message: Any) -> None:
        if _well_formed(message, needs_id=True):  # graphql-ws ignores what it cannot read
            await super().handle_message(message)


class SafeParserCache(ParserCache):
    """A syntax error falls through to strawberry's own parse, which reports it as an error;
    raised from the cache it would escape subscriptions unanswered. A document that failed is
    remembered, so that sent again it is parsed once, not twice (a document past the token
    limit costs a lexing of the whole limit each time)."""

    # Hashes, not documents (each may be a MiB): a collision only costs a document its cache,
    # since strawberry's own parse still reads it.
    _failed: ClassVar[OrderedDict[int, None]] = OrderedDict()

    def on_parse(self) -> Iterator[None]:
        context = self.execution_context
        query = hash(context.query)
        if query not in self._failed:
            try:
                context.graphql_document = self.cached_parse_document(
                    context.query, **context.parse_options
                )
            except GraphQLError:
                # strawberry parses it again itself and answers with the error.
                self._failed[query] = None
                if len(self._failed) > _FAILURES:
                    self._failed.popitem(last=False)
        yield


class EachOperationAuthenticated(SchemaExtension):
    """A WebSocket's context serves all its operations; each must show a live key anyway."""

    def on_operation(self) -> Iterator[None]:
        context = self.execution_context.context
        if isinstance(context, Context):
            context.renew()
        yield
