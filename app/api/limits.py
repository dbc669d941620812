"""Limits on the size of an operation, as validation rules.

strawberry's depth and alias limiters walk the document in their constructors and assume it is
well formed: an empty selection set (`{}`, which graphql-core parses) or a spread of an unknown
fragment makes them crash. Such documents are refused here instead, with a clear message, and
the limiters only see documents they can walk."""

from __future__ import annotations

from typing import Any

from graphql import (
    BREAK,
    ASTValidationRule,
    DocumentNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    GraphQLError,
    SelectionSetNode,
    ValidationContext,
    ValidationRule,
    Visitor,
    visit,
)
from strawberry.extensions import MaxAliasesLimiter, QueryDepthLimiter

MAX_DEPTH = 12
MAX_ALIASES = 30
MAX_TOKENS = 4_000


class NonEmptySelectionSets(ValidationRule):
    """The GraphQL grammar asks for at least one selection between braces."""

    def enter_selection_set(self, node: SelectionSetNode, *_args: Any) -> None:
        if not node.selections:
            self.report_error(
                GraphQLError("A selection set must name at least one field.", nodes=[node])
            )


class _Walkable(Visitor):
    def __init__(self, fragments: set[str]) -> None:
        super().__init__()
        self.fragments = fragments
        self.walkable = True

    def enter_selection_set(self, node: SelectionSetNode, *_args: Any) -> Any:
        if not node.selections:
            self.walkable = False
            return BREAK
        return None

    def enter_fragment_spread(self, node: FragmentSpreadNode, *_args: Any) -> Any:
        if node.name.value not in self.fragments:
            self.walkable = False
            return BREAK
        return None


def _walkable(document: DocumentNode) -> bool:
    fragments = {
        d.name.value for d in document.definitions if isinstance(d, FragmentDefinitionNode)
    }
    visitor = _Walkable(fragments)
    visit(document, visitor)
    return visitor.walkable


def _guarded(limiter: type[ASTValidationRule]) -> type[ASTValidationRule]:
    """The limiter's checks run in its constructor; graphql-core's own rules report what makes
    a document unwalkable (unknown fragments), NonEmptySelectionSets the rest."""

    class Guarded(ValidationRule):
        def __init__(self, context: ValidationContext) -> None:
            super().__init__(context)
            if _walkable(context.document):
                limiter(context)

    Guarded.__name__ = Guarded.__qualname__ = f"Guarded{limiter.__name__}"
    return Guarded


# Made once: new rule classes per request would make every validation a cache miss, since the
# validation cache keys on the rules too.
LIMIT_RULES: list[type[ASTValidationRule]] = [
    NonEmptySelectionSets,
    *(
        _guarded(rule)
        for rule in (
            *QueryDepthLimiter(max_depth=MAX_DEPTH).validation_rules,
            *MaxAliasesLimiter(max_alias_count=MAX_ALIASES).validation_rules,
        )
    ),
]
