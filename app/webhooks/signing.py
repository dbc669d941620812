"""Standard Webhooks signing: secrets `whsec_` + base64, a webhook-id stable across retries, and
`v1,` + base64(HMAC-SHA256(secret, "id.timestamp.body")), one per secret that signs."""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
from uuid import UUID, uuid5

PREFIX = "whsec_"
_SECRET_BYTES = 24
_IDS = UUID("0c6b7cf2-5a8e-4bd0-9b5f-3f1d2b8d6e41")


def new_secret() -> str:
    return PREFIX + base64.b64encode(os.urandom(_SECRET_BYTES)).decode()


def webhook_id(message_id: UUID, version: int) -> str:
    """The same for every attempt and replay of one event, so receivers can deduplicate; it
    says nothing of the log's positions, which span every workspace."""
    return f"msg_{uuid5(_IDS, f'{message_id}/{version}').hex}"


def signature(secret: str, msg_id: str, timestamp: int, body: bytes) -> str:
    key = base64.b64decode(secret.removeprefix(PREFIX))
    signed = f"{msg_id}.{timestamp}.".encode() + body
    return "v1," + base64.b64encode(hmac.new(key, signed, hashlib.sha256).digest()).decode()


def headers(secrets: list[str], msg_id: str, timestamp: int, body: bytes) -> dict[str, str]:
    """The signature with each secret that signs: the current one first, then, during the
    overlap after a rotation, the previous one."""
    return {
        "content-type": "application/json",
        "webhook-id": msg_id,
        "webhook-timestamp": str(timestamp),
        "webhook-signature": " ".join(signature(s, msg_id, timestamp, body) for s in secrets),
    }
