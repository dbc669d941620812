"""The bounds of a message's content, on every path that sets it: how large and deep a body may
be, how long its text and every string in it, which characters every backend can store, and the
formats the body schema names. Checked before the schema, so the schema only ever sees a body
of bounded size."""

from __future__ import annotations

import json
import math
import re
from collections.abc import Iterable, Iterator
from datetime import datetime
from typing import Any

from jsonschema.exceptions import ValidationError

MAX_DEPTH = 32
MAX_NODES = 10_000
# The one bound on a message's content: its text, its body serialized as compact JSON, and so
# every string in the body, are at most this many characters. The cost of reading a content
# field (app.api.cost) follows from it.
MAX_CONTENT = 65_536
UNSTORABLE = "must not contain NUL or unpaired surrogate characters"

_IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


class BodyError(Exception):
    """An invalid message body; `details` maps JSON paths to human-readable messages."""

    def __init__(self, details: dict[str, list[str]]) -> None:
        super().__init__("; ".join(f"{p}: {', '.join(m)}" for p, m in details.items()))
        self.details = details


def json_path(path: str, parts: Iterable[str | int]) -> str:
    for part in parts:
        if isinstance(part, int):
            path += f"[{part}]"
        else:
            path += f".{part}" if _IDENTIFIER.fullmatch(part) else f"[{json.dumps(part)}]"
    return path


def add_detail(out: dict[str, list[str]], path: str, message: str) -> None:
    messages = out.setdefault(path, [])
    if message not in messages:
        messages.append(message)


def storable(value: str) -> bool:
    """Text every backend can keep: PostgreSQL refuses NUL, and no UTF-8 has a lone surrogate."""
    if "\x00" in value:
        return False
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _check_string(value: str, where: str, out: dict[str, list[str]]) -> None:
    if len(value) > MAX_CONTENT:
        add_detail(out, where, f"must be at most {MAX_CONTENT} characters")
    elif not storable(value):
        add_detail(out, where, UNSTORABLE)


def check_bounds(body: object, path: str) -> None:
    """Bounds first (values, depth, strings), so that the schema is only ever checked against
    a body of bounded size. Iterative on purpose: a hostile body must not be able to exhaust the
    Python stack either."""
    stack: list[tuple[object, int, str]] = [(body, 1, path)]
    nodes = 0
    details: dict[str, list[str]] = {}
    while stack:
        node, depth, where = stack.pop()
        nodes += 1
        if nodes > MAX_NODES:
            raise BodyError({path: [f"must not contain more than {MAX_NODES} values"]})
        if isinstance(node, float) and not math.isfinite(node):
            raise BodyError({path: ["numbers must be finite (NaN and Infinity are not JSON)"]})
        if isinstance(node, str):
            _check_string(node, where, details)
        elif isinstance(node, dict | list):
            if depth > MAX_DEPTH:
                raise BodyError({path: [f"must not be nested more than {MAX_DEPTH} levels deep"]})
            if isinstance(node, list):
                stack.extend((child, depth + 1, f"{where}[{i}]") for i, child in enumerate(node))
                continue
            for key, child in node.items():
                if isinstance(key, str) and not storable(key):
                    add_detail(details, where, f"keys {UNSTORABLE}")
                stack.append((child, depth + 1, json_path(where, [str(key)])))
    if details:
        raise BodyError(details)
    if len(json.dumps(body, ensure_ascii=False, separators=(",", ":"))) > MAX_CONTENT:
        raise BodyError({path: [f"must serialize to at most {MAX_CONTENT} characters of JSON"]})


_INT_RANGES = {
    "int32": (-(2**31), 2**31 - 1),
    "int64": (-(2**63), 2**63 - 1),
    "uint32": (0, 2**32 - 1),
}
_DATE_TIME = re.compile(r"\d{4}-\d{2}-\d{2}[Tt]\d{2}:\d{2}:\d{2}(\.\d+)?([Zz]|[+-]\d{2}:\d{2})")


def check_format(
    validator: Any, kind: str, instance: Any, schema: Any
) -> Iterator[ValidationError]:
    """The schema's formats, enforced: the integer ranges its generator meant, and RFC 3339."""
    if kind in _INT_RANGES and validator.is_type(instance, "integer"):
        low, high = _INT_RANGES[kind]
        if not low <= instance <= high:
            yield ValidationError(f"must be an integer from {low} to {high} ({kind})")
    elif kind == "date-time" and isinstance(instance, str) and not _is_date_time(instance):
        yield ValidationError("must be an RFC 3339 date-time, e.g. 2024-12-03T12:00:00Z")


def _is_date_time(value: str) -> bool:
    if not _DATE_TIME.fullmatch(value):
        return False
    try:
        datetime.fromisoformat(value.upper().replace("Z", "+00:00"))
    except ValueError:
        return False
    return True
