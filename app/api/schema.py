"""Query, Mutation and Subscription: thin resolvers, one store or view call each."""

from __future__ import annotations

from collections.abc import AsyncGenerator, Iterable
from functools import cache
from typing import Annotated, Any

import strawberry
from graphql import GraphQLError
from strawberry.extensions import DisableIntrospection, MaxTokensLimiter, ValidationCache
from strawberry.schema.config import StrawberryConfig
from strawberry.schema.schema import DEFAULT_ALLOWED_OPERATION_TYPES
from strawberry.types import ExecutionResult, Info
from strawberry.types.base import get_object_definition
from strawberry.types.graphql import OperationType

from app.errors import NotFound
from app.lifecycle import Status

from . import relay
from .admission import Admission
from .checks import check_filter
from .context import blocking, context_of
from .errors import HeraldErrors
from .events import EVENT_TYPES, MessageEvent, MessageEventConnection, event_connection, event_of
from .guards import EachOperationAuthenticated, SafeParserCache
from .limits import OperationLimits, OperationRules
from .live import at, message_events
from .measure import Measured
from .mutations import Mutation
from .node import Node
from .paging import MAX_EVENTS, MAX_MESSAGES, check_first, page_info, parse_cursor
from .persisted import TrustedDocuments
from .scalars import SCALARS
from .types import MessageStatus, MessageType, PageInfo, message_of
from .webhooks import WebhookMutations, WebhookQueries

_CONVERSATION_FILTER = "Only messages of this conversation; leave it out for all of them."
_ERRORS = (
    "Errors carry extensions.code: UNAUTHENTICATED (no or unknown API key), FORBIDDEN (the "
    "request names another workspace), VALIDATION_FAILED (bad input; extensions.details maps a "
    "JSON path to messages) and LIMIT_EXCEEDED (the operation is too deep, too large or has too "
    "many aliases, or its cost is over the budget; extensions.cost of every answer tells the "
    "cost)."
)


@strawberry.type(description="One message and the cursor just after it.")
class MessageEdge:
    cursor: str = strawberry.field(
        description=(
            "The message's position. Pass it as `after` to get the messages after this one (the "
            "older ones); it stays valid forever."
        )
    )
    node: MessageType = strawberry.field(description="The message.")


@strawberry.type(description="A page of messages.")
class MessageConnection:
    edges: list[MessageEdge] = strawberry.field(
        description="The messages of this page, each with its cursor, newest first."
    )
    page_info: PageInfo = strawberry.field(
        description="Where this page starts and ends, and whether more messages follow."
    )


