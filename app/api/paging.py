"""Page sizes and cursors. A cursor is a position (a version or notification id), never an
offset, so it stays valid however much is written after it."""

from __future__ import annotations

from app.errors import ValidationFailed

MAX_MESSAGES = 100
MAX_EVENTS = 500
MAX_HISTORY = 100


def check_first(first: int, cap: int, path: str) -> None:
    if first < 0 or first > cap:
        raise ValidationFailed.at(path, f"must be between 0 and {cap}")


def parse_cursor(after: str | None, path: str) -> int:
    if after is None:
        return 0
    if not (after.isascii() and after.isdigit()) or len(after) > 18:
        raise ValidationFailed.at(path, "is not a cursor this API gave out")
    return int(after)
