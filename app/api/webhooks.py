"""The webhook API: endpoints of the caller's workspace, their secrets, deliveries and replays.
Thin resolvers over app/webhooks; another workspace's endpoints do not exist here (NOT_FOUND)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Any, TypeVar

import strawberry
from strawberry.types import Info

from app.webhooks.addresses import url_problem
from app.webhooks.listing import page
from app.webhooks.payload import TYPES

from .checks import Checks
from .context import blocking, context_of
from .paging import check_first, page_info, parse_cursor
from .webhook_types import (
    CreateWebhookEndpointInput,
    UpdateWebhookEndpointInput,
    WebhookDeliveryConnection,
    WebhookDeliveryEdge,
    WebhookDeliveryStatus,
    WebhookEndpoint,
    WebhookEndpointSecret,
    WebhookReplay,
    delivery_of,
    endpoint_of,
)

T = TypeVar("T")
MAX_DELIVERIES = 100
_KINDS = frozenset(TYPES.values())
EndpointId = Annotated[strawberry.ID, strawberry.argument(description="The endpoint's id.")]


def _checked(info: Info, url: str | None, types: list[str] | None, description: str | None) -> None:
    c = Checks()
    if url is not None:
        allow_private = context_of(info).herald.settings.webhooks.allow_private
        why = url_problem(url, allow_private=allow_private)
        if why is not None:
            c.add("input.url", why)
    if types is not None:
        if not types:
            c.add("input.eventTypes", "name at least one type, or leave it out for all")
        for i, kind in enumerate(types):
            if kind not in _KINDS:
                c.add(f"input.eventTypes[{i}]", f"is not one of {', '.join(sorted(_KINDS))}")
    c.short("input.description", description)
    c.done()


async def _in_workspace(info: Info, call: Callable[..., T], *args: Any, **kwargs: Any) -> T:
    """`call` on the caller's workspace, off the event loop: an endpoint of another one is
    NOT_FOUND."""
    return await blocking(call, context_of(info).principal().workspace, *args, **kwargs)


@strawberry.type(description="Webhook queries.")
class WebhookQueries:
    @strawberry.field(description="Your workspace's webhook endpoints, oldest first (at most 20).")
    async def webhook_endpoints(self, info: Info) -> list[WebhookEndpoint]:
        found = await _in_workspace(info, context_of(info).herald.webhooks.endpoints.of_workspace)
        return [endpoint_of(e) for e in found]

    @strawberry.field(
        description=(
            "An endpoint's deliveries, newest first, each with its attempts; at most 100 a "
            "page. NOT_FOUND when the endpoint is not one of your workspace's."
        )
    )
    async def webhook_deliveries(
        self,
        info: Info,
        endpoint_id: EndpointId,
        status: Annotated[
            WebhookDeliveryStatus | None,
            strawberry.argument(description="Only deliveries in this state; leave it out for all."),
        ] = None,
        first: Annotated[
            int | None,
            strawberry.argument(description="How many: 0 to 100 (default 20)."),
        ] = 20,
        after: Annotated[
            str | None,
            strawberry.argument(
                description="A delivery's cursor: only older deliveries are returned."
            ),
        ] = None,
    ) -> WebhookDeliveryConnection:
        size = 20 if first is None else first
        check_first(size, MAX_DELIVERIES, "first")
        before = parse_cursor(after, "after") if after is not None else None
        webhooks = context_of(info).herald.webhooks
        endpoint = await _in_workspace(info, webhooks.endpoints.get, endpoint_id)
        found = await blocking(
            page,
            webhooks.store.db,
            endpoint.id,
            None if status is None else status.value,
            size,
            before,
        )
        edges = [WebhookDeliveryEdge(cursor=str(p), node=delivery_of(d)) for p, d in found.items]
        return WebhookDeliveryConnection(
            edges=edges,
            page_info=page_info([e.cursor for e in edges], found.has_next, after is not None),
        )


@strawberry.type(description="Webhook commands.")
class WebhookMutations:
    @strawberry.mutation(
        description=(
            "Create an endpoint: it is called for the events recorded from now on. Returns its "
            "signing secret, shown only this once. VALIDATION_FAILED on a bad URL or type; "
            "LIMIT_EXCEEDED past 20 endpoints."
        )
    )
    async def create_webhook_endpoint(
        self,
        info: Info,
        input: Annotated[
            CreateWebhookEndpointInput, strawberry.argument(description="The new endpoint.")
        ],
    ) -> WebhookEndpointSecret:
        _checked(info, input.url, input.event_types, input.description)
        webhooks = context_of(info).herald.webhooks
        endpoint, secret = await _in_workspace(
            info,
            webhooks.endpoints.create,
            input.url.strip(),
            input.event_types,
            input.description or "",
            webhooks.start_within,
        )
        webhooks.wake()
        return WebhookEndpointSecret(endpoint=endpoint_of(endpoint), secret=secret)

    @strawberry.mutation(description="Change an endpoint's URL, event types or description.")
    async def update_webhook_endpoint(
        self,
        info: Info,
        input: Annotated[
            UpdateWebhookEndpointInput,
            strawberry.argument(description="Which endpoint, and what changes."),
        ],
    ) -> WebhookEndpoint:
        types = None if input.event_types is strawberry.UNSET else input.event_types
        _checked(info, input.url, types, input.description)
        changes: dict[str, Any] = {}
        if input.url is not None:
            changes["url"] = input.url.strip()
        if input.event_types is not strawberry.UNSET:
            changes["event_types"] = input.event_types
        if input.description is not None:
            changes["description"] = input.description
        endpoints = context_of(info).herald.webhooks.endpoints
        return endpoint_of(await _in_workspace(info, endpoints.update, input.id, **changes))

    @strawberry.mutation(
        description=(
            "A new signing secret, shown only this once. The one it replaces keeps signing "
            "beside it for a while (previousSecretExpiresAt), so receivers can switch over."
        )
    )
    async def rotate_webhook_secret(self, info: Info, id: EndpointId) -> WebhookEndpointSecret:
        webhooks = context_of(info).herald.webhooks
        overlap = webhooks.settings.secret_overlap
        endpoint, secret = await _in_workspace(info, webhooks.endpoints.rotate, id, overlap)
        return WebhookEndpointSecret(endpoint=endpoint_of(endpoint), secret=secret)

    @strawberry.mutation(
        description="Stop sending to an endpoint; what is queued waits until it is enabled."
    )
    async def disable_webhook_endpoint(self, info: Info, id: EndpointId) -> WebhookEndpoint:
        ctx = context_of(info)
        why = f"disabled by {ctx.principal().actor(None)}"
        return endpoint_of(
            await _in_workspace(info, ctx.herald.webhooks.endpoints.disable, id, why)
        )

    @strawberry.mutation(
        description=(
            "Send to an endpoint again: what was queued goes out, then the events recorded from "
            "now on. replayWebhooks sends those recorded while it was disabled."
        )
    )
    async def enable_webhook_endpoint(self, info: Info, id: EndpointId) -> WebhookEndpoint:
        webhooks = context_of(info).herald.webhooks
        endpoint = await _in_workspace(info, webhooks.endpoints.enable, id, webhooks.start_within)
        webhooks.wake()  # what waited for it may go now
        return endpoint_of(endpoint)

    @strawberry.mutation(
        description="Delete an endpoint, its secrets and its deliveries; returns its id."
    )
    async def delete_webhook_endpoint(self, info: Info, id: EndpointId) -> strawberry.ID:
        webhooks = context_of(info).herald.webhooks
        await _in_workspace(info, webhooks.endpoints.delete, id)
        webhooks.wake()  # its deliveries are purged a batch at a time
        return id

    @strawberry.mutation(
        description=(
            "Send an endpoint's events again, from a position on (an event's cursor, as the "
            "events query and webhookDeliveries give it), up to those it is sent anyway."
        )
    )
    async def replay_webhooks(
        self,
        info: Info,
        endpoint_id: EndpointId,
        after: Annotated[
            str | None,
            strawberry.argument(
                description="The position to start after; leave it out to start at the first."
            ),
        ] = None,
    ) -> WebhookReplay:
        position = parse_cursor(after, "after")
        webhooks = context_of(info).herald.webhooks
        endpoint, until = await _in_workspace(info, webhooks.replay, endpoint_id, position)
        webhooks.wake()
        return WebhookReplay(
            endpoint=endpoint_of(endpoint), after=str(min(position, until)), until=str(until)
        )
