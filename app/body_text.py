"""A message body's plain text, and edits of it: what the store, the API and the CLI read of a
body in the Bird Conversations API shape, with no validation (app/bodies.py) to load."""

from __future__ import annotations

import copy
from collections.abc import Mapping
from typing import Any

# Body types whose content has an optional free-text `text` field.
_CAPTIONED = frozenset({"text", "html", "image", "gif", "file", "carousel", "list"})


def text_body(text: str) -> dict[str, Any]:
    return {"type": "text", "text": {"text": text}}


def _unpack(body: Mapping[str, Any]) -> tuple[str, Mapping[str, Any]] | None:
    kind = body.get("type")
    content = body.get(kind) if isinstance(kind, str) else None
    return (kind, content) if isinstance(kind, str) and isinstance(content, Mapping) else None


def plain_text(body: Mapping[str, Any]) -> str | None:
    """The body's human-readable text, or None; empty strings count as no text."""
    if (unpacked := _unpack(body)) is None:
        return None
    kind, content = unpacked
    if kind == "section":
        texts = [plain_text(i) for i in content.get("items", []) if isinstance(i, Mapping)]
        return "\n".join(t for t in texts if t) or None
    if kind == "location":
        place = content.get("location")
        parts = [place.get(k) for k in ("label", "address")] if isinstance(place, Mapping) else []
        # A label often repeats the address; saying it twice helps nobody.
        return ", ".join(dict.fromkeys(p for p in parts if isinstance(p, str) and p)) or None
    text = content.get("text") or (content.get("title") if kind == "list" else None)
    return text if isinstance(text, str) and text else None


def replace_text(body: Mapping[str, Any], text: str) -> dict[str, Any]:
    """A copy of `body` whose plain text is `text`; bodies without a text become text bodies."""
    unpacked = _unpack(body)
    if unpacked is None or unpacked[0] == "location":
        return text_body(text)
    kind, content = unpacked
    if kind != "section" and kind not in _CAPTIONED and not isinstance(content.get("text"), str):
        return text_body(text)
    result = copy.deepcopy(dict(body))
    if kind != "section":
        result[kind]["text"] = text
        return result
    # The edit was made to the joined text of the items, so it replaces all of it: the first
    # captioned item takes the new text, later text items go and later captions are dropped.
    # Locations are left alone because their text is the place itself.
    items: list[Any] = []
    placed = False
    for item in result[kind].get("items", []):
        if isinstance(item, dict) and item.get("type") != "location" and plain_text(item):
            if not placed:
                item, placed = replace_text(item, text), True
            elif item["type"] == "text":
                continue
            else:
                captioned = item[item["type"]]
                item[item["type"]] = {
                    k: v for k, v in captioned.items() if k not in ("text", "title")
                }
        items.append(item)
    result[kind]["items"] = items if placed else [*items, text_body(text)]
    return result
