"""Query, Mutation and Subscription: thin resolvers, one store or view call each."""

from __future__ import annotations

from collections.abc import AsyncGenerator
from functools import cache
from typing import Any

import strawberry
from graphql import GraphQLError
from strawberry.extensions import (
    MaxAliasesLimiter,
    MaxTokensLimiter,
    ParserCache,
    QueryDepthLimiter,
    ValidationCache,
)
from strawberry.schema.config import StrawberryConfig
from strawberry.types import Info

from app.errors import NotFound
from app.lifecycle import Status

from .context import blocking, context_of
from .errors import HeraldErrors
from .events import EVENT_TYPES, MessageEvent, MessageEventConnection, event_connection, event_of
from .live import message_events
from .mutations import Mutation
from .paging import MAX_EVENTS, MAX_MESSAGES, check_first, parse_cursor
from .scalars import SCALARS
from .types import MessageStatus, MessageType, PageInfo, message_of

MAX_DEPTH = 12
MAX_ALIASES = 30
MAX_TOKENS = 4_000


@strawberry.type(description="One message and the cursor just after it.")
class MessageEdge:
    cursor: str
    node: MessageType


@strawberry.type(description="A page of messages.")
class MessageConnection:
    edges: list[MessageEdge]
    page_info: PageInfo


@strawberry.type
class Query:
    @strawberry.field(description="Null when there is no such message in the caller's workspace.")
    async def message(self, info: Info, id: strawberry.ID) -> MessageType | None:
        ctx = context_of(info)
        msg = await blocking(ctx.herald.views.message, ctx.principal().workspace, str(id))
        return None if msg is None else message_of(msg)

    @strawberry.field(
        description=(
            "The message as it stood right after its event number `version` (time travel). "
            "Null when there is no such message or version."
        )
    )
    async def message_at(self, info: Info, id: strawberry.ID, version: int) -> MessageType | None:
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
        conversation_id: strawberry.ID | None = None,
        status: list[MessageStatus] | None = None,  # type: ignore[valid-type]
        first: int | None = 50,
        after: str | None = None,
    ) -> MessageConnection:
        ctx = context_of(info)
        size = 50 if first is None else first
        check_first(size, MAX_MESSAGES, "first")
        before = parse_cursor(after, "after") if after is not None else None
        statuses = None if status is None else [Status(s).value for s in status]
        page = await blocking(
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
            page_info=PageInfo(
                has_next_page=page.has_next,
                has_previous_page=after is not None,
                start_cursor=edges[0].cursor if edges else None,
                end_cursor=edges[-1].cursor if edges else None,
            ),
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
        conversation_id: strawberry.ID | None = None,
        first: int | None = 100,
        after: str | None = None,
    ) -> MessageEventConnection:
        ctx = context_of(info)
        size = 100 if first is None else first
        check_first(size, MAX_EVENTS, "first")
        position = parse_cursor(after, "after")
        page = await blocking(
            ctx.herald.views.events,
            ctx.principal().workspace,
            None if conversation_id is None else str(conversation_id),
            None,
            size,
            position,
        )
        items = [(pos, event_of(e, conv)) for pos, (conv, e) in page.items]
        return event_connection(items, page.has_next, position)


@strawberry.type
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
        conversation_id: strawberry.ID | None = None,
        message_id: strawberry.ID | None = None,
    ) -> AsyncGenerator[MessageEvent, None]:
        async for event in message_events(
            info,
            None if conversation_id is None else str(conversation_id),
            None if message_id is None else str(message_id),
        ):
            yield event


class HeraldSchema(strawberry.Schema):
    def process_errors(self, errors: list[GraphQLError], execution_context: Any = None) -> None:
        """Typed errors are the client's business; HeraldErrors already logged the unexpected."""


@cache
def build_schema() -> strawberry.Schema:
    """Built once: the parser and validation caches live as long as the schema."""
    return HeraldSchema(
        query=Query,
        mutation=Mutation,
        subscription=Subscription,
        types=list(EVENT_TYPES),
        config=StrawberryConfig(scalar_map=SCALARS),
        extensions=[
            lambda: MaxTokensLimiter(max_token_count=MAX_TOKENS),
            lambda: ParserCache(maxsize=1_000),
            lambda: ValidationCache(maxsize=1_000),
            lambda: QueryDepthLimiter(max_depth=MAX_DEPTH),
            lambda: MaxAliasesLimiter(max_alias_count=MAX_ALIASES),
            HeraldErrors,
        ],
    )