@strawberry.type(
    description=(
        "What can be read. Each query sees only the caller's workspace, and sees every mutation "
        f"that has already answered. {_ERRORS}"
    )
)
class Query:
    @strawberry.field(description="Null when there is no such message in the caller's workspace.")
    async def message(
        self,
        info: Info,
        id: Annotated[strawberry.ID, strawberry.argument(description="The message's id.")],
    ) -> MessageType | None:
        ctx = context_of(info)
        msg = await ctx.read_row(ctx.herald.views.message, ctx.principal().workspace, str(id))
        return None if msg is None else message_of(msg)

    @strawberry.field(
        description=(
            "Any object by its id (Relay's global object identification): null when the "
            "caller's workspace has no object of that id."
        )
    )
    async def node(
        self,
        info: Info,
        id: Annotated[strawberry.ID, strawberry.argument(description="The object's id.")],
    ) -> Node | None:
        return await relay.node(info, str(id))

    @strawberry.field(
        description=(
            f"Objects by their ids, in the order given, null where there is none; at most "
            f"{relay.MAX_NODES} ids (more fail with VALIDATION_FAILED)."
        )
    )
    async def nodes(
        self,
        info: Info,
        ids: Annotated[list[strawberry.ID], strawberry.argument(description="The objects' ids.")],
    ) -> list[Node | None]:
        return await relay.nodes(info, [str(each) for each in ids])

    @strawberry.field(
        description=(
            "The message as it stood right after its event number `version` (time travel). "
            "Null when there is no such message or version."
        )
    )
    async def message_at(
        self,
        info: Info,
        id: Annotated[strawberry.ID, strawberry.argument(description="The message's id.")],
        version: Annotated[
            int,
            strawberry.argument(
                description=(
                    "Which event to stop after: 1 is the draft as first recorded, "
                    "Message.version is now."
                )
            ),
        ],
    ) -> MessageType | None:
        ctx = context_of(info)
        p = ctx.principal()
        if version < 1:
            return None
        try:
            msg = await blocking(ctx.herald.store.load, p, str(id), version)
        except NotFound:
            return None
        return message_of(msg) if msg.version == version else None

    @strawberry.field(
        description="Messages of the caller's workspace, newest first; at most 100 a page."
    )
    async def messages(
        self,
        info: Info,
        conversation_id: Annotated[
            strawberry.ID | None, strawberry.argument(description=_CONVERSATION_FILTER)
        ] = None,
        status: Annotated[
            list[MessageStatus] | None,  # type: ignore[valid-type]
            strawberry.argument(
                description=(
                    "Only messages whose status is one of these; null or an empty list means "
                    "any status."
                )
            ),
        ] = None,
        first: Annotated[
            int | None,
            strawberry.argument(
                description=(
                    "How many messages to return: 0 to 100 (default 50); anything else fails "
                    "with VALIDATION_FAILED."
                )
            ),
        ] = 50,
        after: Annotated[
            str | None,
            strawberry.argument(
                description=(
                    "A cursor this API gave out (a position, e.g. the previous page's endCursor): "
                    "only messages older than it are returned. Leave it out to start with the "
                    "newest; anything that is not such a cursor fails with VALIDATION_FAILED."
                )
            ),
        ] = None,
    ) -> MessageConnection:
        ctx = context_of(info)
        size = 50 if first is None else first
        check_first(size, MAX_MESSAGES, "first")
        check_filter("conversationId", conversation_id)
        before = parse_cursor(after, "after") if after is not None else None
        statuses = None if status is None else sorted({Status(s).value for s in status})
        page = await ctx.read(
            ctx.herald.views.messages,
            ctx.principal().workspace,
            None if conversation_id is None else str(conversation_id),
            statuses,
            size,
            before,
        )
        edges = [MessageEdge(cursor=str(pos), node=message_of(m)) for pos, m in page.items]
        return MessageConnection(
            edges=edges,
            page_info=page_info([e.cursor for e in edges], page.has_next, after is not None),
        )

    @strawberry.field(
        description=(
            "Every event of the caller's workspace in the order it was recorded; at most 500 a "
            "page. A cursor stays valid forever."
        )
    )
    async def events(
        self,
        info: Info,
        conversation_id: Annotated[
            strawberry.ID | None,
            strawberry.argument(
                description="Only events of this conversation; leave it out for all of them."
            ),
        ] = None,
        first: Annotated[
            int | None,
            strawberry.argument(
                description=(
                    "How many events to return: 0 to 500 (default 100); anything else fails "
                    "with VALIDATION_FAILED."
                )
            ),
        ] = 100,
        after: Annotated[
            str | None,
            strawberry.argument(
                description=(
                    "A cursor this API gave out (a position, e.g. the previous page's endCursor): "
                    "only events recorded after it are returned. Leave it out to start at the "
                    "first event; anything that is not such a cursor fails with VALIDATION_FAILED."
                )
            ),
        ] = None,
    ) -> MessageEventConnection:
        ctx = context_of(info)
        size = 100 if first is None else first
        check_first(size, MAX_EVENTS, "first")
        check_filter("conversationId", conversation_id)
        position = parse_cursor(after, "after")
        page = await ctx.read(
            ctx.herald.views.events,
            ctx.principal().workspace,
            None if conversation_id is None else str(conversation_id),
            None,
            size,
            position,
        )
        items = [(pos, at(event_of(e, conv), pos)) for pos, (conv, e) in page.items]
        return event_connection(items, page.has_next, position)


