"""Page sizes and cursors. A cursor is a position (a version or notification id), never an
offset, so it stays valid however much is written after it."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from app.errors import ValidationFailed

if TYPE_CHECKING:
    from .types import PageInfo

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


def page_info(cursors: Sequence[str], has_next: bool, has_previous: bool) -> PageInfo:
    """Where a page starts and ends, from its items' cursors in order."""
    from .types import PageInfo  # here: the types import this module, through revisions

    return PageInfo(
        has_next_page=has_next,
        has_previous_page=has_previous,
        start_cursor=cursors[0] if cursors else None,
        end_cursor=cursors[-1] if cursors else None,
    )
