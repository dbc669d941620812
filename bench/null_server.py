"""A trivial HTTP/1.1 responder, used only to show what the load generator can drive: it answers
every request with the same small JSON body, so the generator (or this loop) is the limit."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import sys
from collections.abc import Callable
from typing import cast

import uvloop

_BODY = b'{"data":{"ok":true}}'
_RESPONSE = (
    b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: "
    + str(len(_BODY)).encode()
    + b"\r\n\r\n"
    + _BODY
)


class Responder(asyncio.Protocol):
    def __init__(self) -> None:
        self.buffer = b""
        self.transport: asyncio.WriteTransport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # uvloop's transports are not asyncio.Transport subclasses, but they write all the same.
        self.transport = cast(asyncio.WriteTransport, transport)

    def data_received(self, data: bytes) -> None:
        self.buffer += data
        while True:
            end = self.buffer.find(b"\r\n\r\n")
            if end < 0:
                return
            length = 0
            for line in self.buffer[:end].split(b"\r\n")[1:]:
                name, _, value = line.partition(b":")
                if name.strip().lower() == b"content-length":
                    length = int(value.strip())
            total = end + 4 + length
            if len(self.buffer) < total:
                return
            head, body = self.buffer[:end], self.buffer[end + 4 : total]
            self.buffer = self.buffer[total:]
            assert self.transport is not None
            self.transport.write(self.answer(head, body))

    def answer(self, head: bytes, body: bytes) -> bytes:
        """The whole response to one request."""
        return _RESPONSE


async def serve(host: str, port: int, protocol: Callable[[], asyncio.Protocol] = Responder) -> None:
    loop = asyncio.get_running_loop()
    server = await loop.create_server(protocol, host, port)
    async with server:
        await server.serve_forever()


def main(
    argv: list[str] | None = None,
    protocol: Callable[[], asyncio.Protocol] = Responder,
    prog: str = "null_server",
) -> int:
    parser = argparse.ArgumentParser(prog=prog)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    args = parser.parse_args(argv)
    with contextlib.suppress(KeyboardInterrupt):
        uvloop.run(serve(args.host, args.port, protocol))
    return 0


if __name__ == "__main__":
    sys.exit(main())
