"""The contract's scalars: DateTime as ISO-8601 UTC with a Z suffix, and any JSON value."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, NewType

import strawberry
from graphql import ValueNode, value_from_ast_untyped
from strawberry.types.scalar import ScalarDefinition

from app.timestamps import format_datetime


def _parse_datetime(value: object) -> datetime:
    if not isinstance(value, str):
        raise ValueError("DateTime must be an ISO-8601 string")
    parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    if parsed.tzinfo is None:
        raise ValueError("DateTime must carry a time zone")
    return parsed.astimezone(UTC)


def _parse_json_literal(node: ValueNode, variables: dict[str, Any] | None = None) -> object:
    return value_from_ast_untyped(node, variables)


DateTime = NewType("DateTime", datetime)
JSON = NewType("JSON", object)

SCALARS: dict[object, ScalarDefinition] = {
    DateTime: strawberry.scalar(
        name="DateTime",
        description=(
            "An ISO-8601 date-time in UTC with a Z suffix, e.g. 2024-12-03T12:00:00.123Z."
        ),
        serialize=format_datetime,
        parse_value=_parse_datetime,
    ),
    JSON: strawberry.scalar(
        name="JSON",
        description="Any JSON value.",
        serialize=lambda value: value,
        parse_value=lambda value: value,
        parse_literal=_parse_json_literal,
    ),
}


def when(value: datetime | None) -> DateTime | None:
    return None if value is None else DateTime(value)


def json_value(value: object) -> JSON | None:
    return None if value is None else JSON(value)
