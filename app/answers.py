"""How answers are written: JSON in UTF-8, not \\u escapes (a non-Latin text answers in a third
of the bytes, and far faster), and a large answer off the event loop, one value at a time, so
that the GIL changes hands between values and other requests go on while it is written."""

from __future__ import annotations

import json
import re
from typing import Any

_SURROGATE = re.compile("[\ud800-\udfff]")
LARGE = 200  # points of actual cost (about KiB) from which an answer is written in a thread


def _scalar(value: object) -> str:
    text = json.dumps(value, ensure_ascii=False, separators=(",", ":"))
    if isinstance(value, str) and not value.isascii() and _SURROGATE.search(value):
        return json.dumps(value)  # a lone surrogate, quoted from a request: UTF-8 cannot carry it
    return text


def encode(data: object) -> str:
    """At once, for small answers; lone surrogates (quoted from a request) are escaped."""
    text = json.dumps(data, ensure_ascii=False, separators=(",", ":"))
    if text.isascii() or not _SURROGATE.search(text):
        return text
    return json.dumps(data, separators=(",", ":"))


def encode_in_turns(data: object) -> bytes:
    """The same JSON, built a value at a time: each json.dumps call holds the GIL, so a single
    one over a large answer would stall every other thread and the event loop for its length."""
    parts: list[str] = []
    _write(data, parts)
    return b"".join(part.encode("utf-8") for part in parts)


def _write(value: object, parts: list[str]) -> None:
    if isinstance(value, dict):
        parts.append("{")
        for i, (key, item) in enumerate(value.items()):
            parts.append(("," if i else "") + _scalar(str(key)) + ":")
            _write(item, parts)
        parts.append("}")
    elif isinstance(value, list | tuple):
        parts.append("[")
        for i, item in enumerate(value):
            if i:
                parts.append(",")
            _write(item, parts)
        parts.append("]")
    else:
        parts.append(_scalar(value))


class Written(dict[str, Any]):
    """An answer already written by `encode_in_turns`, carried to where it is sent."""

    def __init__(self, data: dict[str, Any], written: bytes) -> None:
        super().__init__(data)
        self.written = written
