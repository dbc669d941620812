"""node(id:) and nodes(ids:): any object by its id, null where the caller's workspace has none
(another workspace's id included, so an id tells nothing about other workspaces)."""

from __future__ import annotations

from strawberry.types import Info

from app.errors import ValidationFailed

from .context import context_of
from .node import Node
from .paging import MAX_MESSAGES
from .types import message_of

MAX_NODES = MAX_MESSAGES


async def node(info: Info, id: str) -> Node | None:
    ctx = context_of(info)
    msg = await ctx.read_row(ctx.herald.views.message, ctx.principal().workspace, id)
    return None if msg is None else message_of(msg)


async def nodes(info: Info, ids: list[str]) -> list[Node | None]:
    if len(ids) > MAX_NODES:
        raise ValidationFailed.at("ids", f"at most {MAX_NODES} ids at once")
    ctx = context_of(info)
    workspace, unique = ctx.principal().workspace, list(dict.fromkeys(ids))
    views = ctx.herald.views
    # As many rows as a page: read off the event loop, as pages are.
    read = await ctx.read(lambda: [views.message(workspace, each) for each in unique])
    found = {
        each: None if msg is None else message_of(msg)
        for each, msg in zip(unique, read, strict=True)
    }
    return [found[each] for each in ids]
