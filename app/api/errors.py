"""Error mapping: our typed errors keep their code and extensions, GraphQL's own document and
variable errors get one, and anything unexpected is logged in full and masked for the client."""

from __future__ import annotations

import logging

from graphql.error import GraphQLError
from strawberry.exceptions import MissingQueryError
from strawberry.extensions import MaskErrors
from strawberry.schema.exceptions import CannotGetOperationTypeError, InvalidOperationTypeError

from app.errors import HeraldError

log = logging.getLogger("herald.errors")

_LIMIT_MARKERS = (
    "exceeds maximum operation depth",
    "aliases found",
    "more than",
    "tokens",
    "Validation aborted",  # graphql-core gave up on a document too deep or too faulty to check
)


def classify(error: GraphQLError) -> GraphQLError:
    original = error.original_error
    if isinstance(original, HeraldError):
        return GraphQLError(
            str(original), nodes=error.nodes, path=error.path, extensions=original.extensions()
        )
    if isinstance(original, GraphQLError):
        return classify(original)
    if isinstance(original, InvalidOperationTypeError):
        return GraphQLError(
            "this operation type is not allowed here (subscriptions over WebSocket, queries and "
            "mutations over HTTP)",
            nodes=error.nodes,
            path=error.path,
            extensions={"code": "VALIDATION_FAILED"},
        )
    if isinstance(original, CannotGetOperationTypeError | MissingQueryError):
        # Over HTTP strawberry answers these itself; over a stream they come as errors.
        where = "query" if isinstance(original, MissingQueryError) else "operationName"
        return GraphQLError(
            error.message,
            nodes=error.nodes,
            path=error.path,
            extensions={"code": "VALIDATION_FAILED", "details": {where: [error.message]}},
        )
    if original is None and (error.extensions or {}).get("code"):
        return error  # classified already
    if original is None:
        # The document or its variables are wrong, or a limit was hit before execution.
        message = error.message
        limited = any(marker in message for marker in _LIMIT_MARKERS)
        code = "LIMIT_EXCEEDED" if limited else "VALIDATION_FAILED"
        extensions = {**(error.extensions or {}), "code": code}
        if code == "VALIDATION_FAILED":
            extensions.setdefault("details", {"query": [message]})
        return GraphQLError(message, nodes=error.nodes, path=error.path, extensions=extensions)
    log.error("unexpected error at %s", error.path, exc_info=original)
    return GraphQLError(
        "Unexpected error.",
        nodes=error.nodes,
        path=error.path,
        extensions={"code": "INTERNAL_SERVER_ERROR"},
    )


class HeraldErrors(MaskErrors):
    def _process_errors(self, errors: list[GraphQLError]) -> list[GraphQLError]:
        return [classify(error) for error in errors]
