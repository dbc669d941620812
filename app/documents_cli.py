"""`herald documents add FILE…` and `herald documents list`: the operator's side of registered
documents. A file is one GraphQL document as clients send it, byte for byte (its SHA-256 is
its name), or an Apollo persisted-query manifest (JSON, `"format":
"apollo-persisted-query-manifest"`) of many. Every document must be valid against the schema;
one that is not stops the command before anything is added."""

from __future__ import annotations

import json
import sys
from pathlib import Path

from graphql import GraphQLError, parse, validate

from app.documents import Documents, sha256_of
from app.runtime import Herald

MANIFEST = "apollo-persisted-query-manifest"


def documents_in(path: Path) -> list[str]:
    text = path.read_text(encoding="utf-8")
    if path.suffix != ".json":
        return [text]
    manifest = json.loads(text)
    if not isinstance(manifest, dict) or manifest.get("format") != MANIFEST:
        raise ValueError(f"{path}: a JSON file must be an {MANIFEST}")
    bodies = []
    for operation in manifest.get("operations", []):
        body = str(operation["body"])
        if operation.get("id", sha256_of(body)) != sha256_of(body):
            raise ValueError(f"{path}: operation {operation['id']} is not the SHA-256 of its body")
        bodies.append(body)
    return bodies


def problems(document: str) -> list[str]:
    from app.api.schema import build_schema

    try:
        errors = validate(build_schema()._schema, parse(document))
    except GraphQLError as error:
        errors = [error]
    return [error.message for error in errors]


def add_documents(paths: list[Path]) -> int:
    found: list[tuple[Path, str]] = []
    failed = False
    for path in paths:
        try:
            documents = documents_in(path)
        except (OSError, ValueError, KeyError, UnicodeDecodeError) as error:
            print(f"{path}: {error}", file=sys.stderr)
            failed = True
            continue
        for document in documents:
            for problem in problems(document):
                print(f"{path}: {problem}", file=sys.stderr)
                failed = True
            found.append((path, document))
    if failed:
        print("nothing was added", file=sys.stderr)
        return 1
    herald = Herald()
    try:
        store = Documents(herald.store.db, herald.settings)
        for path, document in found:
            digest, new = store.add(document)
            print(f"{'added' if new else 'known'} {digest} {path}")
    finally:
        herald.close()
    return 0


def list_documents() -> int:
    from app.commands import open_existing

    herald = open_existing()  # a listing creates no database
    if herald is None:
        return 2
    try:
        for digest in Documents(herald.store.db, herald.settings).hashes():
            print(digest)
    finally:
        herald.close()
    return 0
