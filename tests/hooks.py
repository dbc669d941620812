"""What the webhook tests share: settings with a short retry schedule, a live server on them,
and the GraphQL documents of the webhook API."""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable
from typing import Any, TypeVar

from app.settings import Settings
from app.webhooks.config import WebhookSettings
from tests.conftest import Api

T = TypeVar("T")

# Retries 0.2 s apart, no jitter, a 1 s time limit: the schedule's shape, shrunk.
FAST = WebhookSettings(
    allow_private=True, schedule=(0, 0.2, 0.2, 0.2, 0.2), jitter=0.0, timeout=1.0, concurrency=4
)

ENDPOINT_FIELDS = """
  id url eventTypes description enabled disabledAt disabledReason failingSince
  previousSecretExpiresAt createdAt updatedAt
"""
CREATE = f"""
mutation($input: CreateWebhookEndpointInput!) {{
  createWebhookEndpoint(input: $input) {{ secret endpoint {{ {ENDPOINT_FIELDS} }} }}
}}
"""
UPDATE = f"""
mutation($input: UpdateWebhookEndpointInput!) {{
  updateWebhookEndpoint(input: $input) {{ {ENDPOINT_FIELDS} }}
}}
"""
ROTATE = f"""
mutation($id: ID!) {{ rotateWebhookSecret(id: $id) {{ secret endpoint {{ {ENDPOINT_FIELDS} }} }} }}
"""
DISABLE = f"mutation($id: ID!) {{ disableWebhookEndpoint(id: $id) {{ {ENDPOINT_FIELDS} }} }}"
ENABLE = f"mutation($id: ID!) {{ enableWebhookEndpoint(id: $id) {{ {ENDPOINT_FIELDS} }} }}"
DELETE = "mutation($id: ID!) { deleteWebhookEndpoint(id: $id) }"
REPLAY = """
mutation($id: ID!, $after: String) {
  replayWebhooks(endpointId: $id, after: $after) { after until endpoint { id } }
}
"""
ENDPOINTS = f"{{ webhookEndpoints {{ {ENDPOINT_FIELDS} }} }}"
DELIVERIES = """
query($id: ID!, $status: WebhookDeliveryStatus, $first: Int, $after: String) {
  webhookDeliveries(endpointId: $id, status: $status, first: $first, after: $after) {
    edges { cursor node {
      webhookId eventType eventCursor messageId version status replayed createdAt nextAttemptAt
      attempts { attempt at httpStatus durationMs error nextRetryAt }
    } }
    pageInfo { hasNextPage endCursor }
  }
}
"""


def hooked(settings: Settings, **changes: Any) -> Settings:
    return dataclasses.replace(settings, webhooks=dataclasses.replace(FAST, **changes))


def create(api: Api, url: str, **fields: Any) -> tuple[str, str]:
    """A new endpoint's id and secret."""
    made = api.ok(CREATE, {"input": {"url": url, **fields}})["createWebhookEndpoint"]
    return str(made["endpoint"]["id"]), str(made["secret"])


def deliveries(api: Api, endpoint_id: str, **variables: Any) -> list[dict[str, Any]]:
    page = api.ok(DELIVERIES, {"id": endpoint_id, "first": 100, **variables})
    return [edge["node"] for edge in page["webhookDeliveries"]["edges"]]


def finished(delivery: dict[str, Any]) -> bool:
    return bool(delivery["status"] != "PENDING")


def attempted(delivery: dict[str, Any]) -> bool:
    return bool(delivery["attempts"])


def settled(
    api: Api,
    endpoint_id: str,
    count: int,
    done: Callable[[dict[str, Any]], bool] = finished,
    timeout: float = 30,
) -> list[dict[str, Any]]:
    """The endpoint's deliveries, newest first, once `count` of them are `done` as the
    dispatcher recorded them."""

    def found() -> list[dict[str, Any]] | None:
        page = deliveries(api, endpoint_id)
        return page if sum(1 for d in page if done(d)) >= count else None

    return eventually(found, f"{count} deliveries done", timeout)


def eventually(check: Callable[[], T | None], what: str, timeout: float = 30) -> T:
    """Wait for another thread or process to make `check` true; the deadline only bounds a
    failure."""
    deadline = time.monotonic() + timeout
    while True:
        result = check()
        if result is not None:
            return result
        assert time.monotonic() < deadline, f"never happened: {what}"
        time.sleep(0.02)
