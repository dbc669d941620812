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
    msg = await ctx.read(ctx.herald.views.message, ctx.principal().workspace, id)
    return None if msg is None else message_of(msg)


async def nodes(info: Info, ids: list[str]) -> list[Node | None]:
    if len(ids) > MAX_NODES:
        raise ValidationFailed.at("ids", f"at most {MAX_NODES} ids at once")
    found: dict[str, Node | None] = {}
    for each in ids:
        if each not in found:
            found[each] = await node(info, each)
    return [found[each] for each in ids]
