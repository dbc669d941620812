"""Counts each GraphQL operation as it ends: by type, root field and code, its latency, the
commands it ran, the refusals it met, and the subscriptions it holds open.

It comes first among the schema's extensions, so it ends last and sees the errors as the
client gets them, each already given its code."""

from __future__ import annotations

import time
from collections.abc import Iterator
from functools import cache
from typing import Any

from graphql import FieldNode, GraphQLSchema, OperationDefinitionNode, get_operation_ast
from strawberry.extensions import SchemaExtension
from strawberry.types import ExecutionContext
from strawberry.types.graphql import OperationType

from app import metrics
from app.errors import HeraldError

# The contract's codes, and the one a masked unexpected error gets (app.api.errors).
CODES = frozenset({e.code for e in HeraldError.__subclasses__()} | {"INTERNAL_SERVER_ERROR"})
UNKNOWN = "unknown"  # a document that does not parse, or names no field of the schema
MULTIPLE = "multiple"  # several root fields in one operation
INTROSPECTION = "introspection"


class SubscriptionsHere:
    """Subscriptions open in this process (the gauge may sum several workers)."""

    count = 0


@cache
def _root_fields(schema: GraphQLSchema) -> dict[str, frozenset[str]]:
    roots = {
        "query": schema.query_type,
        "mutation": schema.mutation_type,
        "subscription": schema.subscription_type,
    }
    return {kind: frozenset(t.fields) if t else frozenset() for kind, t in roots.items()}


def _operation_node(context: ExecutionContext) -> OperationDefinitionNode | None:
    document = context.graphql_document
    return None if document is None else get_operation_ast(document, context.operation_name)


def operation_of(context: ExecutionContext) -> tuple[str, str]:
    """(type, operation) for the labels: the operation's kind and its one root field."""
    node = _operation_node(context)
    if node is None:
        return UNKNOWN, UNKNOWN
    kind = node.operation.value
    names = {
        s.name.value
        for s in node.selection_set.selections
        if isinstance(s, FieldNode) and s.name.value != "__typename"
    }
    if not names:
        return kind, UNKNOWN
    if all(name.startswith("__") for name in names):
        return kind, INTROSPECTION
    if len(names) > 1:
        return kind, MULTIPLE
    name = names.pop()
    known = _root_fields(context.schema._schema).get(kind, frozenset())
    return kind, name if name in known else UNKNOWN


@cache
def _answered(kind: str, operation: str, code: str) -> tuple[Any, Any]:
    """The two series an answered operation moves, looked up once (the labels are few)."""
    return metrics.OPERATIONS.labels(kind, operation, code), metrics.LATENCY.labels(kind, operation)


def code_of(error: Any) -> str:
    code = (getattr(error, "extensions", None) or {}).get("code")
    return code if code in CODES else "OTHER"


class Measured(SchemaExtension):
    def on_operation(self) -> Iterator[None]:
        started = time.perf_counter()
        self._subscribed = False
        try:
            yield
        finally:
            if self._subscribed:
                SubscriptionsHere.count -= 1
                metrics.SUBSCRIPTIONS.dec()
        self._count(time.perf_counter() - started)

    def on_execute(self) -> Iterator[None]:
        if self.execution_context.operation_type is OperationType.SUBSCRIPTION:
            # Counted as it starts: it ends by being cancelled, and then nothing is counted.
            self._subscribed = True
            SubscriptionsHere.count += 1
            metrics.SUBSCRIPTIONS.inc()
            metrics.OPERATIONS.labels(
                "subscription", operation_of(self.execution_context)[1], "OK"
            ).inc()
        yield

    def _count(self, seconds: float) -> None:
        context = self.execution_context
        kind, operation = operation_of(context)
        result = context.result
        errors = list(getattr(result, "errors", None) or ())
        codes = [code_of(e) for e in errors]
        if not self._subscribed:
            count, latency = _answered(kind, operation, codes[0] if codes else "OK")
            count.inc()
            latency.observe(seconds)
        for code in codes:
            metrics.ERRORS.labels(operation, code).inc()
        for error, code in zip(errors, codes, strict=True):
            if code == "LIMIT_EXCEEDED":
                # A rate's refusal says when to retry; a limit on the operation's size does not.
                retry = (getattr(error, "extensions", None) or {}).get("retryAfter")
                metrics.refused("rate" if retry is not None else "cost")
        if kind == "mutation":
            self._commands(context, getattr(result, "data", None) or {}, errors, codes)

    def _commands(
        self, context: ExecutionContext, data: dict[str, Any], errors: list[Any], codes: list[str]
    ) -> None:
        """Each mutation field that ran: it answered (OK) or failed with a path of its own. A
        field after a failed one may not have run at all; it is not counted."""
        node = _operation_node(context)
        assert node is not None
        known = _root_fields(context.schema._schema)["mutation"]
        failed: dict[str, str] = {}
        for error, code in zip(errors, codes, strict=True):
            path = getattr(error, "path", None)
            if path:
                failed.setdefault(str(path[0]), code)
        for selection in node.selection_set.selections:
            if isinstance(selection, FieldNode) and selection.name.value in known:
                key = selection.alias.value if selection.alias else selection.name.value
                if key in failed or key in data:
                    metrics.COMMANDS.labels(selection.name.value, failed.get(key, "OK")).inc()
