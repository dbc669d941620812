"""The webhook API's types and inputs, and the conversion of endpoints and deliveries to them."""

from __future__ import annotations

from datetime import UTC, datetime
from enum import Enum

import strawberry

from app.webhooks.endpoints import Endpoint
from app.webhooks.listing import Attempt, Delivery
from app.webhooks.payload import TYPES
from app.webhooks.signing import webhook_id

from .scalars import DateTime
from .types import PageInfo

_TYPES = ", ".join(TYPES.values())


@strawberry.enum(description="Where a delivery stands.")
class WebhookDeliveryStatus(Enum):
    PENDING = strawberry.enum_value(
        "pending", description="Not delivered yet: being sent, waiting for a retry, or paused."
    )
    DELIVERED = strawberry.enum_value("delivered", description="The endpoint answered with 2xx.")
    FAILED = strawberry.enum_value(
        "failed", description="Every attempt of the retry schedule failed: given up."
    )


@strawberry.type(description="An HTTPS endpoint of your workspace that Herald calls with events.")
class WebhookEndpoint:
    id: strawberry.ID = strawberry.field(description="The endpoint's id.")
    url: str = strawberry.field(description="Where events are POSTed.")
    event_types: list[str] | None = strawberry.field(
        description=f"The event types sent; null for every type ({_TYPES})."
    )
    description: str = strawberry.field(description="Your own note about the endpoint.")
    enabled: bool = strawberry.field(
        description=(
            "False once disabled (by you, by a 410 answer, or after failing for days): nothing "
            "is sent, and events recorded meanwhile are not queued for it."
        )
    )
    disabled_at: DateTime | None = strawberry.field(description="When it was disabled.")
    disabled_reason: str | None = strawberry.field(description="Why it was disabled.")
    failing_since: DateTime | None = strawberry.field(
        description="Since when every attempt has failed; null after a success."
    )
    previous_secret_expires_at: DateTime | None = strawberry.field(
        description="Until when the secret replaced by the last rotation still signs too."
    )
    created_at: DateTime = strawberry.field(description="When the endpoint was created.")
    updated_at: DateTime = strawberry.field(description="When it was last changed.")


@strawberry.type(description="An endpoint with its signing secret, shown only this once.")
class WebhookEndpointSecret:
    endpoint: WebhookEndpoint = strawberry.field(description="The endpoint.")
    secret: str = strawberry.field(
        description=(
            "The secret that signs each request (whsec_ + base64), shown only this once: keep "
            "it to verify the webhook-signature header."
        )
    )


@strawberry.type(description="One try at delivering an event.")
class WebhookAttempt:
    attempt: int = strawberry.field(description="1 for the first try, then 2, 3, ...")
    at: DateTime = strawberry.field(description="When it started.")
    http_status: int | None = strawberry.field(
        description="The HTTP status answered; null when there was no answer."
    )
    duration_ms: float = strawberry.field(description="How long it took, in milliseconds.")
    error: str | None = strawberry.field(
        description="What went wrong (e.g. HTTP 500, a timeout); null on success."
    )
    next_retry_at: DateTime | None = strawberry.field(
        description="When the next try is due; null when none follows."
    )


@strawberry.type(description="One event sent, or to be sent, to one endpoint.")
class WebhookDelivery:
    webhook_id: str = strawberry.field(
        description="The webhook-id header: the same for every attempt and replay of the event."
    )
    event_type: str = strawberry.field(description=f"The event's type: one of {_TYPES}.")
    event_cursor: str = strawberry.field(
        description=(
            "The event's position, as the events query gives it: pass it to replayWebhooks "
            "as `after` to send the events after it again."
        )
    )
    message_id: strawberry.ID = strawberry.field(description="The message of the event.")
    version: int = strawberry.field(description="The event's version in its message.")
    status: WebhookDeliveryStatus = strawberry.field(description="Where it stands.")
    replayed: bool = strawberry.field(description="True when queued by replayWebhooks.")
    created_at: DateTime = strawberry.field(description="When it was queued.")
    next_attempt_at: DateTime | None = strawberry.field(
        description="While pending: when it is due (it may be waiting for earlier events)."
    )
    attempts: list[WebhookAttempt] = strawberry.field(description="Each try, oldest first.")


