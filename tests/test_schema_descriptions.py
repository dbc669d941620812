"""Every part of the schema is described for someone exploring it in GraphiQL, and the
descriptions the public contract gives are kept word for word."""

from __future__ import annotations

from pathlib import Path

from graphql import (
    GraphQLSchema,
    build_schema,
    is_enum_type,
    is_input_object_type,
    is_interface_type,
    is_introspection_type,
    is_object_type,
    is_specified_scalar_type,
)

from app.api.schema import build_schema as build_served_schema

CONTRACT = Path(__file__).parents[1] / "tests" / "contract" / "schema.graphql"


def descriptions(schema: GraphQLSchema) -> dict[str, str | None]:
    """Each described part of the schema by its coordinate (Type, Type.field, Type.field(arg),
    Input.field, Enum.VALUE), leaving out GraphQL's own scalars and introspection types."""
    found: dict[str, str | None] = {}
    for name, named in schema.type_map.items():
        if is_introspection_type(named) or is_specified_scalar_type(named):
            continue
        found[name] = named.description
        if is_object_type(named) or is_interface_type(named):
            for field_name, field in named.fields.items():
                found[f"{name}.{field_name}"] = field.description
                for arg_name, arg in field.args.items():
                    found[f"{name}.{field_name}({arg_name}:)"] = arg.description
        elif is_input_object_type(named):
            for field_name, input_field in named.fields.items():
                found[f"{name}.{field_name}"] = input_field.description
        elif is_enum_type(named):
            for value_name, value in named.values.items():
                found[f"{name}.{value_name}"] = value.description
    return found


def undescribed(schema: GraphQLSchema) -> list[str]:
    return sorted(c for c, text in descriptions(schema).items() if text is None or not text.strip())


def served() -> GraphQLSchema:
    return build_schema(build_served_schema().as_str())


def test_the_check_finds_each_kind_of_undescribed_part() -> None:
    schema = build_schema(
        '''
        """Described."""
        type Query {
          """Described."""
          described("""Described.""" id: ID): Kind
          bare(id: ID, """ """ blank: Int): Kind
        }
        enum Kind {
          """Described."""
          ONE
          TWO
        }
        """Described."""
        input Filter {
          kind: Kind
          """Described."""
          size: Int
        }
        scalar Moment
        '''
    )
    assert undescribed(schema) == [
        "Filter.kind",
        "Kind",
        "Kind.TWO",
        "Moment",
        "Query.bare",
        "Query.bare(blank:)",
        "Query.bare(id:)",
    ]


def test_every_type_field_argument_and_enum_value_of_the_schema_is_described() -> None:
    schema = served()
    assert len(descriptions(schema)) > 200  # the walk really reaches into the whole schema
    missing = undescribed(schema)
    assert missing == [], "undescribed in the schema:\n" + "\n".join(missing)


def test_every_description_of_the_contract_is_kept_word_for_word() -> None:
    ours = descriptions(served())
    given = {
        c: text for c, text in descriptions(build_schema(CONTRACT.read_text())).items() if text
    }
    assert len(given) > 20
    changed = {c: (text, ours.get(c)) for c, text in given.items() if ours.get(c) != text}
    assert changed == {}, f"contract descriptions changed (contract, ours): {changed}"
