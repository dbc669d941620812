"""The price of an operation, computed from its document and variables before anything runs.

A point is about one object in the answer, one value in the input, or one KiB of content, in the
spirit of the GraphQL cost directive specification (`@cost`, `@listSize`) and GitHub's node
limit: an object costs 1; a content field costs the KiB its largest value could carry; a list
costs its size times its items, the size being the field's `first` (its default when left out;
one past the page limit reads nothing, the resolver refuses it) for connections, whose `edges`
it sizes, and an assumed size for other lists; each input value costs 1; each mutation field
adds the price of a write; introspection a point per eight objects. Where fragments on several
types apply to one object, the dearest type counts. The price list is app.api.prices.

The price is an upper bound, so the budget bounds the size of an answer. Each fragment is
priced once however often it is spread, so pricing takes time linear in the document."""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from math import ceil
from typing import Any

from graphql import (
    BooleanValueNode,
    DocumentNode,
    FieldNode,
    FragmentSpreadNode,
    GraphQLCompositeType,
    GraphQLInterfaceType,
    GraphQLList,
    GraphQLNonNull,
    GraphQLObjectType,
    GraphQLSchema,
    GraphQLType,
    InlineFragmentNode,
    IntValueNode,
    OperationDefinitionNode,
    SchemaMetaFieldDef,
    SelectionSetNode,
    TypeMetaFieldDef,
    VariableNode,
    get_named_type,
    is_composite_type,
)

from .fragments import in_order
from .prices import (
    DEFAULT_LIST,
    INTROSPECTION_OBJECTS,
    LIST_SIZES,
    SIZED,
    SLICED,
    WEIGHTS,
    WRITE,
    input_points,
    introspection_sizes,
)

_NESTING = 64  # deeper than any valid document; a guard for the recursion below


class Unpriceable(Exception):
    """The document nests deeper than any that validation lets through."""


@dataclass(frozen=True)
class Price:
    """`requested`: the most the operation can cost. `floor`: what it costs whatever it finds
    (its input and its writes); the rest depends on how much it answers."""

    requested: int
    floor: int


@dataclass(frozen=True)
class Cost:
    """`fixed`, plus `per_item` for each item of the connection this selection belongs to."""

    fixed: int = 0
    per_item: int = 0

    def __add__(self, other: Cost) -> Cost:
        return Cost(self.fixed + other.fixed, self.per_item + other.per_item)

    def most(self, other: Cost) -> Cost:
        return Cost(max(self.fixed, other.fixed), max(self.per_item, other.per_item))


class Pricer:
    def __init__(self, schema: GraphQLSchema) -> None:
        self.schema = schema
        self.lists = {**LIST_SIZES, **introspection_sizes(schema)}

    def price(
        self, document: DocumentNode, operation_name: str | None, variables: dict[str, Any]
    ) -> Price:
        operations = [d for d in document.definitions if isinstance(d, OperationDefinitionNode)]
        chosen = [o for o in operations if (o.name and o.name.value) == operation_name]
        operation = chosen[0] if chosen else operations[0] if len(operations) == 1 else None
        root = None if operation is None else self.schema.get_root_type(operation.operation)
        given = input_points(variables) - 1  # the variables' own object is free
        if operation is None or root is None:
            return Price(given, given)  # graphql-core answers that no operation was chosen
        walk = _Walk(self, variables)
        for fragment in in_order(document):
            condition = self.schema.get_type(fragment.type_condition.name.value)
            if is_composite_type(condition):
                walk.fragments[fragment.name.value] = (
                    condition.name,
                    walk.selections(fragment.selection_set, condition, 0),
                )
        cost = walk.selections(operation.selection_set, root, 0)
        return Price(cost.fixed + given, walk.writes * WRITE + given)


