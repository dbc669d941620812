"""A fast webhook receiver for the benchmark: answers every POST with 204 at once and notes when
each arrived beside the event's own time (data.occurredAt); GET /stats answers what it noted.
Raw asyncio on uvloop, so the receiver is not what limits the dispatcher."""

from __future__ import annotations

import json
import re
import sys
import time
from datetime import datetime

from bench import null_server

_NO_CONTENT = b"HTTP/1.1 204 No Content\r\ncontent-length: 0\r\n\r\n"
_OCCURRED = re.compile(rb'"occurredAt":"([^"]+)"')
_WEBHOOK_ID = re.compile(rb"(?im)^webhook-id:\s*(\S+)")
# (arrival, the event's time), both seconds since the epoch, and the webhook-id.
NOTED: list[tuple[float, float, str]] = []


class Receiver(null_server.Responder):
    def answer(self, head: bytes, body: bytes) -> bytes:
        if head.startswith(b"GET /stats"):
            return _json({"noted": NOTED})
        found = _OCCURRED.search(body)
        if found is not None:
            occurred = datetime.fromisoformat(found.group(1).decode().replace("Z", "+00:00"))
            webhook_id = _WEBHOOK_ID.search(head)
            NOTED.append(
                (
                    time.time(),
                    occurred.timestamp(),
                    webhook_id.group(1).decode() if webhook_id else "",
                )
            )
        return _NO_CONTENT


def _json(value: object) -> bytes:
    body = json.dumps(value).encode()
    head = f"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {len(body)}"
    return head.encode() + b"\r\n\r\n" + body


def main(argv: list[str] | None = None) -> int:
    return null_server.main(argv, Receiver, "webhook_receiver")


if __name__ == "__main__":
    sys.exit(main())
