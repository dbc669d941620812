"""Message bodies in the Bird Conversations API shape: validation, plain text and text edits."""

from __future__ import annotations

import copy
import json
import math
import re
from collections.abc import Iterable, Iterator, Mapping
from datetime import datetime
from importlib import resources
from typing import Any

from jsonschema import Draft202012Validator
from jsonschema.exceptions import ValidationError, best_match
from jsonschema.validators import extend

MAX_DEPTH = 32
MAX_NODES = 10_000
# The one bound on a message's content: its text, its body serialized as compact JSON, and so
# every string in the body, are at most this many characters. The cost of reading a content
# field (app.api.cost) follows from it.
MAX_CONTENT = 65_536
UNSTORABLE = "must not contain NUL or unpaired surrogate characters"

_SCHEMA: dict[str, Any] = json.loads(
    resources.files("app").joinpath("bird_body.schema.json").read_text(encoding="utf-8")
)
_DEFS: dict[str, Any] = _SCHEMA["$defs"]
# Body types whose content has an optional free-text `text` field.
_CAPTIONED = frozenset({"text", "html", "image", "gif", "file", "carousel", "list"})
_IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


class BodyError(Exception):
    """An invalid message body; `details` maps JSON paths to human-readable messages."""

    def __init__(self, details: dict[str, list[str]]) -> None:
        super().__init__("; ".join(f"{p}: {', '.join(m)}" for p, m in details.items()))
        self.details = details


def _resolve(schema: Mapping[str, Any]) -> Mapping[str, Any]:
    ref = schema.get("$ref")
    return _resolve(_DEFS[ref.removeprefix("#/$defs/")]) if isinstance(ref, str) else schema


def _tags(branch: Mapping[str, Any]) -> list[str]:
    tag = _resolve(branch).get("properties", {}).get("type", {})
    return list(_resolve(tag).get("enum", []))


BODY_TYPES: tuple[str, ...] = tuple(sorted(t for b in _resolve(_SCHEMA)["oneOf"] for t in _tags(b)))


def _join(path: str, parts: Iterable[str | int]) -> str:
    for part in parts:
        if isinstance(part, int):
            path += f"[{part}]"
        else:
            path += f".{part}" if _IDENTIFIER.fullmatch(part) else f"[{json.dumps(part)}]"
    return path


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
        _add(out, where, f"must be at most {MAX_CONTENT} characters")
    elif not storable(value):
        _add(out, where, UNSTORABLE)


def _check_size(body: object, path: str) -> None:
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
                    _add(details, where, f"keys {UNSTORABLE}")
                stack.append((child, depth + 1, _join(where, [str(key)])))
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


def _format(validator: Any, kind: str, instance: Any, schema: Any) -> Iterator[ValidationError]:
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


_STOCK_ONE_OF = Draft202012Validator.VALIDATORS["oneOf"]


def _tagged_one_of(
    validator: Any, branches: list[Any], instance: Any, schema: Any
) -> Iterator[ValidationError]:
    # Stock oneOf validates every branch, then only says "not valid under any of the given
    # schemas". The `type` tag already names the one branch that matters, so validate just that
    # one: its errors are the useful ones, and skipping the rest keeps the cost linear.
    tags = [_tags(b) for b in branches]
    if len(branches) == 1:
        yield from validator.descend(instance, branches[0], schema_path=0)
    elif not all(tags):
        yield from _STOCK_ONE_OF(validator, branches, instance, schema)
    elif not validator.is_type(instance, "object"):
        yield ValidationError("must be an object")
    elif "type" not in instance:
        yield ValidationError("is required", path=["type"])
    else:
        for index, names in enumerate(tags):
            if instance["type"] in names:
                yield from validator.descend(instance, branches[index], schema_path=index)
                return
        allowed = ", ".join(sorted(name for names in tags for name in names))
        yield ValidationError(f"must be one of: {allowed}", path=["type"])


_VALIDATOR = extend(Draft202012Validator, {"oneOf": _tagged_one_of, "format": _format})(_SCHEMA)


def _collect(errors: Iterable[ValidationError], path: str, out: dict[str, list[str]]) -> None:
    for error in errors:
        where = _join(path, error.absolute_path)
        if error.validator in ("oneOf", "anyOf") and error.context:
            _collect([best_match(error.context)], path, out)
        elif error.validator == "required" and isinstance(error.instance, dict):
            for name in error.validator_value:
                if name not in error.instance:
                    _add(out, _join(where, [name]), "is required")
        elif error.validator == "type":
            kinds = error.validator_value
            kinds = [kinds] if isinstance(kinds, str) else kinds
            _add(out, where, "must be " + " or ".join(map(_a, kinds)))
        elif error.validator == "enum":
            _add(
                out, where, f"must be one of: {', '.join(sorted(map(str, error.validator_value)))}"
            )
        else:
            _add(out, where, error.message)


def _a(kind: str) -> str:
    return kind if kind == "null" else f"an {kind}" if kind[0] in "aeiou" else f"a {kind}"


def _add(out: dict[str, list[str]], path: str, message: str) -> None:
    messages = out.setdefault(path, [])
    if message not in messages:
        messages.append(message)


def validate_body(body: object, path: str = "input.body") -> dict[str, Any]:
    """Return `body` if it is a valid message body, else raise BodyError with per-path details."""
    _check_size(body, path)
    if not isinstance(body, dict):
        raise BodyError({path: ["must be an object"]})
    details: dict[str, list[str]] = {}
    _collect(_VALIDATOR.iter_errors(body), path, details)
    if details:
        raise BodyError(details)
    return body


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
