"""A fast webhook receiver for the benchmark: answers every POST with 204 at once and notes when
each arrived beside the event's own time (data.occurredAt); GET /stats answers what it noted.
Raw asyncio on uvloop, so the receiver is not what limits the dispatcher."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import re
import sys
import time
from datetime import datetime
from typing import cast

import uvloop

_NO_CONTENT = b"HTTP/1.1 204 No Content\r\ncontent-length: 0\r\n\r\n"
_OCCURRED = re.compile(rb'"occurredAt":"([^"]+)"')
# (arrival, the event's time), both seconds since the epoch, and the webhook-id.
NOTED: list[tuple[float, float, str]] = []


class Receiver(asyncio.Protocol):
    def __init__(self) -> None:
        self.buffer = b""
        self.transport: asyncio.WriteTransport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.WriteTransport, transport)

    def data_received(self, data: bytes) -> None:
        self.buffer += data
        while True:
            end = self.buffer.find(b"\r\n\r\n")
            if end < 0:
                return
            head = self.buffer[:end].split(b"\r\n")
            fields = dict(line.partition(b":")[::2] for line in head[1:])
            fields = {k.strip().lower(): v.strip() for k, v in fields.items()}
            total = end + 4 + int(fields.get(b"content-length", b"0"))
            if len(self.buffer) < total:
                return
            body, self.buffer = self.buffer[end + 4 : total], self.buffer[total:]
            assert self.transport is not None
            if head[0].startswith(b"GET /stats"):
                self.transport.write(_json({"noted": NOTED}))
                continue
            found = _OCCURRED.search(body)
            if found is not None:
                occurred = datetime.fromisoformat(found.group(1).decode().replace("Z", "+00:00"))
                webhook_id = fields.get(b"webhook-id", b"").decode()
                NOTED.append((time.time(), occurred.timestamp(), webhook_id))
            self.transport.write(_NO_CONTENT)


def _json(value: object) -> bytes:
    body = json.dumps(value).encode()
    head = f"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {len(body)}"
    return head.encode() + b"\r\n\r\n" + body


async def serve(host: str, port: int) -> None:
    server = await asyncio.get_running_loop().create_server(Receiver, host, port)
    async with server:
        await server.serve_forever()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="webhook_receiver")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    args = parser.parse_args(argv)
    with contextlib.suppress(KeyboardInterrupt):
        uvloop.run(serve(args.host, args.port))
    return 0


if __name__ == "__main__":
    sys.exit(main())
