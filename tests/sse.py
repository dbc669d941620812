"""A GraphQL-over-SSE client's side, for tests that read the live server's event streams."""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import httpx

WAIT = 15.0


class Stream:
    """The events of one text/event-stream response: (event, data) pairs, comments skipped."""

    def __init__(self, response: httpx.Response) -> None:
        self.response = response
        self.lines = response.iter_lines()

    def next(self) -> tuple[str, Any]:
        kind, data = "", ""
        for line in self.lines:
            if line == "":
                if kind:
                    return kind, json.loads(data) if data else None
                continue
            if line.startswith(":"):
                continue
            field, _, value = line.partition(":")
            value = value.removeprefix(" ")
            if field == "event":
                kind = value
            elif field == "data":
                data += value
        raise EOFError("the stream ended")

    def result(self) -> dict[str, Any]:
        """The next `next` event's execution result (distinct connections mode)."""
        kind, data = self.next()
        assert kind == "next", (kind, data)
        result: dict[str, Any] = data
        return result

    def completed(self) -> None:
        assert self.next() == ("complete", None)


@contextmanager
def streamed(
    client: httpx.Client, url: str, headers: dict[str, str], **operation: Any
) -> Iterator[Stream]:
    """POST one operation asking for an event stream (graphql-sse's distinct connections)."""
    with client.stream(
        "POST",
        url,
        json=operation,
        headers={"Accept": "text/event-stream", **headers},
        timeout=httpx.Timeout(WAIT),
    ) as response:
        assert response.status_code == 200, response.read()
        assert response.headers["content-type"].startswith("text/event-stream")
        yield Stream(response)
