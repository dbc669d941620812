"""What GraphQL over SSE puts on the wire, in both of graphql-sse's modes: an operation read
from a request, its results as `next` and `complete` events, refusals as typed errors."""

from __future__ import annotations

import json
from collections.abc import AsyncGenerator, AsyncIterator
from contextlib import aclosing
from dataclasses import dataclass
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, StreamingResponse
from strawberry.http.streaming import merge_stream_with_heartbeat
from strawberry.schema import BaseSchema
from strawberry.types import ExecutionResult
from strawberry.types.graphql import OperationType

from app.errors import HeraldError, ValidationFailed
from app.runtime import Herald

from .context import Context
from .errors import classify
from .persisted import remember, resolve

EVENT_STREAM = "text/event-stream"
HEADERS = {"Cache-Control": "no-cache, no-transform", "X-Accel-Buffering": "no"}
_STATUS = {
    "UNAUTHENTICATED": 401,
    "FORBIDDEN": 403,
    "NOT_FOUND": 404,
    "CONFLICT": 409,
    "LIMIT_EXCEEDED": 429,
}


@dataclass(frozen=True)
class Params:
    query: str | None
    variables: dict[str, Any] | None
    operation_name: str | None
    extensions: dict[str, Any] | None

    @classmethod
    async def of(cls, request: Request) -> Params:
        """The operation of a GET's query string or a POST's JSON body; VALIDATION_FAILED
        for anything else."""
        if request.method == "GET":
            raw: dict[str, Any] = dict(request.query_params)
            for name in ("variables", "extensions"):
                if isinstance(raw.get(name), str):
                    raw[name] = _json(raw[name], name)
        else:
            raw = _json(await request.body(), "body")
        if not isinstance(raw, dict):
            raise ValidationFailed.at("body", "must be a JSON object")
        shapes = {"query": str, "variables": dict, "operationName": str, "extensions": dict}
        for name, shape in shapes.items():
            if raw.get(name) is not None and not isinstance(raw[name], shape):
                raise ValidationFailed.at(name, f"must be a {shape.__name__} or null")
        return cls(
            raw.get("query"), raw.get("variables"), raw.get("operationName"), raw.get("extensions")
        )


def _json(data: str | bytes, name: str) -> Any:
    try:
        return json.loads(data, parse_constant=_not_json)
    except (ValueError, RecursionError):
        raise ValidationFailed.at(name, "is not JSON") from None


def _not_json(constant: str) -> object:
    raise ValueError(f"{constant} is not JSON")


def allowed(request: Request) -> set[OperationType]:
    """As over HTTP: no mutation by GET."""
    if request.method == "GET":
        return {OperationType.QUERY, OperationType.SUBSCRIPTION}
    return {OperationType.QUERY, OperationType.MUTATION, OperationType.SUBSCRIPTION}


async def results(
    schema: BaseSchema, context: Context, params: Params, kinds: set[OperationType]
) -> AsyncGenerator[dict[str, Any], None]:
    """The operation's results, as the schema streams them, each as the wire shows it."""
    herald = context.herald
    query, refusal = await resolve(herald, params.query, params.extensions)
    if refusal is not None:
        yield {"errors": [refusal.formatted]}
        return
    stream = await schema.stream(
        query,
        variable_values=params.variables,
        context_value=context,
        operation_name=params.operation_name,
        operation_extensions=params.extensions,
        allowed_operation_types=kinds,
    )
    first = True
    async with aclosing(stream):
        async for result in stream:
            if not isinstance(result, ExecutionResult):
                yield {"errors": [{"message": "incremental delivery is not served over SSE"}]}
                return
            if first:
                remember(herald, query, params.extensions, result)
                first = False
            yield wire(result)


def wire(result: ExecutionResult) -> dict[str, Any]:
    shown: dict[str, Any] = {"data": result.data}
    if result.errors:
        # Errors before execution escape the schema's extensions: classify them here too.
        shown["errors"] = [classify(error).formatted for error in result.errors]
    if result.extensions:
        shown["extensions"] = result.extensions
    return shown


def refusal(error: HeraldError) -> dict[str, Any]:
    return {"message": str(error), "extensions": error.extensions()}


def event(kind: str, data: object = None) -> str:
    # One line of JSON: graphql-sse, like the EventSource parser, reads one data line an event.
    return f"event: {kind}\ndata: {'' if data is None else json.dumps(data)}\n\n"


def event_stream(herald: Herald, events: AsyncIterator[str]) -> StreamingResponse:
    """The stream with a comment first (some browsers wait for a byte before they open it)
    and another every keep-alive interval, so idle proxies do not close it."""

    async def opened() -> AsyncGenerator[str, None]:
        yield ":\n\n"
        async for chunk in events:
            yield chunk

    merged = merge_stream_with_heartbeat(
        opened,
        lambda: ":\n\n",
        herald.settings.keep_alive_seconds,
        send_initial_heartbeat=False,
    )
    return StreamingResponse(merged(), media_type=f"{EVENT_STREAM}; charset=utf-8", headers=HEADERS)


def refused(error: HeraldError) -> JSONResponse:
    code = str(error.extensions()["code"])
    return JSONResponse({"errors": [refusal(error)]}, status_code=_STATUS.get(code, 400))