@strawberry.type(
    description=(
        "Live events over WebSocket (graphql-transport-ws or graphql-ws) or Server-Sent Events "
        "(graphql-sse, at /graphql/stream), authenticated like HTTP requests, in the connection "
        "parameters or the request's headers. A subscriber gets every event recorded after it "
        "subscribes (or after the cursor it gives), each once and in recorded order."
    )
)
class Subscription:
    @strawberry.subscription(
        description=(
            "Each new event of the caller's workspace, optionally only of one conversation or "
            "one message."
        )
    )
    async def message_events(
        self,
        info: Info,
        conversation_id: Annotated[
            strawberry.ID | None,
            strawberry.argument(
                description="Only events of this conversation; leave it out for all of them."
            ),
        ] = None,
        message_id: Annotated[
            strawberry.ID | None,
            strawberry.argument(
                description=(
                    "Only events of this message; leave it out for all of them. An id that names "
                    "no message of your workspace matches nothing."
                )
            ),
        ] = None,
        after: Annotated[
            str | None,
            strawberry.argument(
                description=(
                    "A cursor (an event's `cursor`, or an events page's endCursor): first every "
                    "event recorded after it, then the new ones, with no gap and none twice. "
                    "Leave it out to start with the events recorded from now on."
                )
            ),
        ] = None,
    ) -> AsyncGenerator[MessageEvent, None]:
        check_filter("conversationId", conversation_id)
        check_filter("messageId", message_id)
        async for event in message_events(
            info,
            None if conversation_id is None else str(conversation_id),
            None if message_id is None else str(message_id),
            after,
        ):
            yield event


@strawberry.type(name="Query", description=get_object_definition(Query, strict=True).description)
class Queries(Query, WebhookQueries):
    """The messages' queries above, then the webhooks' (app/api/webhooks.py)."""


@strawberry.type(
    name="Mutation", description=get_object_definition(Mutation, strict=True).description
)
class Mutations(Mutation, WebhookMutations):
    """The messages' commands (app/api/mutations.py), then the webhooks'."""


class HeraldSchema(strawberry.Schema):
    async def execute(
        self,
        query: str | None,
        variable_values: dict[str, Any] | None = None,
        context_value: Any | None = None,
        root_value: Any | None = None,
        operation_name: str | None = None,
        allowed_operation_types: Iterable[OperationType] | None = None,
        operation_extensions: dict[str, Any] | None = None,
    ) -> ExecutionResult:
        """`execute` answers once, so it never runs a subscription, which streams: strawberry
        lets one through from an HTTP POST, where it would fail as an unexpected error."""
        allowed = set(allowed_operation_types or DEFAULT_ALLOWED_OPERATION_TYPES)
        return await super().execute(
            query,
            variable_values,
            context_value,
            root_value,
            operation_name,
            allowed - {OperationType.SUBSCRIPTION},
            operation_extensions,
        )

    def process_errors(self, errors: list[GraphQLError], execution_context: Any = None) -> None:
        """Typed errors are the client's business; HeraldErrors already logged the unexpected."""


_LIMITS = OperationLimits()


@cache
def build_schema(
    *, introspection: bool = True, tracer_provider: Any = None, limits: OperationLimits = _LIMITS
) -> strawberry.Schema:
    """Built once (per setting): the parser and validation caches live as long as the schema.
    Without introspection, clients must already know the schema (HERALD_INTROSPECTION=0).
    With a tracer provider (app.telemetry), each operation is a span."""
    closed = [DisableIntrospection] if not introspection else []
    traced = []
    if tracer_provider is not None:
        from app.telemetry import traced_operations

        traced = [traced_operations(tracer_provider)]
    return HeraldSchema(
        query=Queries,
        mutation=Mutations,
        subscription=Subscription,
        types=list(EVENT_TYPES),
        config=StrawberryConfig(scalar_map=SCALARS),
        extensions=[
            Measured,
            *traced,
            lambda: MaxTokensLimiter(max_token_count=limits.max_tokens),
            lambda: SafeParserCache(maxsize=1_000),
            lambda: OperationRules(limits),
            lambda: ValidationCache(maxsize=1_000),
            TrustedDocuments,
            *closed,
            EachOperationAuthenticated,
            Admission,
            HeraldErrors,
        ],
    )
