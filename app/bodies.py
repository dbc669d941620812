"""Message bodies in the Bird Conversations API shape: validation against the seed's schema,
with per-JSON-path details (their plain text and text edits are app/body_text.py)."""

from __future__ import annotations

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
