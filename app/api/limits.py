"""Limits on the shape of an operation (depth, aliases, introspection), as validation rules.

Each rule measures every fragment once, in the order of app.api.fragments, so it takes time
linear in the document: strawberry's own depth and alias limiters walk a fragment again for each
of its spreads, and a chain of twenty fragments each spreading the next twice held the event
loop for seconds. Every refusal here says LIMIT_EXCEEDED, like the cost budget and the token
limit."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from functools import cache
from typing import Any

from graphql import (
    ASTValidationRule,
    FieldNode,
    FragmentSpreadNode,
    GraphQLError,
    InlineFragmentNode,
    OperationDefinitionNode,
    SelectionSetNode,
    ValidationContext,
    ValidationRule,
)
from graphql.validation import MaxIntrospectionDepthRule, specified_rules
from strawberry.extensions import SchemaExtension

from .fragments import in_order

LIMIT_EXCEEDED = {"code": "LIMIT_EXCEEDED"}


@dataclass(frozen=True)
class OperationLimits:
    max_depth: int = 12
    max_aliases: int = 30
    max_tokens: int = 4_000


class NonEmptySelectionSets(ValidationRule):
    """The GraphQL grammar asks for at least one selection between braces."""

    def enter_selection_set(self, node: SelectionSetNode, *_args: Any) -> None:
        if not node.selections:
            self.report_error(
                GraphQLError("A selection set must name at least one field.", nodes=[node])
            )


def _shape(selection_set: SelectionSetNode, known: dict[str, tuple[int, int]]) -> tuple[int, int]:
    """(depth, aliases) of a selection set, fragments read from `known`. Depth counts the
    fields that have selections, as strawberry's limiter did; introspection fields do not count
    (MaxIntrospectionDepthRule and the cost budget bound them)."""
    depth = aliases = 0
    stack: list[tuple[SelectionSetNode, int]] = [(selection_set, 0)]
    while stack:
        current, level = stack.pop()
        for selection in current.selections:
            if isinstance(selection, FieldNode):
                aliases += selection.alias is not None
                if selection.selection_set and not selection.name.value.startswith("__"):
                    depth = max(depth, level + 1)
                    stack.append((selection.selection_set, level + 1))
            elif isinstance(selection, InlineFragmentNode):
                stack.append((selection.selection_set, level))
            elif isinstance(selection, FragmentSpreadNode):
                below, inner = known.get(selection.name.value, (0, 0))
                depth = max(depth, level + below)
                aliases += inner
    return depth, aliases


def _operations(context: ValidationContext) -> Iterator[OperationDefinitionNode]:
    for definition in context.document.definitions:
        if isinstance(definition, OperationDefinitionNode):
            yield definition


@cache
def shape_rule(limits: OperationLimits) -> type[ASTValidationRule]:
    """One rule class per set of limits, made once: the validation cache keys on the rules."""

    class OperationShape(ValidationRule):
        def __init__(self, context: ValidationContext) -> None:
            super().__init__(context)
            known: dict[str, tuple[int, int]] = {}
            for fragment in in_order(context.document):
                known[fragment.name.value] = _shape(fragment.selection_set, known)
            for operation in _operations(context):
                depth, aliases = _shape(operation.selection_set, known)
                name = operation.name.value if operation.name else "anonymous"
                if depth > limits.max_depth:
                    self.refuse(
                        f"'{name}' exceeds maximum operation depth of {limits.max_depth}",
                        operation,
                    )
                if aliases > limits.max_aliases:
                    self.refuse(
                        f"{aliases} aliases found. Allowed: {limits.max_aliases}", operation
                    )

        def refuse(self, message: str, node: OperationDefinitionNode) -> None:
            self.report_error(GraphQLError(message, nodes=[node], extensions=LIMIT_EXCEEDED))

    return OperationShape


class IntrospectionDepth(MaxIntrospectionDepthRule):
    """graphql-core's guard against nested introspection, saying LIMIT_EXCEEDED like our own."""

    def report_error(self, error: GraphQLError) -> None:
        super().report_error(
            GraphQLError(error.message, nodes=error.nodes, extensions=LIMIT_EXCEEDED)
        )


@cache
def validation_rules(limits: OperationLimits) -> tuple[type[ASTValidationRule], ...]:
    """graphql-core's rules with its introspection guard relabelled, and ours."""
    return (
        *(IntrospectionDepth if r is MaxIntrospectionDepthRule else r for r in specified_rules),
        NonEmptySelectionSets,
        shape_rule(limits),
    )


class OperationRules(SchemaExtension):
    """Validates with the rules above instead of graphql-core's defaults."""

    def __init__(self, limits: OperationLimits) -> None:
        self.rules = validation_rules(limits)

    def on_operation(self) -> Iterator[None]:
        self.execution_context.validation_rules = self.rules
        yield
