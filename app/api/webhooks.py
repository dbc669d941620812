"""The webhook API: endpoints of the caller's workspace, their secrets, deliveries and replays.
Thin resolvers over app/webhooks; another workspace's endpoints do not exist here (NOT_FOUND)."""

from __future__ import annotations

from typing import Annotated, Any

import strawberry
from strawberry.types import Info

from app.webhooks.addresses import url_problem
from app.webhooks.listing import page
from app.webhooks.payload import TYPES

from .checks import Checks
from .context import blocking, context_of
from .paging import check_first, parse_cursor
from .types import PageInfo
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


@strawberry.type(description="Webhook queries.")
class WebhookQueries:
    @strawberry.field(description="Your workspace's webhook endpoints, oldest first (at most 20).")
    async def webhook_endpoints(self, info: Info) -> list[WebhookEndpoint]:
        ctx = context_of(info)
        found = await blocking(
            ctx.herald.webhooks.endpoints.of_workspace, ctx.principal().workspace
        )
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
        ctx = context_of(info)
        size = 20 if first is None else first
        check_first(size, MAX_DELIVERIES, "first")
        before = parse_cursor(after, "after") if after is not None else None
        webhooks = ctx.herald.webhooks
        endpoint = await blocking(webhooks.endpoints.get, ctx.principal().workspace, endpoint_id)
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
            page_info=PageInfo(
                has_next_page=found.has_next,
                has_previous_page=after is not None,
                start_cursor=edges[0].cursor if edges else None,
                end_cursor=edges[-1].cursor if edges else None,
            ),
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
        ctx = context_of(info)
        webhooks = ctx.herald.webhooks
        endpoint, secret = await blocking(
            webhooks.endpoints.create,
            ctx.principal().workspace,
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
        ctx = context_of(info)
        endpoints = ctx.herald.webhooks.endpoints
        workspace = ctx.principal().workspace
        return endpoint_of(await blocking(endpoints.update, workspace, input.id, **changes))

    @strawberry.mutation(
        description=(
            "A new signing secret, shown only this once. The one it replaces keeps signing "
            "beside it for a while (previousSecretExpiresAt), so receivers can switch over."
        )
    )
    async def rotate_webhook_secret(self, info: Info, id: EndpointId) -> WebhookEndpointSecret:
        ctx = context_of(info)
        webhooks = ctx.herald.webhooks
        endpoint, secret = await blocking(
            webhooks.endpoints.rotate,
            ctx.principal().workspace,
            id,
            webhooks.settings.secret_overlap,
        )
        return WebhookEndpointSecret(endpoint=endpoint_of(endpoint), secret=secret)

    @strawberry.mutation(
        description="Stop sending to an endpoint; what is queued waits until it is enabled."
    )
    async def disable_webhook_endpoint(self, info: Info, id: EndpointId) -> WebhookEndpoint:
        ctx = context_of(info)
        p = ctx.principal()
        endpoints = ctx.herald.webhooks.endpoints
        why = f"disabled by {p.actor(None)}"
        return endpoint_of(await blocking(endpoints.disable, p.workspace, id, why))

    @strawberry.mutation(
        description=(
            "Send to an endpoint again: what was queued goes out, then the events recorded from "
            "now on. replayWebhooks sends those recorded while it was disabled."
        )
    )
    async def enable_webhook_endpoint(self, info: Info, id: EndpointId) -> WebhookEndpoint:
        ctx = context_of(info)
        webhooks = ctx.herald.webhooks
        workspace = ctx.principal().workspace
        endpoint = await blocking(webhooks.endpoints.enable, workspace, id, webhooks.start_within)
        webhooks.wake()  # what waited for it may go now
        return endpoint_of(endpoint)

    @strawberry.mutation(
        description="Delete an endpoint, its secrets and its deliveries; returns its id."
    )
    async def delete_webhook_endpoint(self, info: Info, id: EndpointId) -> strawberry.ID:
        ctx = context_of(info)
        webhooks = ctx.herald.webhooks
        await blocking(webhooks.endpoints.delete, ctx.principal().workspace, id)
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
        ctx = context_of(info)
        webhooks = ctx.herald.webhooks
        endpoint, until = await blocking(
            webhooks.replay, ctx.principal().workspace, endpoint_id, position
        )
        webhooks.wake()
        return WebhookReplay(
            endpoint=endpoint_of(endpoint), after=str(min(position, until)), until=str(until)
        )
