"""Extract the Bird message-body schema from the OpenAPI seed into app/bird_body.schema.json.

Rerun after the seed changes:  python scripts/extract_body_schema.py [SEED] [OUTPUT]
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

ROOT_NAME = "channels.messages.body.body"
COMPONENT_PREFIX = "#/components/schemas/"
DEFS_PREFIX = "#/$defs/"
DEFAULT_SEED = Path("/work/shared/seeds/003_b1377a189946a587.txt")
DEFAULT_OUTPUT = Path(__file__).resolve().parent.parent / "app" / "bird_body.schema.json"


def load_openapi(text: str) -> dict[str, Any]:
    # The seed is a Markdown page with the document embedded in it, so decode just that object.
    start = text.index('{"openapi"')
    document, _ = json.JSONDecoder().raw_decode(text, start)
    if not isinstance(document, dict):
        raise ValueError("the embedded OpenAPI document is not an object")
    return document


def referenced_names(node: Any) -> set[str]:
    if isinstance(node, dict):
        names = set()
        for key, value in node.items():
            if key == "$ref" and isinstance(value, str) and value.startswith(COMPONENT_PREFIX):
                names.add(value.removeprefix(COMPONENT_PREFIX))
            else:
                names |= referenced_names(value)
        return names
    if isinstance(node, list):
        return set().union(*(referenced_names(item) for item in node))
    return set()


def reachable(schemas: dict[str, Any], root: str) -> list[str]:
    seen: set[str] = set()
    pending = [root]
    while pending:
        name = pending.pop()
        if name not in seen:
            seen.add(name)
            pending.extend(referenced_names(schemas[name]) - seen)
    return sorted(seen)


def to_json_schema(node: Any) -> Any:
    """Rewrite OpenAPI 3.0 schema dialect into plain JSON Schema 2020-12."""
    if isinstance(node, list):
        return [to_json_schema(item) for item in node]
    if not isinstance(node, dict):
        return node
    # `discriminator` only names the tag property; the oneOf branches already pin `type` with enum.
    # Property names are data, not keywords: a property called `nullable` must survive.
    converted: dict[str, Any] = {
        key: {k: to_json_schema(v) for k, v in value.items()}
        if key == "properties"
        else to_json_schema(value)
        for key, value in node.items()
        if key not in ("discriminator", "nullable")
    }
    if isinstance(converted.get("$ref"), str):
        converted["$ref"] = converted["$ref"].replace(COMPONENT_PREFIX, DEFS_PREFIX, 1)
    if node.get("nullable") is True:
        converted = allow_null(converted)
    return converted


def allow_null(schema: dict[str, Any]) -> dict[str, Any]:
    kind = schema.get("type")
    if isinstance(kind, str) and "$ref" not in schema and "oneOf" not in schema:
        schema = {**schema, "type": [kind, "null"]}
        if isinstance(schema.get("enum"), list) and None not in schema["enum"]:
            schema["enum"] = [*schema["enum"], None]
        return schema
    # Composite schemas cannot just widen `type`, so offer null as a separate alternative.
    return {"anyOf": [schema, {"type": "null"}]}


def build(document: dict[str, Any]) -> dict[str, Any]:
    schemas = document["components"]["schemas"]
    info = document.get("info", {})
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "title": schemas[ROOT_NAME].get("title", "Message Body"),
        "description": "Bird Conversations API message body, extracted from its OpenAPI "
        f"document ({info.get('title')} {info.get('version')}).",
        "$ref": DEFS_PREFIX + ROOT_NAME,
        "$defs": {name: to_json_schema(schemas[name]) for name in reachable(schemas, ROOT_NAME)},
    }


def main(argv: list[str]) -> int:
    seed = Path(argv[1]) if len(argv) > 1 else DEFAULT_SEED
    output = Path(argv[2]) if len(argv) > 2 else DEFAULT_OUTPUT
    schema = build(load_openapi(seed.read_text(encoding="utf-8")))
    output.write_text(json.dumps(schema, indent=2, sort_keys=False) + "\n", encoding="utf-8")
    print(f"wrote {len(schema['$defs'])} definitions to {output}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv))
