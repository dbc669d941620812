"""Message bodies in the Bird Conversations API shape: validation, plain text and text edits."""

from __future__ import annotations

import copy
import json
from collections.abc import Iterable, Iterator, Mapping
from importlib import resources
from typing import Any

from jsonschema import Draft202012Validator
from jsonschema.exceptions import ValidationError, best_match
from jsonschema.validators import extend

from app.content import BodyError, add_detail, check_bounds, check_format, json_path

_SCHEMA: dict[str, Any] = json.loads(
    resources.files("app").joinpath("bird_body.schema.json").read_text(encoding="utf-8")
)
_DEFS: dict[str, Any] = _SCHEMA["$defs"]
# Body types whose content has an optional free-text `text` field.
_CAPTIONED = frozenset({"text", "html", "image", "gif", "file", "carousel", "list"})


def _resolve(schema: Mapping[str, Any]) -> Mapping[str, Any]:
    ref = schema.get("$ref")
    return _resolve(_DEFS[ref.removeprefix("#/$defs/")]) if isinstance(ref, str) else schema


def _tags(branch: Mapping[str, Any]) -> list[str]:
    tag = _resolve(branch).get("properties", {}).get("type", {})
    return list(_resolve(tag).get("enum", []))


BODY_TYPES: tuple[str, ...] = tuple(sorted(t for b in _resolve(_SCHEMA)["oneOf"] for t in _tags(b)))


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


_VALIDATOR = extend(Draft202012Validator, {"oneOf": _tagged_one_of, "format": check_format})(
    _SCHEMA
)


def _collect(errors: Iterable[ValidationError], path: str, out: dict[str, list[str]]) -> None:
    for error in errors:
        where = json_path(path, error.absolute_path)
        if error.validator in ("oneOf", "anyOf") and error.context:
            _collect([best_match(error.context)], path, out)
        elif error.validator == "required" and isinstance(error.instance, dict):
            for name in error.validator_value:
                if name not in error.instance:
                    add_detail(out, json_path(where, [name]), "is required")
        elif error.validator == "type":
            kinds = error.validator_value
            kinds = [kinds] if isinstance(kinds, str) else kinds
            add_detail(out, where, "must be " + " or ".join(map(_a, kinds)))
        elif error.validator == "enum":
            add_detail(
                out, where, f"must be one of: {', '.join(sorted(map(str, error.validator_value)))}"
            )
        else:
            add_detail(out, where, error.message)


def _a(kind: str) -> str:
    return kind if kind == "null" else f"an {kind}" if kind[0] in "aeiou" else f"a {kind}"


def validate_body(body: object, path: str = "input.body") -> dict[str, Any]:
    """Return `body` if it is a valid message body, else raise BodyError with per-path details."""
    check_bounds(body, path)
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
