"""One schema: the committed file, the code and the live server agree, and keep the contract."""

from __future__ import annotations

from pathlib import Path

from graphql import (
    GraphQLSchema,
    build_client_schema,
    build_schema,
    find_breaking_changes,
    get_introspection_query,
    lexicographic_sort_schema,
    print_schema,
)

from app.api.schema import build_schema as build_served_schema
from tests.conftest import Api

ROOT = Path(__file__).parents[1]
COMMITTED = ROOT / "schema.graphql"
CONTRACT = ROOT / "tests" / "contract" / "schema.graphql"


def committed() -> GraphQLSchema:
    return build_schema(COMMITTED.read_text())


def test_the_committed_schema_is_the_schema_in_the_code() -> None:
    assert COMMITTED.read_text() == build_served_schema().as_str() + "\n"


def test_the_live_server_serves_the_committed_schema(api: Api) -> None:
    introspection = api.ok(get_introspection_query(descriptions=True))
    served = build_client_schema(introspection)  # type: ignore[arg-type]
    assert served.query_type is not None
    assert served.query_type.fields.keys() >= {"message", "messageAt", "messages", "events"}
    # Introspection lists types in its own order, so both are printed sorted.
    assert print_schema(lexicographic_sort_schema(served)) == print_schema(
        lexicographic_sort_schema(committed())
    )


def test_the_schema_keeps_every_part_of_the_public_contract() -> None:
    contract = build_schema(CONTRACT.read_text())
    ours = committed()
    assert find_breaking_changes(contract, ours) == []
    assert find_breaking_changes(contract, build_schema(build_served_schema().as_str())) == []
    # The check sees what is missing: the contract is not kept by a schema without a mutation.
    shrunk = build_schema(COMMITTED.read_text().replace("  redactMessage(", "  erased(", 1))
    assert find_breaking_changes(contract, shrunk) != []
