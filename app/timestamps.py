"""How Herald writes a time on the wire (GraphQL's DateTime, webhook payloads): ISO-8601 in UTC
with milliseconds and a Z suffix, e.g. 2024-12-03T12:00:00.123Z."""

from __future__ import annotations

from datetime import UTC, datetime


def format_datetime(value: datetime) -> str:
    return value.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