class _Walk:
    def __init__(self, pricer: Pricer, variables: dict[str, Any]) -> None:
        self.schema = pricer.schema
        self.lists = pricer.lists
        self.variables = variables
        self.fragments: dict[str, tuple[str, Cost]] = {}
        self.writes = 0

    def selections(
        self, selection_set: SelectionSetNode, parent: GraphQLCompositeType, nesting: int
    ) -> Cost:
        if nesting > _NESTING:
            raise Unpriceable
        always = Cost()
        narrowed: dict[str, Cost] = {}
        # Inline fragments are flattened here rather than recursed into: they may nest deeply.
        work: list[tuple[SelectionSetNode, GraphQLCompositeType, str | None]] = [
            (selection_set, parent, None)
        ]
        while work:
            current, kind, group = work.pop()
            for selection in current.selections:
                if not self.included(selection):
                    continue
                where = group
                if isinstance(selection, FieldNode):
                    cost = self.field(selection, kind, nesting)
                elif isinstance(selection, InlineFragmentNode):
                    condition = selection.type_condition
                    target = self.schema.get_type(condition.name.value) if condition else kind
                    if is_composite_type(target):
                        narrow = self.narrowing(parent, target)
                        work.append((selection.selection_set, target, narrow or group))
                    continue
                elif isinstance(selection, FragmentSpreadNode):
                    name, cost = self.fragments.get(selection.name.value, (kind.name, Cost()))
                    target = self.schema.get_type(name)
                    if is_composite_type(target):
                        where = self.narrowing(parent, target) or group
                else:
                    continue
                if where is None:
                    always = always + cost
                else:
                    narrowed[where] = narrowed.get(where, Cost()) + cost
        dearest = Cost()
        for cost in narrowed.values():
            dearest = dearest.most(cost)
        return always + dearest

    def narrowing(self, parent: GraphQLCompositeType, target: GraphQLCompositeType) -> str | None:
        """A fragment on one concrete type of an abstract parent applies to some objects only;
        fragments on the parent itself, or on an abstract type, count for every object."""
        if target.name == parent.name or not isinstance(target, GraphQLObjectType):
            return None
        return target.name if not isinstance(parent, GraphQLObjectType) else None

    def field(self, node: FieldNode, parent: GraphQLCompositeType, nesting: int) -> Cost:
        name = node.name.value
        if name == "__typename":
            return Cost()
        if name in ("__schema", "__type") and parent is self.schema.query_type:
            meta = get_named_type(
                (SchemaMetaFieldDef if name == "__schema" else TypeMetaFieldDef).type
            )
            if node.selection_set is None or not isinstance(meta, GraphQLObjectType):
                return Cost()
            inner = self.selections(node.selection_set, meta, nesting + 1)
            return Cost(ceil((1 + inner.fixed) / INTROSPECTION_OBJECTS))
        if isinstance(parent, GraphQLObjectType | GraphQLInterfaceType):
            found = parent.fields.get(name)
            if found is None:
                return Cost()
            definition = found
        else:
            return Cost()
        key = f"{parent.name}.{name}"
        weight = WEIGHTS.get(key, 0)
        if parent is self.schema.mutation_type:
            weight += WRITE
            self.writes += 1
        named = get_named_type(definition.type)
        child = Cost()
        if is_composite_type(named) and node.selection_set is not None:
            child = self.selections(node.selection_set, named, nesting + 1)
        each = (1 + child.fixed) if is_composite_type(named) else 0
        if key in SLICED:
            cap, default = SLICED[key]
            size = self.first(node, default)
            size = size if 0 <= size <= cap else 0  # refused by the resolver, reading nothing
            return Cost(weight + each + size * child.per_item)
        if _is_list(definition.type):
            # The field's weight once, each item its object and what it selects.
            item = each + DEFAULT_LIST * child.per_item
            if key in SIZED:
                return Cost(weight, item)
            return Cost(weight + self.lists.get(key, DEFAULT_LIST) * item)
        return Cost(weight + each + DEFAULT_LIST * child.per_item)

    def first(self, node: FieldNode, default: int) -> int:
        for argument in node.arguments or ():
            if argument.name.value != "first":
                continue
            value = self.value(argument.value)
            return value if isinstance(value, int) and not isinstance(value, bool) else default
        return default

    def value(self, node: Any) -> object:
        if isinstance(node, VariableNode):
            return self.variables.get(node.name.value)
        if isinstance(node, IntValueNode):
            return int(node.value)
        if isinstance(node, BooleanValueNode):
            return node.value
        return None

    def included(self, selection: Any) -> bool:
        for directive in selection.directives or ():
            name = directive.name.value
            if name not in ("include", "skip"):
                continue
            condition = next((a for a in directive.arguments or () if a.name.value == "if"), None)
            value = self.value(condition.value) if condition else None
            if isinstance(value, bool) and value != (name == "include"):
                return False
        return True


def _is_list(kind: GraphQLType) -> bool:
    while isinstance(kind, GraphQLNonNull):
        kind = kind.of_type
    return isinstance(kind, GraphQLList)


@cache
def pricer(schema: GraphQLSchema) -> Pricer:
    return Pricer(schema)