@strawberry.type(description="A delivery and its cursor.")
class WebhookDeliveryEdge:
    cursor: str = strawberry.field(
        description="The delivery's position: pass it as `after` for the older ones."
    )
    node: WebhookDelivery = strawberry.field(description="The delivery.")


@strawberry.type(description="A page of deliveries, newest first.")
class WebhookDeliveryConnection:
    edges: list[WebhookDeliveryEdge] = strawberry.field(description="The deliveries of the page.")
    page_info: PageInfo = strawberry.field(description="Where the page starts and ends.")


@strawberry.type(description="A replay queued: the events in (after, until] are sent again.")
class WebhookReplay:
    endpoint: WebhookEndpoint = strawberry.field(description="The endpoint.")
    after: str = strawberry.field(description="The position the replay starts after.")
    until: str = strawberry.field(
        description="The last position it sends; later events are sent to the endpoint anyway."
    )


@strawberry.input(description="A new endpoint.")
class CreateWebhookEndpointInput:
    url: str = strawberry.field(
        description="An https URL (at most 2,048 characters), called with a POST per event."
    )
    event_types: list[str] | None = strawberry.field(
        default=None, description=f"Which types to send ({_TYPES}); leave it out for all."
    )
    description: str | None = strawberry.field(
        default=None, description="Your own note about it, at most 256 characters."
    )


@strawberry.input(description="Changes to an endpoint; what is left out stays as it is.")
class UpdateWebhookEndpointInput:
    id: strawberry.ID = strawberry.field(description="The endpoint's id.")
    url: str | None = strawberry.field(default=None, description="A new https URL.")
    event_types: list[str] | None = strawberry.field(
        default=strawberry.UNSET,
        description="Which types to send; null for every type, left out for no change.",
    )
    description: str | None = strawberry.field(default=None, description="A new note.")


def moment(seconds: float | None) -> DateTime | None:
    return None if seconds is None else DateTime(datetime.fromtimestamp(seconds, UTC))


def endpoint_of(e: Endpoint) -> WebhookEndpoint:
    return WebhookEndpoint(
        id=strawberry.ID(e.id),
        url=e.url,
        event_types=None if e.event_types is None else list(e.event_types),
        description=e.description,
        enabled=e.disabled_at is None,
        disabled_at=moment(e.disabled_at),
        disabled_reason=e.disabled_reason,
        failing_since=moment(e.failing_since),
        previous_secret_expires_at=moment(e.previous_until),
        created_at=DateTime(datetime.fromtimestamp(e.created_at, UTC)),
        updated_at=DateTime(datetime.fromtimestamp(e.updated_at, UTC)),
    )


def delivery_of(d: Delivery) -> WebhookDelivery:
    return WebhookDelivery(
        webhook_id=webhook_id(d.message_id, d.version),
        event_type=d.event_type,
        event_cursor=str(d.notification_id),
        message_id=strawberry.ID(str(d.message_id)),
        version=d.version,
        status=WebhookDeliveryStatus(d.status),
        replayed=d.replayed,
        created_at=DateTime(datetime.fromtimestamp(d.created_at, UTC)),
        next_attempt_at=moment(d.next_at),
        attempts=[attempt_of(a) for a in d.attempts],
    )


def attempt_of(a: Attempt) -> WebhookAttempt:
    return WebhookAttempt(
        attempt=a.attempt,
        at=DateTime(datetime.fromtimestamp(a.at, UTC)),
        http_status=a.http_status,
        duration_ms=a.duration_ms,
        error=a.error,
        next_retry_at=moment(a.next_at),
    )
